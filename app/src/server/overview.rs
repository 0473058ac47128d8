//! What every page's shell and the overview page read: the session's user with the license
//! banner, and the environment at a glance.

use super::access::{Authorized, SignedIn, Viewer};
use super::instances::view::operation_line;
use super::license::view::{banner, summary};
use super::page_reads::PageReads;
use super::{license, marketplace, shell_reads, store, AppState, ServerError};
use crate::domain::{account::Role, environment};
use crate::wire::instances::RecentOperation;
use crate::wire::overview::{AuditLine, OverviewData, SessionInfo};

/// The signed-in user for the shell, with the environment's name and the license banner
/// (the marketplace subscription's hold included).
pub async fn session(state: &AppState, who: &SignedIn) -> Result<SessionInfo, ServerError> {
    let user = who.user();
    let reads = PageReads::of_render();
    let environment_name = shell_reads::environment(state, reads.as_ref())
        .await?
        .map(|e| e.display_name)
        .unwrap_or_default();
    let now = license::now(state).await?;
    let mut license = banner(&now);
    let billing = now.current.as_ref().map(|c| c.payload.billing);
    license.subscription = marketplace::view::hold_in(state, billing, reads.as_ref()).await?;
    if license.subscription.is_none() {
        license.subscription =
            marketplace::grace::hold_in(state, now.current.as_ref(), reads.as_ref()).await?;
    }
    Ok(SessionInfo {
        must_change_password: user.must_change_password,
        role: user.role(),
        username: user.username.clone(),
        environment_name,
        license,
    })
}

/// The overview page: the environment, users per role, the license, instances per state, the
/// latest operations, and (for administrators only) the latest security events.
pub async fn overview(
    state: &AppState,
    who: &Authorized<Viewer>,
) -> Result<OverviewData, ServerError> {
    let env = shell_reads::environment(state, PageReads::of_render().as_ref())
        .await?
        .ok_or_else(|| ServerError::invariant("signed in before setup"))?;
    let license_now = license::now(state).await?;
    let users_by_role = store::users::count_by_role(&state.pool).await?;
    let recent_events = if who.may(Role::Admin) {
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
    let recent_operations = store::operations::recent_operations(&state.pool, 8)
        .await?
        .iter()
        .map(|r| RecentOperation {
            instance_id: r.operation.instance_id,
            instance_name: r.instance_name.clone(),
            operation: operation_line(&r.operation),
        })
        .collect();
    Ok(OverviewData {
        cloud_provider_label: environment::provider_label(&env.cloud_provider).to_string(),
        environment_name: env.display_name,
        cloud_provider: env.cloud_provider,
        region: env.region,
        installation_id: state.installation_id.clone(),
        set_up_at: env.setup_at,
        users_by_role,
        recent_events,
        license: license_now
            .current
            .as_ref()
            .map(|c| summary(&c.payload, c.row.signed_by_run_time_key)),
        license_banner: banner(&license_now),
        used_aku: license_now.used_aku,
        instances_by_state: license_now.totals.by_state(),
        recent_operations,
    })
}
