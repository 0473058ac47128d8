//! The audit log page (admins only): filter, pages, the chain's state. The CSV export is a
//! plain GET route (`/audit.csv`, `server::audit_export`) so that the browser downloads it.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Whether the hash chain is intact, and where it breaks if not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    pub intact: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub actors: Vec<String>,
    pub actions: Vec<String>,
    pub chain: ChainStatus,
}

#[server(prefix = "/api", endpoint = "audit")]
pub async fn audit_log(
    #[server(default)] actor: String,
    #[server(default)] action: String,
    #[server(default)] from: String,
    #[server(default)] until: String,
    #[server(default)] page: Option<i64>,
) -> Result<AuditPage, AppError> {
    use crate::server::{auth, error::respond, store};
    respond(async move {
        let state = auth::state()?;
        access::require::<Admin>(&state).await?;
        let filter = crate::server::audit::filter(&actor, &action, &from, &until)?;
        let page = page.unwrap_or(1).max(1);
        let (rows, total) = store::audit::search(
            &state.pool,
            &filter,
            PAGE_SIZE,
            (page - 1).saturating_mul(PAGE_SIZE),
        )
        .await?;
        let (actors, actions) = store::audit::actors_and_actions(&state.pool).await?;
        let chain = match store::audit::verify_chain(&state.pool).await? {
            Ok(n) => ChainStatus {
                intact: true,
                message: format!("The hash chain of all {n} entries is intact."),
            },
            Err(broken) => ChainStatus {
                intact: false,
                message: format!("The hash chain is broken: {broken}."),
            },
        };
        Ok(AuditPage {
            entries: rows
                .into_iter()
                .map(|r| AuditEntry {
                    id: r.id,
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    target: r.target,
                    client_addr: r.client_addr,
                    outcome: r.outcome,
                    detail: r.detail,
                })
                .collect(),
            total,
            page,
            pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
            actors,
            actions,
            chain,
        })
    })
    .await
}
