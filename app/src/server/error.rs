//! The server's error: wraps the failures of the layers below, logs internals once with a
//! reference, and becomes an [`AppError`] (a message for people) plus an HTTP status.

use crate::wire::error::AppError;
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    App(#[from] AppError),
    /// A refusal by a rule of the product rather than of the input or of a passing state: the
    /// license (no growth while expired or lapsed, a product key that does not apply), the
    /// quota (not enough AKU left), setup done once. The client sees the `AppError` as is
    /// (often a field error: "needs 12 AKU, 8 left" names `size_aku`); the marker is what
    /// makes `audit::audited_refusal` record it.
    #[error(transparent)]
    Policy(AppError),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    /// A failure below the services (hashing, a CSV writer, a task, the session layer): what
    /// was being done, and the failure itself kept as the source, so that the log has the
    /// whole chain.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Data or state that the code's own rules exclude (no environment after setup, a report
    /// without its link, a ledger total that overflows): a bug or an edited database, named.
    #[error("{0}")]
    Invariant(String),
}

impl ServerError {
    /// A failure below: `context` says what was being done; `source` is kept as the cause.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ServerError {
        ServerError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A state or value the code's rules exclude, described.
    pub fn invariant(what: impl Into<String>) -> ServerError {
        ServerError::Invariant(what.into())
    }

    /// A refusal by the license, the quota or another rule of the product (audited).
    pub fn policy(error: impl Into<AppError>) -> ServerError {
        ServerError::Policy(error.into())
    }

    /// The client's error, when this is a refusal (not an internal failure).
    pub fn app_error(&self) -> Option<&AppError> {
        match self {
            ServerError::App(e) | ServerError::Policy(e) => Some(e),
            _ => None,
        }
    }

    /// The message for the client. Internal failures are logged here, with a short reference
    /// that the message repeats, and their details never leave the server.
    pub fn into_app_error(self) -> AppError {
        match self {
            ServerError::App(e) | ServerError::Policy(e) => e,
            internal => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
                tracing::error!(reference = %reference, error = %causes(&internal), "request failed");
                AppError::Internal(reference)
            }
        }
    }
}

impl From<sqlx::Error> for ServerError {
    /// A unique constraint that a person can run into becomes the field error it means; every
    /// other database error stays internal.
    fn from(error: sqlx::Error) -> Self {
        match unique_violation(&error) {
            Some(refusal) => ServerError::App(refusal),
            None => ServerError::Database(error),
        }
    }
}

/// The unique constraints behind a form's field: (table.column, field, the rule broken). The
/// services check these inside their write transaction first; this mapping is the last word
/// for a check that was missed, so the person still reads which field and why, not a 500.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    (
        "users.username",
        "username",
        "A user with this name exists already; choose another name.",
    ),
    (
        "instances.name",
        "name",
        "An instance with this name exists already; choose another name.",
    ),
    (
        "license_keys.fingerprint",
        "key",
        "This product key is already applied.",
    ),
];

fn unique_violation(error: &sqlx::Error) -> Option<AppError> {
    let database = error.as_database_error()?;
    if !database.is_unique_violation() {
        return None;
    }
    // SQLite: "UNIQUE constraint failed: users.username" (columns joined by ", ").
    let columns = database
        .message()
        .strip_prefix("UNIQUE constraint failed: ")?;
    UNIQUE_FIELDS
        .iter()
        .find(|(column, _, _)| columns.split(", ").any(|c| c == *column))
        .map(|(_, field, rule)| AppError::invalid(field, *rule))
}

/// An error with every cause under it, for the log: "database: error returned from database:
/// (code: 5) database is locked" rather than its first line alone.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        // thiserror's `#[error("…{0}")]` often repeats the cause in the message already.
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

pub fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) | AppError::CrossSite(_) => StatusCode::FORBIDDEN,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Request(_) => StatusCode::BAD_REQUEST,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Runs a server function's body and turns its error into the client's error, setting the
/// response status to match. Every `#[server]` function goes through here.
///
/// A plain form post (JavaScript off; it accepts `text/html`) is answered with a redirect back
/// to the form, the error encoded in the URL by leptos; a status here would replace that
/// redirect, so it is set only for calls from the WASM and from scripts.
pub async fn respond<T>(
    body: impl std::future::Future<Output = Result<T, ServerError>>,
) -> Result<T, AppError> {
    match body.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let app_error = error.into_app_error();
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                if !is_plain_form_post() {
                    response.set_status(status_of(&app_error));
                }
            }
            Err(app_error)
        }
    }
}

fn is_plain_form_post() -> bool {
    super::auth::with_request(|parts| {
        let accept = parts.headers.get(http::header::ACCEPT)?.to_str().ok()?;
        Some(accept.contains("text/html"))
    })
    .flatten()
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the ledger")]
    struct Outer(#[source] std::io::Error);

    #[tokio::test]
    async fn a_unique_name_taken_is_a_field_error_and_other_constraints_stay_internal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = crate::server::db::open(dir.path()).await.expect("open");
        let insert = "INSERT INTO users (username, password_hash, role, created_at)
                      VALUES ('Ada', 'x', 'admin', 0)";
        sqlx::query(insert).execute(&pool).await.expect("first");
        // The same name in another case: the column is NOCASE.
        let again = sqlx::query(&insert.replace("'Ada'", "'ada'"))
            .execute(&pool)
            .await
            .expect_err("second");
        match ServerError::from(again) {
            ServerError::App(AppError::Invalid { field, message }) => {
                assert_eq!(field, "username");
                assert!(message.contains("exists already"), "{message}");
            }
            other => panic!("not a field error: {other:?}"),
        }
        let not_null = sqlx::query("INSERT INTO users (username) VALUES ('bob')")
            .execute(&pool)
            .await
            .expect_err("not null");
        assert!(matches!(
            ServerError::from(not_null),
            ServerError::Database(_)
        ));
    }

    #[test]
    fn the_log_gets_every_cause() {
        let error = Outer(std::io::Error::other("disk I/O error"));
        assert_eq!(causes(&error), "reading the ledger: disk I/O error");
        let repeated = ServerError::Database(sqlx::Error::Protocol("bad frame".into()));
        assert_eq!(
            causes(&repeated),
            "database: encountered unexpected or invalid data: bad frame"
        );
    }
}
