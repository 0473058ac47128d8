//! The audit log page: a page of entries under a filter, and the state of the hash chain.

use serde::{Deserialize, Serialize};

pub const PAGE_SIZE: i64 = 50;

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
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub actors: Vec<String>,
    pub actions: Vec<String>,
    pub chain: ChainStatus,
}
