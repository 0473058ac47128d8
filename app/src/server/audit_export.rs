//! `GET /audit.csv`: the audit log (filtered like the page) as CSV, with each entry's hashes
//! so that the export itself can be checked. Admins only.

use super::download::{attachment, csv_stream, next_cursor, refused, BATCH};
use super::{auth, store, AppState, ServerError};
use crate::wire::error::AppError;
use axum::extract::{Query, State};
use axum::response::Response;
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

pub async fn audit_csv(
    State(state): State<AppState>,
    session: Session,
    caller: auth::Caller,
    Query(query): Query<ExportQuery>,
) -> Response {
    let filter = match allowed_filter(&state, &session, &caller, &query).await {
        Ok(filter) => filter,
        Err(error) => return refused(error),
    };
    let day = crate::format::utc_date(state.clock.unix());
    let pool = state.pool.clone();
    let body = csv_stream(HEADER, move |after: Option<i64>| {
        let (pool, filter) = (pool.clone(), filter.clone());
        async move {
            let rows = store::audit::export(&pool, &filter, after, BATCH).await?;
            let next = next_cursor(&rows, |row| row.id);
            Ok((rows, next))
        }
    });
    attachment(
        "text/csv; charset=utf-8",
        &format!("audit-log-{day}.csv"),
        body,
    )
}

const HEADER: &[&str] = &[
    "id",
    "at",
    "actor",
    "action",
    "target",
    "client_addr",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
];

/// The filter, once the caller is known to be an admin and the filter is valid.
async fn allowed_filter(
    state: &AppState,
    session: &Session,
    caller: &auth::Caller,
    q: &ExportQuery,
) -> Result<store::audit::Filter, AppError> {
    super::access::require_in::<super::access::Admin>(state, session, caller)
        .await
        .map_err(ServerError::into_app_error)?;
    super::audit::filter(&q.actor, &q.action, &q.from, &q.until)
}
