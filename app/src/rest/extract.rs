//! What a REST handler takes from the request: the service account's proof of role (bearer
//! token) and a JSON body whose rejections are problem responses too.

use super::problem::RestError;
use crate::server::access::{self, Authorized, Level};
use crate::server::auth::Caller;
use crate::server::AppState;
use crate::wire::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

/// The request's service account, with at least the role `L`.
pub struct Bearer<L: Level>(pub Authorized<L>);

impl<L: Level> FromRequestParts<AppState> for Bearer<L> {
    type Rejection = RestError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::of(&parts.uri, &parts.extensions);
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(Bearer(
            access::require_bearer::<L>(state, authorization, &caller).await?,
        ))
    }
}

/// A JSON body (`Content-Type: application/json`); unknown fields are refused by the request
/// types themselves (`deny_unknown_fields`), so that a typo is an error, not a default.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(AppError::Request(rejection.body_text()).into()),
        }
    }
}
