//! `GET /audit.csv`: the audit log (filtered like the page) as CSV, with each entry's hashes
//! so that the export itself can be checked. Admins only.

use super::{auth, store, AppState};
use crate::api::audit::filter;
use crate::api::error::AppError;
use crate::domain::account::Role;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

fn refused(error: AppError) -> Response {
    let status = super::error::status_of(&error);
    (status, error.to_string()).into_response()
}

pub async fn audit_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ExportQuery>,
) -> Response {
    match auth::session_user(&state, &session).await {
        Ok(Some(user)) if user.role() == Role::Admin && !user.must_change_password => {}
        Ok(Some(_)) => {
            return refused(AppError::Forbidden(
                "The audit log is for administrators.".into(),
            ))
        }
        Ok(None) => return refused(AppError::Unauthenticated),
        Err(error) => return refused(error.into_app_error()),
    }
    let filter = match filter::parse(&query.actor, &query.action, &query.from, &query.until) {
        Ok(filter) => filter,
        Err(error) => return refused(error),
    };
    let rows = match store::audit::export(&state.pool, &filter).await {
        Ok(rows) => rows,
        Err(error) => return refused(super::ServerError::from(error).into_app_error()),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &rows {
        if let Err(error) = writer.serialize(row) {
            return refused(super::ServerError::Other(format!("csv: {error}")).into_app_error());
        }
    }
    let body = match writer.into_inner() {
        Ok(body) => body,
        Err(error) => {
            return refused(super::ServerError::Other(format!("csv: {error}")).into_app_error())
        }
    };
    let name = format!(
        "audit-log-{}.csv",
        crate::components::format::utc_date(state.clock.unix())
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
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
