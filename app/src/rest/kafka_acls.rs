//! `/api/v1/instances/{id}/acls` and `/api/v1/instances/{id}/kafka-users/{username}/acls`: the
//! users' access rules, through the same service as the Kafka panel (operators change them;
//! each change audited; the cluster made to match at once).

use super::extract::{Bearer, JsonBody, PathOf};
use super::openapi::{AclPath, InstanceId, KafkaUserPath};
use super::problem::{Problem, RestError};
use crate::domain::kafka_acl::{
    AclInput, Operation, Pattern, Permission, Preset, PresetInput, ResourceType,
};
use crate::server::access::{Operator, Viewer};
use crate::server::{kafka_acls, AppState};
use crate::wire::acls::{AclChange, KafkaAclView};
use crate::wire::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Every access rule of the instance, by user.
#[utoipa::path(get, operation_id = "list_kafka_acls", path = "/api/v1/instances/{id}/acls",
    tag = "kafka users", params(InstanceId),
    responses((status = 200, description = "The rules", body = Vec<KafkaAclView>),
        (status = 409, description = "The instance has no users (anonymous clients), or is deleted",
            body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<Vec<KafkaAclView>>, RestError> {
    Ok(Json(kafka_acls::of_instance(&state, &who, id).await?))
}

/// Adds one rule to the user: 201 with the rule and whether the cluster has it yet.
#[utoipa::path(post, operation_id = "create_kafka_acl",
    path = "/api/v1/instances/{id}/kafka-users/{username}/acls",
    tag = "kafka users", params(KafkaUserPath), request_body = NewAcl,
    responses((status = 201, description = "Added", body = AclChange),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user has this rule already, or as many as it may; or the \
            instance has no users", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
    JsonBody(rule): JsonBody<NewAcl>,
) -> Result<Response, RestError> {
    // The document's rules (422, naming the field); what the service refuses after (an
    // operation Kafka never checks on the type, a right over the cluster, a host that is not
    // an address, the user's or the instance's state) is in the way (404, 409).
    let input = rule.checked()?;
    let done = kafka_acls::add(&state, &who, id, &username, &input)
        .await
        .map_err(RestError::in_the_way)?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// Adds a preset's rules to the user (those it has already are left as they are): 201 with
/// the rules made.
#[utoipa::path(post, operation_id = "create_kafka_acl_preset",
    path = "/api/v1/instances/{id}/kafka-users/{username}/acl-presets",
    tag = "kafka users", params(KafkaUserPath), request_body = NewPreset,
    responses((status = 201, description = "Added", body = AclChange),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
pub async fn preset(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
    JsonBody(preset): JsonBody<NewPreset>,
) -> Result<Response, RestError> {
    let input = preset.checked()?;
    let done = kafka_acls::add_preset(&state, &who, id, &username, &input)
        .await
        .map_err(RestError::in_the_way)?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// Removes one rule: 204.
#[utoipa::path(delete, operation_id = "delete_kafka_acl",
    path = "/api/v1/instances/{id}/acls/{acl_id}",
    tag = "kafka users", params(AclPath),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such rule", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, acl_id)): PathOf<(i64, i64)>,
) -> Result<StatusCode, RestError> {
    kafka_acls::remove(&state, &who, id, acl_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A resource name as the document states it: `*`, or 1 to 249 of Kafka's topic-name
/// characters.
const NAME_PATTERN: &str = r"^(\*|[A-Za-z0-9._-]{1,249})$";

fn name_ok(name: &str) -> bool {
    name == "*"
        || (!name.is_empty()
            && name.len() <= 249
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
}

fn invalid(field: &str, message: &str) -> RestError {
    AppError::invalid(field, message).into()
}

fn one_of<T>(
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<(), RestError> {
    match value {
        Some(v) if parse(v).is_none() => Err(invalid(
            field,
            &format!("{v:?} is not one of the values of {field}."),
        )),
        _ => Ok(()),
    }
}

/// One access rule, as the REST API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAcl {
    #[schema(value_type = ResourceType)]
    pub resource_type: String,
    /// The topic, group or transactional id, a prefix of it, or `*` for all (literal only);
    /// leave out for the cluster.
    #[schema(pattern = r"^(\*|[A-Za-z0-9._-]{1,249})$")]
    pub resource_name: Option<String>,
    /// `literal` when left out.
    #[schema(value_type = Option<Pattern>)]
    pub pattern: Option<String>,
    /// One Kafka checks on the resource type; ALTER, ALTER_CONFIGS, CLUSTER_ACTION and ALL are
    /// never allowed on the cluster (409 naming `operation`).
    #[schema(value_type = Operation)]
    pub operation: String,
    /// `allow` when left out.
    #[schema(value_type = Option<Permission>)]
    pub permission: Option<String>,
    /// `*` (any, when left out) or one IP address (409 naming `host` otherwise).
    pub host: Option<String>,
}

impl NewAcl {
    fn checked(self) -> Result<AclInput, RestError> {
        one_of(
            "resource_type",
            Some(&self.resource_type),
            ResourceType::parse,
        )?;
        one_of("pattern", self.pattern.as_deref(), Pattern::parse)?;
        one_of("operation", Some(&self.operation), Operation::parse)?;
        one_of("permission", self.permission.as_deref(), Permission::parse)?;
        if let Some(name) = self.resource_name.as_deref().filter(|n| !name_ok(n)) {
            return Err(invalid(
                "resource_name",
                &format!("{name:?} does not match {NAME_PATTERN}."),
            ));
        }
        Ok(AclInput {
            resource_type: self.resource_type,
            resource_name: self.resource_name.unwrap_or_default(),
            pattern: self.pattern.unwrap_or_default(),
            operation: self.operation,
            permission: self.permission.unwrap_or_default(),
            host: self.host.unwrap_or_default(),
        })
    }
}

/// A preset's rules for one user, as the REST API takes them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPreset {
    #[schema(value_type = Preset)]
    pub preset: String,
    /// The topic, a prefix of it, or `*` for all.
    #[schema(pattern = r"^(\*|[A-Za-z0-9._-]{1,249})$")]
    pub topic: String,
    #[schema(value_type = Option<Pattern>)]
    pub topic_pattern: Option<String>,
    /// The consumer group (the consume preset needs one: 409 naming `group` otherwise).
    #[schema(pattern = r"^(\*|[A-Za-z0-9._-]{1,249})$")]
    pub group: Option<String>,
    #[schema(value_type = Option<Pattern>)]
    pub group_pattern: Option<String>,
}

impl NewPreset {
    fn checked(self) -> Result<PresetInput, RestError> {
        one_of("preset", Some(&self.preset), Preset::parse)?;
        one_of(
            "topic_pattern",
            self.topic_pattern.as_deref(),
            Pattern::parse,
        )?;
        one_of(
            "group_pattern",
            self.group_pattern.as_deref(),
            Pattern::parse,
        )?;
        if !name_ok(&self.topic) {
            return Err(invalid(
                "topic",
                &format!("{:?} does not match {NAME_PATTERN}.", self.topic),
            ));
        }
        if let Some(group) = self.group.as_deref().filter(|g| !name_ok(g)) {
            return Err(invalid(
                "group",
                &format!("{group:?} does not match {NAME_PATTERN}."),
            ));
        }
        Ok(PresetInput {
            preset: self.preset,
            topic: self.topic,
            topic_pattern: self.topic_pattern.unwrap_or_default(),
            group: self.group.unwrap_or_default(),
            group_pattern: self.group_pattern.unwrap_or_default(),
        })
    }
}
