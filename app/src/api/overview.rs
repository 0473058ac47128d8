//! The overview page's data.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Viewer};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub license: Option<super::license::LicenseSummary>,
    pub license_banner: super::license::LicenseBanner,
    pub used_aku: u32,
    /// Instances per state (not deleted).
    pub instances_by_state: Vec<(crate::domain::instance::State, u32)>,
    pub recent_operations: Vec<super::instances::RecentOperation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub detail: Option<String>,
}

#[server(prefix = "/api", endpoint = "overview")]
pub async fn overview() -> Result<OverviewData, AppError> {
    use crate::domain::{account::Role, environment};
    use crate::server::{auth, error::respond, store, ServerError};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let env = store::environment::get(&state.pool)
            .await?
            .ok_or_else(|| ServerError::Other("signed in before setup".into()))?;
        let installation_id = state.installation_id.clone();
        let license_now = crate::server::license::now(&state).await?;
        let users_by_role = store::users::count_by_role(&state.pool).await?;
        // The security events are for administrators; others see none here.
        let recent_events = if user.may(Role::Admin) {
            store::audit::recent(&state.pool, 8)
                .await?
                .into_iter()
                .map(|e| AuditLine {
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    outcome: e.outcome,
                    detail: e.detail,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(OverviewData {
            cloud_provider_label: environment::provider_label(&env.cloud_provider).to_string(),
            environment_name: env.display_name,
            cloud_provider: env.cloud_provider,
            region: env.region,
            installation_id,
            set_up_at: env.setup_at,
            users_by_role,
            recent_events,
            license: license_now
                .current
                .as_ref()
                .map(|c| super::license::summary(&c.payload, c.row.signed_by_run_time_key)),
            license_banner: super::license::banner(&license_now),
            used_aku: license_now.used_aku,
            instances_by_state: store::instances::count_by_state(&state.pool).await?,
            recent_operations: store::operations::recent_operations(&state.pool, 8)
                .await?
                .iter()
                .map(|r| super::instances::RecentOperation {
                    instance_id: r.operation.instance_id,
                    instance_name: r.instance_name.clone(),
                    operation: super::instances::convert::operation_line(&r.operation),
                })
                .collect(),
        })
    })
    .await
}
