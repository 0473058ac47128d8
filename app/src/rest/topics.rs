//! `/api/v1/instances/{id}/topics`: an instance's topics on its broker (operators change them).

use super::extract::{exact, whole, whole_option, Bearer, JsonBody, PathOf};
use super::openapi::{InstanceId, TopicPath};
use super::problem::{Problem, RestError};
use super::rules::{Partitions, RetentionHours, TopicName};
use crate::domain::topic;
use crate::server::access::{Operator, Viewer};
use crate::server::{broker_panel, AppState};
use crate::wire::error::AppError;
use crate::wire::kafka::TopicInfo;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// The topics on the instance's broker, with their partitions' offsets.
#[utoipa::path(get, operation_id = "list_topics", path = "/api/v1/instances/{id}/topics", tag = "topics", params(InstanceId),
    responses((status = 200, description = "The topics", body = Vec<TopicInfo>),
        (status = 409, description = "No broker answers for the instance (not running, or the \
            simulated provisioner)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<Vec<TopicInfo>>, RestError> {
    let panel = broker_panel::panel(&state, &who, id).await?;
    if let Some(error) = panel.topics_error {
        return Err(AppError::Conflict(error).into());
    }
    if let Some(note) = panel.note.filter(|_| !panel.real) {
        return Err(AppError::Conflict(note).into());
    }
    Ok(Json(panel.topics))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    #[schema(value_type = TopicName)]
    pub name: String,
    #[serde(deserialize_with = "whole")]
    #[schema(value_type = Partitions)]
    pub partitions: u32,
    /// Hours to keep messages; absent: the cluster's default of 7 days; 0: forever.
    #[serde(default, deserialize_with = "whole_option")]
    #[schema(value_type = Option<RetentionHours>)]
    pub retention_hours: Option<u64>,
}

/// The topic's name and retention, checked as the service checks them (422), so that what
/// it refuses after is the broker's state (409, 404).
fn checked(name: &str, retention: &str) -> Result<(), AppError> {
    topic::parse_name(exact("name", name)?).map_err(|e| AppError::invalid(e.field, e))?;
    topic::parse_retention(retention).map_err(|e| AppError::invalid(e.field, e))?;
    Ok(())
}

fn retention_text(hours: Option<u64>) -> String {
    match hours {
        None => String::new(),
        Some(0) => "forever".into(),
        Some(h) => h.to_string(),
    }
}

/// Creates a topic: 201 with its location.
#[utoipa::path(post, operation_id = "create_topic", path = "/api/v1/instances/{id}/topics", tag = "topics", params(InstanceId),
    request_body = NewTopic,
    responses((status = 201, description = "Created",
        headers(("Location" = String, description = "The topic's URL"))),
        (status = 409, description = "The instance is not running, its broker does not answer, \
            or a topic has this name already", body = Problem,
            content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
    JsonBody(topic): JsonBody<NewTopic>,
) -> Result<Response, RestError> {
    let partitions = topic.partitions.to_string();
    let retention = retention_text(topic.retention_hours);
    checked(&topic.name, &retention)?;
    topic::parse_partitions(&partitions).map_err(|e| AppError::invalid(e.field, e))?;
    broker_panel::create_topic(&state, &who, id, &topic.name, &partitions, &retention)
        .await
        .map_err(RestError::in_the_way)?;
    let location = format!("/api/v1/instances/{id}/topics/{}", topic.name);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(deserialize_with = "whole")]
    #[schema(value_type = RetentionHours)]
    pub retention_hours: u64,
}

/// Sets how long the topic keeps messages.
#[utoipa::path(patch, operation_id = "set_topic_retention", path = "/api/v1/instances/{id}/topics/{name}", tag = "topics",
    params(TopicPath), request_body = Retention,
    responses((status = 204, description = "Set"),
        (status = 404, description = "No such instance, or no such topic on its broker",
            body = Problem, content_type = "application/problem+json")))]
pub async fn set_retention(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, name)): PathOf<(i64, String)>,
    JsonBody(body): JsonBody<Retention>,
) -> Result<StatusCode, RestError> {
    let retention = retention_text(Some(body.retention_hours));
    checked(&name, &retention)?;
    broker_panel::set_retention(&state, &who, id, &name, &retention)
        .await
        .map_err(|e| RestError::not_found_for(e, &["topic"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the topic: 204, the topic and its messages are gone.
#[utoipa::path(delete, operation_id = "delete_topic", path = "/api/v1/instances/{id}/topics/{name}", tag = "topics",
    params(TopicPath), responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such instance, or no such topic on its broker",
            body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, name)): PathOf<(i64, String)>,
) -> Result<StatusCode, RestError> {
    checked(&name, "")?;
    broker_panel::delete_topic(&state, &who, id, &name, &name)
        .await
        .map_err(|e| RestError::not_found_for(e, &["topic"]))?;
    Ok(StatusCode::NO_CONTENT)
}
