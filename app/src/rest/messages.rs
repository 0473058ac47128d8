//! `/api/v1/instances/{id}/topics/{name}/messages` (operators and admins read a page of a
//! topic's messages) and `/api/v1/instances/{id}/message-browsing` (admins switch it), through
//! the same service as the page.

use super::extract::{exact, Bearer, JsonBody, PathOf, QueryOf};
use super::openapi::{InstanceId, TopicPath};
use super::problem::{Problem, RestError};
use crate::domain::message_browse::{BrowseInput, LIMIT_MAX};
use crate::domain::test_message::TestMessageInput;
use crate::server::access::{Admin, Operator, Viewer};
use crate::server::{messages, AppState};
use crate::wire::error::AppError;
use crate::wire::messages::{BrowsingState, MessagePage, Written};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// Which messages, and how they are shown.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// One partition; absent: every partition (`newest` and `timestamp` only).
    #[param(value_type = Option<i32>, minimum = 0)]
    pub partition: Option<String>,
    /// Where the read starts: the newest messages (default), a partition's offset, or the
    /// first message at or after a time.
    #[param(value_type = Option<String>, pattern = "^(newest|offset|timestamp)$")]
    pub from: Option<String>,
    /// For `offset`: the offset (0 or more); for `timestamp`: RFC 3339 or Unix milliseconds,
    /// not in the future.
    pub at: Option<String>,
    /// Messages at most, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// How keys, values and headers are shown (default text).
    #[param(value_type = Option<String>, pattern = "^(text|json|hex)$")]
    pub format: Option<String>,
    /// Only messages whose key contains this text (within the page read).
    pub key: Option<String>,
    /// Only messages whose value contains this text (within the page read).
    pub text: Option<String>,
}

/// A page of the topic's messages: each key, value and header cut at 4 KiB, 1 MiB of record
/// batches read at most. Refused while browsing is off for the instance. Audited (who, topic,
/// range).
#[utoipa::path(get, operation_id = "read_topic_messages", path = "/api/v1/instances/{id}/topics/{name}/messages",
    tag = "topics", params(TopicPath, MessagesQuery),
    responses((status = 200, description = "The page", body = MessagePage),
        (status = 404, description = "No such instance, or no such topic",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Browsing is off for the instance, no cluster answers for \
            it, or a rule the document cannot state refuses the read (an offset without a \
            partition, a time in the future, an offset past the end, a partition the topic \
            lacks), naming the field", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter breaks its rule, named", body = Problem,
            content_type = "application/problem+json")))]
pub async fn read(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, name)): PathOf<(i64, String)>,
    QueryOf(query): QueryOf<MessagesQuery>,
) -> Result<Json<MessagePage>, RestError> {
    // A name with spaces around it names no topic (the page trims what people type).
    exact("topic", &name).map_err(|e| RestError::not_found_for(e, &["topic"]))?;
    let input = BrowseInput {
        topic: name,
        partition: query.partition.unwrap_or_default(),
        from: query.from.unwrap_or_default(),
        at: query.at.unwrap_or_default(),
        limit: query.limit.unwrap_or_default(),
        format: query.format.unwrap_or_default(),
        key: query.key.unwrap_or_default(),
        text: query.text.unwrap_or_default(),
    };
    stated(&input).map_err(RestError::from)?;
    // The rules the document cannot state (an offset needs a partition, a time not in the
    // future, an offset within the partition) are in the way of input it accepts: 409 naming
    // the field; a topic that is not there: 404.
    let page = messages::read(&state, &who, id, &input).await;
    Ok(Json(page.map_err(|e| match e.app_error() {
        Some(AppError::Invalid { field, .. }) if field == "topic" => {
            RestError::not_found_for(e, &["topic"])
        }
        _ => RestError::in_the_way(e),
    })?))
}

/// The parameters' rules the document states (422 naming the field).
fn stated(input: &BrowseInput) -> Result<(), AppError> {
    let one_of = |field: &str, value: &str, allowed: &[&str]| match value.is_empty()
        || allowed.contains(&value)
    {
        true => Ok(()),
        false => Err(AppError::invalid(
            field,
            format!("Choose one of: {}.", allowed.join(", ")),
        )),
    };
    one_of("from", &input.from, &["newest", "offset", "timestamp"])?;
    one_of("format", &input.format, &["text", "json", "hex"])?;
    if !input.limit.is_empty()
        && !input
            .limit
            .parse::<u32>()
            .is_ok_and(|l| (1..=LIMIT_MAX).contains(&l))
    {
        return Err(AppError::invalid(
            "limit",
            format!("Enter how many messages to read, 1 to {LIMIT_MAX}."),
        ));
    }
    if !input.partition.is_empty() && !input.partition.parse::<i32>().is_ok_and(|p| p >= 0) {
        return Err(AppError::invalid(
            "partition",
            "Enter a partition number, 0 or more.",
        ));
    }
    Ok(())
}

/// Whether the instance's messages may be read in the console.
#[utoipa::path(get, operation_id = "get_message_browsing", path = "/api/v1/instances/{id}/message-browsing",
    tag = "topics", params(InstanceId),
    responses((status = 200, description = "The switch and why", body = BrowsingState),
        (status = 404, description = "No such instance", body = Problem,
            content_type = "application/problem+json")))]
pub async fn browsing(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<BrowsingState>, RestError> {
    Ok(Json(messages::browsing(&state, &who, id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowsingSwitch {
    pub enabled: bool,
}

/// Turns message browsing on or off for the instance (admins; audited).
#[utoipa::path(put, operation_id = "set_message_browsing", path = "/api/v1/instances/{id}/message-browsing",
    tag = "topics", params(InstanceId), request_body = BrowsingSwitch,
    responses((status = 200, description = "The switch now", body = BrowsingState),
        (status = 404, description = "No such instance", body = Problem,
            content_type = "application/problem+json")))]
pub async fn set_browsing(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    PathOf(id): PathOf<i64>,
    JsonBody(body): JsonBody<BrowsingSwitch>,
) -> Result<Json<BrowsingState>, RestError> {
    Ok(Json(
        messages::set_browsing(&state, &who, id, body.enabled).await?,
    ))
}

/// A header of a test message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHeader {
    #[schema(min_length = 1, pattern = "^[^:\\n\\r]*[^:\\s][^:\\n\\r]*$")]
    pub name: String,
    #[schema(pattern = "^[^\\n\\r]*$")]
    pub value: String,
}

/// A test message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The partition (default 0).
    #[serde(default, deserialize_with = "super::extract::whole_option")]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub partition: Option<i32>,
    /// Absent or empty: no key. 1 KiB at most (UTF-8).
    pub key: Option<String>,
    /// 16 KiB at most (UTF-8).
    pub value: String,
    /// In order; each name once; 10 at most.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub headers: Vec<NewHeader>,
}

/// Writes one test message to the topic (acks=all; operators; audited).
#[utoipa::path(post, operation_id = "write_test_message", path = "/api/v1/instances/{id}/topics/{name}/messages",
    tag = "topics", params(TopicPath), request_body = NewMessage,
    responses((status = 201, description = "Written: its partition and offset", body = Written),
        (status = 404, description = "No such instance, or no such topic",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No cluster answers for the instance, the partition does \
            not exist, or a rule the document cannot state (a header name twice, sizes in \
            bytes), naming the field", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body breaks a stated rule, named", body = Problem,
            content_type = "application/problem+json")))]
pub async fn write(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, name)): PathOf<(i64, String)>,
    JsonBody(body): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<Written>), RestError> {
    exact("topic", &name).map_err(|e| RestError::not_found_for(e, &["topic"]))?;
    if body.partition.is_some_and(|p| p < 0) {
        return Err(AppError::invalid("partition", "A partition is 0 or more.").into());
    }
    let headers: Vec<String> = body
        .headers
        .iter()
        .map(|h| format!("{}: {}", h.name, h.value))
        .collect();
    let input = TestMessageInput {
        topic: name,
        partition: body.partition.map(|p| p.to_string()).unwrap_or_default(),
        key: body.key.unwrap_or_default(),
        value: body.value,
        headers: headers.join("\n"),
    };
    let written = messages::write_test_message(&state, &who, id, &input).await;
    let written = written.map_err(|e| match e.app_error() {
        Some(AppError::Invalid { field, .. }) if field == "topic" => {
            RestError::not_found_for(e, &["topic"])
        }
        _ => RestError::in_the_way(e),
    })?;
    Ok((StatusCode::CREATED, Json(written)))
}
