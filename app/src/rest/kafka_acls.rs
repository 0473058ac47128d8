//! `/api/v1/instances/{id}/acls` and `/api/v1/instances/{id}/kafka-users/{username}/acls`: the
//! users' access rules, through the same service as the Kafka panel (operators change them;
//! each change audited; the cluster made to match at once).

use super::extract::{Bearer, JsonBody, PathOf};
use super::openapi::{AclPath, InstanceId, KafkaUserPath};
use super::problem::{Problem, RestError};
use crate::domain::kafka_acl::{AclInput, PresetInput};
use crate::server::access::{Operator, Viewer};
use crate::server::{kafka_acls, AppState};
use crate::wire::acls::{AclChange, KafkaAclView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

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
    tag = "kafka users", params(KafkaUserPath), request_body = AclInput,
    responses((status = 201, description = "Added", body = AclChange),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user has this rule already, or as many as it may; or the \
            instance has no users", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
    JsonBody(input): JsonBody<AclInput>,
) -> Result<Response, RestError> {
    let done = kafka_acls::add(&state, &who, id, &username, &input)
        .await
        .map_err(RestError::in_the_way)?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// Adds a preset's rules to the user (those it has already are left as they are): 201 with
/// the rules made.
#[utoipa::path(post, operation_id = "create_kafka_acl_preset",
    path = "/api/v1/instances/{id}/kafka-users/{username}/acl-presets",
    tag = "kafka users", params(KafkaUserPath), request_body = PresetInput,
    responses((status = 201, description = "Added", body = AclChange),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
pub async fn preset(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
    JsonBody(input): JsonBody<PresetInput>,
) -> Result<Response, RestError> {
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
