//! The audit log page: a page of entries under a filter, and the state of the hash chain.

use serde::{Deserialize, Serialize};

/// Entries a page shows when no size is asked for.
pub const PAGE_SIZE: u32 = 50;
/// The most entries a page shows.
pub const PAGE_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChainStatus {
    pub intact: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// How many entries match the filter.
    pub total: i64,
    /// The cursor of the next (older) page; absent on the last.
    pub next: Option<String>,
    pub actors: Vec<String>,
    pub actions: Vec<String>,
    pub chain: ChainStatus,
}
