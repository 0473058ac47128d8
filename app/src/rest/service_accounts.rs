//! `/api/v1/service-accounts` (admins): the same service as the page.

use super::extract::{exact, Bearer, JsonBody, PathOf};
use super::openapi::AccountId;
use super::problem::{Problem, RestError};
use super::rules::{ExpiryDate, ServiceAccountName};
use crate::domain::account::Role;
use crate::domain::service_account;
use crate::server::access::Admin;
use crate::server::{service_accounts, AppState};
use crate::wire::error::AppError;
use crate::wire::service_accounts::{NewToken, ServiceAccountLine};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Every service account (never a secret).
#[utoipa::path(get, operation_id = "list_service_accounts", path = "/api/v1/service-accounts", tag = "service accounts",
    responses((status = 200, description = "The service accounts", body = Vec<ServiceAccountLine>)))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
) -> Result<Json<Vec<ServiceAccountLine>>, RestError> {
    Ok(Json(service_accounts::list(&state, &who).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    #[schema(value_type = ServiceAccountName)]
    pub name: String,
    #[schema(value_type = Role)]
    pub role: String,
    #[schema(value_type = Option<ExpiryDate>)]
    pub expires: Option<String>,
}

impl NewServiceAccount {
    /// The document's rules, as the service checks them (422), so that what it refuses after
    /// is in the way (409): a name taken, a day passed.
    fn check(&self) -> Result<(), AppError> {
        let name = exact("name", &self.name)?;
        let canonical =
            service_account::parse_name(name).map_err(|e| AppError::invalid("name", e))?;
        if canonical != name {
            return Err(AppError::invalid(
                "name",
                format!("Service account names are lowercase: {canonical}, not {name}."),
            ));
        }
        Role::parse(exact("role", &self.role)?).ok_or_else(|| {
            AppError::invalid("role", "Choose a role: admin, operator or viewer.")
        })?;
        let expires = exact("expires", self.expires.as_deref().unwrap_or(""))?;
        // Whether it is a day at all: whether it has passed is the clock's (409).
        service_account::parse_expiry(expires, i64::MIN)
            .map_err(|e| AppError::invalid("expires", e))?;
        Ok(())
    }
}

/// Creates a service account: 201 with its token (shown this once).
#[utoipa::path(post, operation_id = "create_service_account", path = "/api/v1/service-accounts", tag = "service accounts",
    request_body = NewServiceAccount,
    responses((status = 201, description = "Created; the token is shown this once", body = NewToken,
        headers(("Location" = String, description = "The account's URL"))),
        (status = 409, description = "A service account has this name already, or the expiry \
            day has passed (`field` names which)", body = Problem,
            content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(new): JsonBody<NewServiceAccount>,
) -> Result<Response, RestError> {
    new.check()?;
    let token = service_accounts::create(
        &state,
        &who,
        &new.name,
        &new.role,
        new.expires.as_deref().unwrap_or(""),
    )
    .await
    .map_err(RestError::in_the_way)?;
    let location = format!("/api/v1/service-accounts/{}", token.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(token),
    )
        .into_response())
}

/// A new token for the account; the old one stops working at once.
#[utoipa::path(post, operation_id = "rotate_service_account", path = "/api/v1/service-accounts/{id}/rotate", tag = "service accounts",
    params(AccountId),
    responses((status = 200, description = "The new token, shown this once", body = NewToken)))]
pub async fn rotate(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<NewToken>, RestError> {
    Ok(Json(service_accounts::rotate(&state, &who, id).await?))
}

/// Revokes the account: 204, its token stops working at once.
#[utoipa::path(delete, operation_id = "revoke_service_account", path = "/api/v1/service-accounts/{id}", tag = "service accounts",
    params(AccountId), responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    PathOf(id): PathOf<i64>,
) -> Result<StatusCode, RestError> {
    service_accounts::revoke(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
