//! `GET /audit.csv`: the audit log (filtered like the page) as CSV, with each entry's hashes
//! so that the export itself can be checked. Admins only.

use super::download::{attachment, csv, refused};
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
    match export(&state, &session, &caller, &query).await {
        Ok(body) => {
            let day = crate::format::utc_date(state.clock.unix());
            attachment(
                "text/csv; charset=utf-8",
                &format!("audit-log-{day}.csv"),
                body,
            )
        }
        Err(error) => refused(error),
    }
}

async fn export(
    state: &AppState,
    session: &Session,
    caller: &auth::Caller,
    q: &ExportQuery,
) -> Result<Vec<u8>, AppError> {
    super::access::require_in::<super::access::Admin>(state, session, caller)
        .await
        .map_err(ServerError::into_app_error)?;
    let filter = super::audit::filter(&q.actor, &q.action, &q.from, &q.until)?;
    let rows = store::audit::export(&state.pool, &filter)
        .await
        .map_err(|e| ServerError::from(e).into_app_error())?;
    csv(
        &rows,
        &[
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
        ],
    )
}
