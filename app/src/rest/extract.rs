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
use serde::Deserialize;

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

/// Path parameters whose rejection (an id that is not a number) is a problem response too.
pub struct PathOf<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathOf<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathOf(value)),
            Err(rejection) => Err(AppError::Request(rejection.body_text()).into()),
        }
    }
}

/// A query string whose rejection (an unknown parameter, a number that is not one) is a
/// problem response too.
pub struct QueryOf<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryOf<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryOf(value)),
            Err(rejection) => Err(AppError::Request(rejection.body_text()).into()),
        }
    }
}

/// JSON Schema's integers: `3` and `3.0` alike (JSON does not tell them apart, and some
/// clients and generators send the second). Use as `#[serde(deserialize_with = "whole")]`.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    let number = serde_json::Number::deserialize(deserializer)?;
    let value = number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        })
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number of 0 or more")))?;
    T::try_from(value).map_err(|_| D::Error::custom(format!("{number} is too large")))
}

/// [`whole`] for an optional field (absent or `null`: none).
pub fn whole_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(serde::Deserialize)]
    struct Whole<T: TryFrom<u64>>(#[serde(deserialize_with = "whole")] T);
    Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(v)| v))
}

/// A string input as the API takes it: as it is, never trimmed. The services trim what the
/// pages' forms post; the document states no white space at either end, so that the name a
/// client sent is the name created (and in its `Location`).
pub fn exact<'a>(field: &str, value: &'a str) -> Result<&'a str, AppError> {
    if value.trim() == value {
        Ok(value)
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must not begin or end with white space."),
        ))
    }
}
