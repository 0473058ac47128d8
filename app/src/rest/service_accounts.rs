//! `/api/v1/service-accounts` (admins): the same service as the page.

use super::extract::{Bearer, JsonBody};
use super::problem::RestError;
use crate::server::access::Admin;
use crate::server::{service_accounts, AppState};
use crate::wire::service_accounts::{NewToken, ServiceAccountLine};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
) -> Result<Json<Vec<ServiceAccountLine>>, RestError> {
    Ok(Json(service_accounts::list(&state, &who).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    pub name: String,
    /// viewer, operator or admin.
    pub role: String,
    /// YYYY-MM-DD, the last day it works (UTC); absent: no expiry.
    pub expires: Option<String>,
}

/// 201 with the token (shown this once) and the account's location.
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(new): JsonBody<NewServiceAccount>,
) -> Result<Response, RestError> {
    let token = service_accounts::create(
        &state,
        &who,
        &new.name,
        &new.role,
        new.expires.as_deref().unwrap_or(""),
    )
    .await?;
    let location = format!("/api/v1/service-accounts/{}", token.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(token),
    )
        .into_response())
}

pub async fn rotate(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    Path(id): Path<i64>,
) -> Result<Json<NewToken>, RestError> {
    Ok(Json(service_accounts::rotate(&state, &who, id).await?))
}

/// 204: the token stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    Path(id): Path<i64>,
) -> Result<StatusCode, RestError> {
    service_accounts::revoke(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
