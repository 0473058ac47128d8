//! What applying a key changes: activation, renewal, upgrade, downgrade, and the quota
//! exceeded, for the confirmation step and the audit entry.

use super::{BillingModel, LicensePayload};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What applying a key would change, for the confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyChange {
    pub kind: ChangeKind,
    pub billing_from: Option<BillingModel>,
    pub billing_to: BillingModel,
    pub quota_from: Option<Option<u32>>,
    pub quota_to: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_to: OffsetDateTime,
    /// AKU in use now, and by how much the new quota would be exceeded.
    pub used_aku: u32,
    pub over_quota_by: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    Activation,
    Renewal,
    Upgrade,
    Downgrade,
    Change,
}

impl ChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Activation => "Activation",
            ChangeKind::Renewal => "Renewal",
            ChangeKind::Upgrade => "Upgrade",
            ChangeKind::Downgrade => "Downgrade",
            ChangeKind::Change => "Change",
        }
    }
}

/// A quota of None (uncapped pay-as-you-go) is larger than any number.
fn quota_rank(q: Option<u32>) -> u64 {
    q.map(u64::from).unwrap_or(u64::MAX)
}

pub fn preview(
    current: Option<&LicensePayload>,
    next: &LicensePayload,
    used_aku: u32,
) -> KeyChange {
    let kind = match current {
        None => ChangeKind::Activation,
        Some(c) if quota_rank(next.aku_quota) > quota_rank(c.aku_quota) => ChangeKind::Upgrade,
        Some(c) if quota_rank(next.aku_quota) < quota_rank(c.aku_quota) => ChangeKind::Downgrade,
        Some(c) if next.expires_at > c.expires_at => ChangeKind::Renewal,
        Some(_) => ChangeKind::Change,
    };
    KeyChange {
        kind,
        billing_from: current.map(|c| c.billing),
        billing_to: next.billing,
        quota_from: current.map(|c| c.aku_quota),
        quota_to: next.aku_quota,
        expires_from: current.map(|c| c.expires_at),
        expires_to: next.expires_at,
        used_aku,
        over_quota_by: next
            .aku_quota
            .and_then(|q| used_aku.checked_sub(q))
            .filter(|&n| n > 0),
    }
}
