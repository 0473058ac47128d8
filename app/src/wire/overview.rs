//! What every page's shell and the overview page show: who is signed in, and the
//! environment at a glance.

use crate::wire::instances::RecentOperation;
use crate::wire::license::{LicenseBanner, LicenseSummary};
use serde::{Deserialize, Serialize};

/// Who is signed in, for the shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub username: String,
    pub role: crate::domain::account::Role,
    pub environment_name: String,
    pub license: LicenseBanner,
    /// A temporary password must be changed before anything else.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OverviewData {
    pub environment_name: String,
    pub cloud_provider: String,
    pub cloud_provider_label: String,
    pub region: String,
    pub installation_id: String,
    /// Unix seconds.
    pub set_up_at: i64,
    /// Active users per role, e.g. [("admin", 1)].
    pub users_by_role: Vec<(String, i64)>,
    pub recent_events: Vec<AuditLine>,
    pub license: Option<LicenseSummary>,
    pub license_banner: LicenseBanner,
    pub used_aku: u32,
    /// Instances per state (not deleted).
    pub instances_by_state: Vec<(crate::domain::instance::State, u32)>,
    pub recent_operations: Vec<RecentOperation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditLine {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub detail: Option<String>,
}
