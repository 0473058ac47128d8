//! `/api/v1/instances/{id}/moves`: moves of a nisshi 0.8.1 storage file into a Kafka-cluster
//! instance (#34), through the same service as the page (operators start one; viewers follow
//! its progress). The copy runs in the background and survives a console restart.

use super::extract::{Bearer, JsonBody, PathOf};
use super::openapi::InstanceId;
use super::problem::{Problem, RestError};
use crate::server::access::{Operator, Viewer};
use crate::server::nisshi::moves::{self, MoveRow};
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// A move's source.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMove {
    /// The storage file's name inside the console's import directory (`serve --import-dir`).
    #[schema(example = "orders-instance/storage.db")]
    pub path: String,
}

/// The instance's moves, newest first, with their progress.
#[utoipa::path(get, operation_id = "list_moves", path = "/api/v1/instances/{id}/moves",
    tag = "moves", params(InstanceId),
    responses((status = 200, description = "The moves, newest first", body = Vec<MoveRow>)))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<Vec<MoveRow>>, RestError> {
    Ok(Json(moves::list(&state, &who, id).await?))
}

/// Starts a move of a nisshi storage file into the instance: 202, the copy runs in the
/// background (follow it with the list).
#[utoipa::path(post, operation_id = "start_move", path = "/api/v1/instances/{id}/moves",
    tag = "moves", params(InstanceId), request_body = NewMove,
    responses((status = 202, description = "Started", body = MoveRow),
        (status = 409, description = "The instance is not a running Kafka cluster, or the file \
            cannot be moved (moves off without `--import-dir`, no such file, not a nisshi 0.8.1 \
            storage file), naming the field", body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
    JsonBody(body): JsonBody<NewMove>,
) -> Result<(StatusCode, Json<MoveRow>), RestError> {
    // Any path is input the document accepts: what refuses it (moves off, no such file, not a
    // nisshi 0.8.1 storage file) is the console's state, answered 409 naming `path`.
    let row = moves::start_named(&state, &who, id, &body.path)
        .await
        .map_err(RestError::in_the_way)?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}
