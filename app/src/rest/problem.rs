//! The REST API's one error shape: RFC 9457 problem details (`application/problem+json`),
//! with the field and the rule when the input is at fault, and never an internal detail (an
//! internal failure carries only the reference of its log line).

use crate::server::error::status_of;
use crate::server::ServerError;
use crate::wire::error::AppError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank`-like, stable per kind).
    #[serde(rename = "type")]
    #[schema(pattern = "^/api/v1/problems/[a-z-]+$")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What happened, for people: the rule broken, the state in the way.
    pub detail: String,
    /// The input field at fault (invalid input, or input in the way of the state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The server log's reference of an internal failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Seconds to wait before trying again (throttled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// 409 for input in the way of the console's state, naming the field.
    pub fn conflict(field: String, detail: String) -> Problem {
        let mut problem = Problem::of(AppError::Conflict(detail));
        problem.field = Some(field);
        problem
    }

    pub fn of(error: AppError) -> Problem {
        let status = status_of(&error);
        let (slug, title) = match &error {
            AppError::Invalid { .. } => ("invalid", "Invalid input"),
            AppError::Unauthenticated => ("unauthenticated", "No valid token"),
            AppError::Forbidden(_) => ("forbidden", "Not allowed"),
            AppError::CrossSite(_) => ("forbidden", "Not allowed"),
            AppError::Conflict(_) => ("conflict", "Conflict with the current state"),
            AppError::NotFound(_) => ("not-found", "Not found"),
            AppError::TooManyAttempts { .. } => ("throttled", "Too many requests"),
            AppError::Request(_) => ("bad-request", "Malformed request"),
            AppError::Internal(_) => ("internal", "Internal error"),
        };
        let (field, reference, retry_after, detail) = match error {
            AppError::Invalid { field, message } => (Some(field), None, None, message),
            AppError::Unauthenticated => (
                None,
                None,
                None,
                "Send a service account's token: Authorization: Bearer <token>. It may be unknown, revoked or expired.".into(),
            ),
            AppError::Internal(reference) => (
                None,
                Some(reference.clone()),
                None,
                format!("The request failed on the server (reference {reference} in its log)."),
            ),
            AppError::TooManyAttempts { message, retry_at } => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let wait = u64::try_from(retry_at.saturating_sub(now)).unwrap_or(0).max(1);
                (None, None, Some(wait), message)
            }
            other => (None, None, None, other.to_string()),
        };
        Problem {
            kind: format!("/api/v1/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            field,
            reference,
            retry_after,
        }
    }
}

/// A handler's error: becomes a problem response (an internal one logged with its reference).
#[derive(Debug)]
pub struct RestError {
    error: ServerError,
    /// An input refusal (422) of input the document accepts: the console's state, license or
    /// configuration is in the way, so it is answered as a conflict (409), naming the field.
    in_the_way: bool,
}

impl<E: Into<ServerError>> From<E> for RestError {
    fn from(error: E) -> Self {
        RestError {
            error: error.into(),
            in_the_way: false,
        }
    }
}

impl RestError {
    /// `error` of a service called with input the handler has checked against every rule the
    /// document states: what it still refuses as input is in the way of that input (a name
    /// taken, the quota, the license, the provisioner, the date), answered 409 with the field.
    pub fn in_the_way(error: impl Into<ServerError>) -> RestError {
        RestError {
            error: error.into(),
            in_the_way: true,
        }
    }

    /// `error`, where a refusal of one of `fields` is answered 404: what they name (a
    /// cursor's position, a topic) is not there.
    pub fn not_found_for(error: impl Into<ServerError>, fields: &[&str]) -> RestError {
        let error = error.into();
        match error.app_error() {
            Some(AppError::Invalid { field, message }) if fields.contains(&field.as_str()) => {
                AppError::NotFound(message.clone()).into()
            }
            _ => error.into(),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        match self.error.into_app_error() {
            AppError::Invalid { field, message } if self.in_the_way => {
                Problem::conflict(field, message).into_response()
            }
            error => Problem::of(error).into_response(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
