//! A move of a nisshi 0.8.1 storage file into an instance (#34), as the page and the REST API
//! show it.

use serde::{Deserialize, Serialize};

/// A move's progress, as the page and the REST API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MoveView {
    pub id: i64,
    pub instance_id: i64,
    pub source_path: String,
    /// `copying`, `offsets`, `done` or `failed`.
    pub state: String,
    pub messages_total: i64,
    pub bytes_total: i64,
    pub messages_copied: i64,
    pub bytes_copied: i64,
    pub copy_ms: i64,
    pub groups_committed: i64,
    /// SCRAM users of the file: not carried, to be given a new password.
    pub scram_users: String,
    pub last_error: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}
