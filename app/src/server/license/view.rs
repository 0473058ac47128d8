//! What the license pages read: activation, the license page with its history, the banner
//! every page shows, and a key's preview, built from the license service's values.

use crate::domain::account::Role;
use crate::domain::license::{BillingModel, KeyChange, LicensePayload};
use crate::server::access::{Admin, Authorized, Viewer};
use crate::server::license::LicenseNow;
use crate::server::store::{self, decode, license::AppliedKeyRow};
use crate::server::{instances, AppState, ServerError};
use crate::wire::license::*;

/// The activation page: the Installation ID, the phase, and whether the caller may activate.
pub async fn activation(
    state: &AppState,
    who: &Authorized<Viewer>,
) -> Result<ActivationView, ServerError> {
    let now = super::now(state).await?;
    Ok(ActivationView {
        installation_id: state.installation_id.clone(),
        phase: now.status.phase,
        can_activate: who.may(Role::Admin),
    })
}

/// The license page: the current license, its state, AKU in use, the keys applied, and the
/// largest instances when over quota (what to scale down).
pub async fn page(state: &AppState, who: &Authorized<Viewer>) -> Result<LicenseData, ServerError> {
    let now = super::now(state).await?;
    let history = store::license::history(&state.pool)
        .await?
        .into_iter()
        .map(history_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let largest_instances = if now.status.over_quota_by.is_some() {
        store::instances::largest(&state.pool, 5)
            .await?
            .iter()
            .map(|i| (i.id, i.name.clone(), i.size().max(i.target().unwrap_or(0))))
            .collect()
    } else {
        Vec::new()
    };
    Ok(LicenseData {
        banner: banner(&now),
        current: now
            .current
            .as_ref()
            .map(|c| summary(&c.payload, c.row.signed_by_run_time_key)),
        used_aku: now.used_aku,
        history,
        installation_id: state.installation_id.clone(),
        can_manage: who.may(Role::Admin),
        largest_instances,
    })
}

/// What applying `text` would change; changes nothing but the audit entry of a refusal.
pub async fn preview(
    state: &AppState,
    who: &Authorized<Admin>,
    text: &str,
) -> Result<KeyPreview, ServerError> {
    let (key, change) = super::preview(state, who, text).await?;
    Ok(KeyPreview {
        change,
        license: summary(&key.payload, key.signed_by_run_time_key),
    })
}

/// Applies `text`, audits a change of phase, and resumes instances a lapsed license suspended.
/// The key is applied whatever happens to the instances; the license watcher tries again
/// within a minute.
pub async fn apply(
    state: &AppState,
    who: &Authorized<Admin>,
    text: &str,
) -> Result<KeyChange, ServerError> {
    let change = super::apply(state, who, text).await?;
    super::notice_phase_change(state).await?;
    if let Err(error) = instances::follow_license(state).await {
        tracing::warn!(%error, "resuming instances after a key was applied");
    }
    Ok(change)
}

pub fn summary(p: &LicensePayload, run_time_key: bool) -> LicenseSummary {
    LicenseSummary {
        license_id: p.license_id.clone(),
        customer: p.customer.clone(),
        billing: p.billing,
        aku_quota: p.aku_quota,
        max_aku_per_instance: p.max_aku_per_instance,
        issued_at: p.issued_at.unix_timestamp(),
        starts_at: p.starts_at.unix_timestamp(),
        expires_at: p.expires_at.unix_timestamp(),
        grace_days: p.grace_days,
        key_id: p.key_id.clone(),
        signed_by_run_time_key: run_time_key,
    }
}

/// History rows come from the table (they were verified when applied). A value the key
/// format cannot hold is an error naming the row, never a default.
fn history_entry(row: AppliedKeyRow) -> Result<AppliedKey, sqlx::Error> {
    const T: &str = "license_keys";
    let id = row.id;
    let u = |column: &str, v: i64| decode::count(T, id, column, v);
    let billing = decode::parsed(
        T,
        id,
        "billing",
        &row.billing,
        "prepaid, payg or trial",
        BillingModel::parse,
    )?;
    Ok(AppliedKey {
        applied_at: row.applied_at,
        applied_by: row.applied_by,
        license: LicenseSummary {
            license_id: row.license_id,
            customer: row.customer,
            billing,
            aku_quota: row.aku_quota.map(|q| u("aku_quota", q)).transpose()?,
            max_aku_per_instance: u("max_aku_per_instance", row.max_aku_per_instance)?,
            issued_at: row.issued_at,
            starts_at: row.starts_at,
            expires_at: row.expires_at,
            grace_days: u("grace_days", row.grace_days)?,
            key_id: row.key_id,
            signed_by_run_time_key: row.signed_by_run_time_key,
        },
    })
}

pub fn banner(now: &LicenseNow) -> LicenseBanner {
    LicenseBanner {
        phase: now.status.phase,
        days_left: now.status.days_left,
        urgency: now.status.urgency,
        over_quota_by: now.status.over_quota_by,
        clock_turned_back: now.clock_turned_back,
        run_time_key: now
            .current
            .as_ref()
            .is_some_and(|c| c.row.signed_by_run_time_key),
        subscription: None,
    }
}
