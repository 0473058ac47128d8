//! The license as the pages show it: the banner on every page, the license page, activation
//! and a key's preview.

use crate::domain::license::{BillingModel, KeyChange};
use crate::domain::license_state::{Phase, Urgency};
use serde::{Deserialize, Serialize};

/// A license as the pages show it (times in unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LicenseBanner {
    pub phase: Phase,
    pub days_left: Option<i64>,
    pub urgency: Option<Urgency>,
    pub over_quota_by: Option<u32>,
    pub clock_turned_back: bool,
    pub run_time_key: bool,
    /// The marketplace subscription ended (pay-as-you-go through a marketplace).
    pub subscription: Option<crate::wire::marketplace::SubscriptionHold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppliedKey {
    pub applied_at: i64,
    pub applied_by: String,
    pub license: LicenseSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActivationView {
    pub installation_id: String,
    pub phase: Phase,
    pub can_activate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyPreview {
    pub change: KeyChange,
    pub license: LicenseSummary,
}
