//! `/api/v1/instances/{id}/topics`: an instance's topics on its broker (operators change them).

use super::extract::{Bearer, JsonBody};
use super::problem::RestError;
use crate::server::access::{Operator, Viewer};
use crate::server::{broker_panel, AppState};
use crate::wire::error::AppError;
use crate::wire::kafka::TopicInfo;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    Path(id): Path<i64>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    pub name: String,
    pub partitions: u32,
    /// Hours to keep messages; absent: the broker's 7 days; 0: forever.
    pub retention_hours: Option<u64>,
}

fn retention_text(hours: Option<u64>) -> String {
    match hours {
        None => String::new(),
        Some(0) => "forever".into(),
        Some(h) => h.to_string(),
    }
}

/// 201 with the topic's location.
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    Path(id): Path<i64>,
    JsonBody(topic): JsonBody<NewTopic>,
) -> Result<Response, RestError> {
    broker_panel::create_topic(
        &state,
        &who,
        id,
        &topic.name,
        &topic.partitions.to_string(),
        &retention_text(topic.retention_hours),
    )
    .await?;
    let location = format!("/api/v1/instances/{id}/topics/{}", topic.name);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Hours to keep messages; 0: forever.
    pub retention_hours: u64,
}

pub async fn set_retention(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    Path((id, name)): Path<(i64, String)>,
    JsonBody(body): JsonBody<Retention>,
) -> Result<StatusCode, RestError> {
    let retention = retention_text(Some(body.retention_hours));
    broker_panel::set_retention(&state, &who, id, &name, &retention).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 204: the topic and its messages are gone.
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    Path((id, name)): Path<(i64, String)>,
) -> Result<StatusCode, RestError> {
    broker_panel::delete_topic(&state, &who, id, &name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
