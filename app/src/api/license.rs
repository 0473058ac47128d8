//! Activation and the license: what the pages show, previewing and applying product keys.

use super::error::AppError;
use crate::domain::license::{BillingModel, KeyChange};
use crate::domain::license_state::{Phase, Urgency};
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin, Viewer};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A license as the pages show it (times in unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseSummary {
    pub license_id: String,
    pub customer: String,
    pub billing: BillingModel,
    pub aku_quota: Option<u32>,
    pub max_aku_per_instance: u32,
    pub issued_at: i64,
    pub starts_at: i64,
    pub expires_at: i64,
    pub grace_days: u32,
    pub key_id: String,
    pub signed_by_run_time_key: bool,
}

/// The state line every page's banner is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseBanner {
    pub phase: Phase,
    pub days_left: Option<i64>,
    pub urgency: Option<Urgency>,
    pub over_quota_by: Option<u32>,
    pub clock_turned_back: bool,
    pub run_time_key: bool,
    /// The marketplace subscription ended (pay-as-you-go through a marketplace).
    pub subscription: Option<super::marketplace::SubscriptionHold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedKey {
    pub applied_at: i64,
    pub applied_by: String,
    pub license: LicenseSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseData {
    pub banner: LicenseBanner,
    pub current: Option<LicenseSummary>,
    pub used_aku: u32,
    pub history: Vec<AppliedKey>,
    pub installation_id: String,
    pub can_manage: bool,
    /// When over quota: the largest instances (name, AKU held), to show what to scale down.
    pub largest_instances: Vec<(i64, String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationView {
    pub installation_id: String,
    pub phase: Phase,
    pub can_activate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPreview {
    pub change: KeyChange,
    pub license: LicenseSummary,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use crate::domain::license::LicensePayload;
    use crate::server::license::LicenseNow;
    use crate::server::store::license::AppliedKeyRow;

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
    pub fn history_entry(row: AppliedKeyRow) -> Result<AppliedKey, sqlx::Error> {
        use crate::server::store::decode;
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
}
#[cfg(feature = "ssr")]
pub use convert::{banner, summary};

#[server(prefix = "/api", endpoint = "activation")]
pub async fn activation_info() -> Result<ActivationView, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, license};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let now = license::now(&state).await?;
        Ok(ActivationView {
            installation_id: state.installation_id.clone(),
            phase: now.status.phase,
            can_activate: user.may(Role::Admin),
        })
    })
    .await
}

#[server(prefix = "/api", endpoint = "license")]
pub async fn license_view() -> Result<LicenseData, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, license, store};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let now = license::now(&state).await?;
        let history = store::license::history(&state.pool)
            .await?
            .into_iter()
            .map(convert::history_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LicenseData {
            banner: convert::banner(&now),
            current: now
                .current
                .as_ref()
                .map(|c| convert::summary(&c.payload, c.row.signed_by_run_time_key)),
            used_aku: now.used_aku,
            history,
            installation_id: state.installation_id.clone(),
            can_manage: user.may(Role::Admin),
            largest_instances: if now.status.over_quota_by.is_some() {
                store::instances::largest(&state.pool, 5)
                    .await?
                    .iter()
                    .map(|i| (i.id, i.name.clone(), i.size().max(i.target().unwrap_or(0))))
                    .collect()
            } else {
                Vec::new()
            },
        })
    })
    .await
}

/// What applying `key` would change. Admins only; changes nothing.
#[server(prefix = "/api", endpoint = "license_preview")]
pub async fn preview_key(key: String) -> Result<KeyPreview, AppError> {
    use crate::server::{auth, error::respond, license};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let (key, change) = license::preview(&state, &who, &key).await?;
        Ok(KeyPreview {
            change,
            license: convert::summary(&key.payload, key.signed_by_run_time_key),
        })
    })
    .await
}

/// Applies `key` (activation, renewal, upgrade). Admins only. Redirects to the license page.
#[server(prefix = "/api", endpoint = "license_apply")]
pub async fn apply_key(key: String) -> Result<KeyChange, AppError> {
    use crate::server::{auth, error::respond, license};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let change = license::apply(&state, &who, &key).await?;
        license::notice_phase_change(&state).await?;
        // A valid key resumes instances suspended by a lapsed license. The key is applied
        // whatever happens here; the license watcher tries again within a minute.
        if let Err(error) = crate::server::instances::follow_license(&state).await {
            tracing::warn!(%error, "resuming instances after a key was applied");
        }
        leptos_axum::redirect("/license?applied=1");
        Ok(change)
    })
    .await
}
