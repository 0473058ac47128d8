//! `/api/v1/instances/{id}/consumer-groups`: an instance's consumer groups, through the same
//! service as the page (viewers read; operators reset offsets and delete empty groups).

use super::extract::{exact, Bearer, JsonBody, PathOf};
use super::openapi::{GroupPath, InstanceId};
use super::problem::{Problem, RestError};
use super::rules::TopicName;
use crate::domain::group_form::{self, RESET_TO};
use crate::domain::topic;
use crate::server::access::{Operator, Viewer};
use crate::server::consumer_groups::{self, ResetForm};
use crate::server::AppState;
use crate::wire::error::AppError;
use crate::wire::groups::{GroupDetail, GroupSummary, ResetView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// The consumer groups, the largest total lag first.
#[utoipa::path(get, operation_id = "list_consumer_groups", path = "/api/v1/instances/{id}/consumer-groups",
    tag = "consumer groups", params(InstanceId),
    responses((status = 200, description = "The groups, largest total lag first", body = Vec<GroupSummary>),
        (status = 409, description = "No cluster answers for the instance (not running, or the \
            simulated provisioner)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<Vec<GroupSummary>>, RestError> {
    Ok(Json(consumer_groups::list(&state, &who, id).await?))
}

/// One group: its members and, per partition, the committed offset, end offset and lag.
#[utoipa::path(get, operation_id = "get_consumer_group", path = "/api/v1/instances/{id}/consumer-groups/{group}",
    tag = "consumer groups", params(GroupPath),
    responses((status = 200, description = "The group", body = GroupDetail),
        (status = 404, description = "No such instance, or no such group",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No cluster answers for the instance (not running, or the \
            simulated provisioner)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf((id, group)): PathOf<(i64, String)>,
) -> Result<Json<GroupDetail>, RestError> {
    // A group id no group can have (blank, too long, control characters) names none: 404.
    let detail = consumer_groups::detail(&state, &who, id, &group).await;
    Ok(Json(
        detail.map_err(|e| RestError::not_found_for(e, &["group"]))?,
    ))
}

/// Where to move a group's offsets.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetReset {
    /// `earliest`, `latest`, `timestamp`, `offset` or `shift`.
    #[schema(
        pattern = "^(earliest|latest|timestamp|offset|shift)$",
        example = "earliest"
    )]
    pub to: String,
    /// For `timestamp`: Unix milliseconds, not in the future.
    #[serde(default, deserialize_with = "integer")]
    pub timestamp_ms: Option<i64>,
    /// For `offset`: 0 or more (clamped into each partition's offsets).
    #[serde(default, deserialize_with = "integer")]
    pub offset: Option<i64>,
    /// For `shift`: N (negative: back), from the committed offset.
    #[serde(default, deserialize_with = "integer")]
    pub shift: Option<i64>,
    /// One topic; absent: every topic the group has committed to.
    #[schema(value_type = Option<TopicName>)]
    pub topic: Option<String>,
}

/// A whole number, also when written as `-880.0` (JSON Schema's integer).
fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    let Some(n) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18);
    let value = n.as_i64().or_else(|| whole.map(|f| f as i64));
    let value = value.ok_or_else(|| D::Error::custom(format!("{n} is not a whole number")))?;
    Ok(Some(value))
}

impl OffsetReset {
    fn value(&self) -> String {
        let value = match self.to.as_str() {
            "timestamp" => self.timestamp_ms,
            "offset" => self.offset,
            "shift" => self.shift,
            _ => None,
        };
        value.map(|v| v.to_string()).unwrap_or_default()
    }
}

async fn reset(
    state: &AppState,
    who: &crate::server::access::Authorized<Operator>,
    id: i64,
    group: &str,
    body: &OffsetReset,
    apply: bool,
) -> Result<ResetView, RestError> {
    let value = body.value();
    let topic = body.topic.clone().unwrap_or_default();
    let form = ResetForm {
        group,
        to: &body.to,
        value: &value,
        topic: &topic,
    };
    // What the document states is refused as invalid (422): `to`, the group id, the topic's
    // name. The rest (a value `to` needs, a shift of 0, a time in the future, what the
    // cluster's state refuses) is 409, a refusal of another kind.
    if !RESET_TO.contains(&body.to.as_str()) {
        let choices = RESET_TO.join(", ");
        return Err(AppError::invalid("to", format!("to is one of {choices}.")).into());
    }
    group_form::parse_group(group).map_err(|e| AppError::invalid(e.field, e.message))?;
    if let Some(t) = &body.topic {
        topic::parse_name(exact("topic", t)?).map_err(|e| AppError::invalid("topic", e.message))?;
    }
    consumer_groups::parse(state, &form).map_err(RestError::in_the_way)?;
    let done = match apply {
        false => consumer_groups::preview(state, who, id, &form).await,
        true => consumer_groups::apply(state, who, id, &form).await,
    };
    done.map_err(RestError::in_the_way)
}

/// What resetting the group's offsets would do, per partition: the current and new offset
/// and the messages re-read or skipped. Nothing changes.
#[utoipa::path(post, operation_id = "preview_offset_reset", path = "/api/v1/instances/{id}/consumer-groups/{group}/reset-preview",
    tag = "consumer groups", params(GroupPath), request_body = OffsetReset,
    responses((status = 200, description = "The preview", body = ResetView),
        (status = 409, description = "The cluster's state refuses it (a topic the group does not \
            read, a shift without a commit), or no cluster answers", body = Problem,
            content_type = "application/problem+json")))]
pub async fn preview(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, group)): PathOf<(i64, String)>,
    JsonBody(body): JsonBody<OffsetReset>,
) -> Result<Json<ResetView>, RestError> {
    Ok(Json(reset(&state, &who, id, &group, &body, false).await?))
}

/// Resets the group's offsets (previewed again at once, then committed): answers what was
/// committed. Refused (409) while the group has active members. Audited.
#[utoipa::path(post, operation_id = "reset_offsets", path = "/api/v1/instances/{id}/consumer-groups/{group}/reset",
    tag = "consumer groups", params(GroupPath), request_body = OffsetReset,
    responses((status = 200, description = "Committed", body = ResetView),
        (status = 409, description = "The group has active members, or the cluster's state \
            refuses it", body = Problem, content_type = "application/problem+json")))]
pub async fn apply(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, group)): PathOf<(i64, String)>,
    JsonBody(body): JsonBody<OffsetReset>,
) -> Result<Json<ResetView>, RestError> {
    Ok(Json(reset(&state, &who, id, &group, &body, true).await?))
}

/// Deletes an empty group and its committed offsets. Audited.
#[utoipa::path(delete, operation_id = "delete_consumer_group", path = "/api/v1/instances/{id}/consumer-groups/{group}",
    tag = "consumer groups", params(GroupPath),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such instance, or no such group",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The group has active members",
            body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, group)): PathOf<(i64, String)>,
) -> Result<StatusCode, RestError> {
    group_form::parse_group(&group).map_err(|e| AppError::invalid(e.field, e.message))?;
    consumer_groups::delete(&state, &who, id, &group, None)
        .await
        .map_err(RestError::in_the_way)?;
    Ok(StatusCode::NO_CONTENT)
}
