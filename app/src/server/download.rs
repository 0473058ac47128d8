//! Plain GET downloads (the audit log and usage exports): the browser saves the answer as a
//! file, so these are axum handlers rather than server functions. Refusals carry the same
//! status and words as everywhere else.

use crate::wire::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub fn refused(error: AppError) -> Response {
    (super::error::status_of(&error), error.to_string()).into_response()
}

/// `body` as a file named `name`, never cached.
pub fn attachment(content_type: &str, name: &str, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// CSV of `rows`, with a header line of their field names (`header` when there are no rows,
/// so that an empty export still says what it would hold).
pub fn csv<T: serde::Serialize>(rows: &[T], header: &[&str]) -> Result<Vec<u8>, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        writer
            .write_record(header)
            .map_err(|e| super::ServerError::internal("writing the CSV", e).into_app_error())?;
    }
    for row in rows {
        writer
            .serialize(row)
            .map_err(|e| super::ServerError::internal("writing the CSV", e).into_app_error())?;
    }
    writer
        .into_inner()
        .map_err(|e| super::ServerError::internal("writing the CSV", e).into_app_error())
}
