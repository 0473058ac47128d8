//! The audit log page (admins only): filter, pages (newest first, by cursor), the chain's
//! state. The CSV export is a
//! plain GET route (`/audit.csv`, `server::audit_export`) so that the browser downloads it.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin};
use leptos::prelude::*;

pub use crate::wire::audit::*;

#[server(prefix = "/api", endpoint = "audit")]
pub async fn audit_log(
    #[server(default)] actor: String,
    #[server(default)] action: String,
    #[server(default)] from: String,
    #[server(default)] until: String,
    #[server(default)] cursor: Option<String>,
) -> Result<AuditPage, AppError> {
    use crate::server::{audit, auth, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let filter = audit::filter(&actor, &action, &from, &until)?;
        audit::page(&state, &who, &filter, cursor.as_deref(), None).await
    })
    .await
}
