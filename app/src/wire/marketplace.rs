//! Marketplace billing: the link (admins), the reports' outcomes, and the admin's decisions on
//! single reports.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LinkView {
    pub id: i64,
    /// `aws` or `alibaba`.
    pub marketplace: String,
    pub marketplace_name: String,
    pub listing: String,
    pub account: String,
    pub linked_at: i64,
    pub linked_by: String,
    pub unlinked_at: Option<i64>,
    /// `entitled` or `ended`.
    pub entitlement: String,
    pub ended_since: Option<i64>,
    pub last_report_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReportView {
    pub id: i64,
    pub hour_start: i64,
    pub dimension: String,
    pub key: String,
    pub ledger_quantity: String,
    pub quantity: i64,
    /// pending, sending, accepted, duplicate, rejected, late, unknown, unsent
    pub state: String,
    pub reason: Option<String>,
    pub receipt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingView {
    pub ledger: String,
    pub key: String,
    pub unit: String,
    pub per_ledger_unit: u64,
    /// AWS: the flat price per unit the listing must set for this dimension so that the
    /// marketplace bills what the key's tiers charge (the tier's price over the unit factor).
    pub listing_price: Option<String>,
}

/// Per marketplace dimension over a month, in the marketplace's units: the ledger (its exact
/// decimal converted, before rounding), what was reported (queued), accepted, late, and
/// neither yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MonthTotal {
    pub key: String,
    pub unit: String,
    pub ledger: String,
    pub reported: i64,
    pub accepted: i64,
    pub late: i64,
    pub open: i64,
    pub failed: i64,
}

/// The subscription's hold on the environment, for banners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SubscriptionHold {
    /// Ended: no growth; instances are suspended at this time.
    NoGrowth { since: i64, suspend_at: i64 },
    /// Ended and past the grace period: instances are suspended.
    Suspended { since: i64 },
    /// The license names a listing the environment is not linked to (or whose reports are
    /// refused for lack of permission): growth is refused from `deadline` unless linked.
    LinkDue {
        reason: crate::domain::marketplace::GraceReason,
        since: i64,
        deadline: i64,
    },
    /// The same, past the grace: growth is refused until linked.
    LinkOverdue {
        reason: crate::domain::marketplace::GraceReason,
        since: i64,
        deadline: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MarketplaceData {
    /// `prepaid`, `payg`, `trial` (None before activation).
    pub billing: Option<String>,
    /// What the license names as its listing, `aws:CODE` or `alibaba:ID`.
    pub license_listing: Option<String>,
    pub active: Option<LinkView>,
    /// Earlier links, newest first.
    pub history: Vec<LinkView>,
    pub grace_hours: i64,
    pub hold: Option<SubscriptionHold>,
    pub aws_mappings: Vec<MappingView>,
    pub alibaba_mappings: Vec<MappingView>,
    /// Reports that need a look: rejected, unknown, unsent, late (newest first, at most 200).
    pub attention: Vec<ReportView>,
    pub counts: Vec<(String, i64)>,
    pub is_admin: bool,
}

/// The usage page's part: a month of reports beside the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MarketplaceUsage {
    /// AWS: what the month's accepted reports cost at the listing's flat prices per tier
    /// dimension (the key's tier prices over the unit factor), per item rounded to the cent:
    /// shown beside the console's estimate.
    pub amount: Option<String>,
    pub marketplace_name: String,
    pub listing: String,
    pub totals: Vec<MonthTotal>,
    /// The month's reports, newest hour first (at most `hours_shown` hours).
    pub reports: Vec<ReportView>,
    pub hours_shown: usize,
    pub hours_in_month: usize,
    pub late: usize,
    pub is_admin: bool,
}
