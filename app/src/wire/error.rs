//! The one error type that crosses the wire. Every server function returns it; the server maps
//! it to an HTTP status (`server::error`) and the pages show its message, next to the field it
//! names when it names one. Internals never travel: `Internal` carries only a reference that
//! matches the server's log line.

use leptos::server_fn::{codec::JsonEncoding, error::FromServerFnError, ServerFnError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AppError {
    /// Bad input: which field and which rule. Nothing was changed.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// No signed-in session (or it expired).
    #[error("Sign in to continue.")]
    Unauthenticated,
    /// Signed in, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (e.g. setup already done).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// Throttled; `retry_at` is a unix time.
    #[error("{message}")]
    TooManyAttempts { message: String, retry_at: i64 },
    /// A cross-site request was refused.
    #[error("{0}")]
    CrossSite(String),
    /// A failure inside the server; the log has the details under this reference.
    #[error("Something went wrong on the server (reference {0}). Nothing was changed; try again, and if it persists give this reference to your administrator.")]
    Internal(String),
    /// The request could not be sent or decoded (network, bad arguments).
    #[error("{0}")]
    Request(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl ToString) -> Self {
        AppError::Invalid {
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// The message to show next to `field`, if this error is about it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid { field: f, message } if f == field => Some(message.clone()),
            _ => None,
        }
    }

    /// The message for the form as a whole: everything that is not about a single field.
    pub fn general(&self) -> Option<String> {
        match self {
            AppError::Invalid { .. } => None,
            other => Some(other.to_string()),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) => AppError::Request(
                "The form could not be read; reload the page and try again.".into(),
            ),
            E::Request(_) => {
                AppError::Request("The console could not be reached; check the connection.".into())
            }
            other => AppError::Request(other.to_string()),
        }
    }
}

impl From<ServerFnError> for AppError {
    fn from(value: ServerFnError) -> Self {
        AppError::Request(value.to_string())
    }
}

/// Message for a field from an action's latest result, for `view!`.
pub fn field_error<T>(result: &Option<Result<T, AppError>>, field: &str) -> Option<String> {
    match result {
        Some(Err(e)) => e.for_field(field),
        _ => None,
    }
}

/// Form-level message from an action's latest result, for `view!`.
pub fn general_error<T>(result: &Option<Result<T, AppError>>) -> Option<String> {
    match result {
        Some(Err(e)) => e.general(),
        _ => None,
    }
}
