//! Marketplace billing: the link (admins), the reports' outcomes, and the admin's decisions on
//! single reports.

use super::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct MappingView {
    pub ledger: String,
    pub key: String,
    pub unit: String,
    pub per_ledger_unit: u64,
}

/// Per marketplace dimension over a month, in the marketplace's units: the ledger (its exact
/// decimal converted, before rounding), what was reported (queued), accepted, late, and
/// neither yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub enum SubscriptionHold {
    /// Ended: no growth; instances are suspended at this time.
    NoGrowth { since: i64, suspend_at: i64 },
    /// Ended and past the grace period: instances are suspended.
    Suspended { since: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct MarketplaceUsage {
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

#[server(prefix = "/api", endpoint = "marketplace")]
pub async fn marketplace() -> Result<MarketplaceData, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, marketplace};
    respond(async move {
        let state = auth::state()?;
        let user = auth::require(&state, Role::Viewer).await?;
        marketplace::view(&state, user.role() == Role::Admin).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_link")]
pub async fn link_marketplace(
    marketplace: String,
    listing: String,
    #[server(default)] subscription: String,
) -> Result<LinkView, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let (_, actor) = auth::require_actor(&state, Role::Admin).await?;
        let request = service::LinkRequest {
            marketplace,
            listing,
            subscription,
        };
        service::link(&state, &actor, request)
            .await
            .map(|link| service::link_view(&link))
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_unlink")]
pub async fn unlink_marketplace(confirm: String) -> Result<u64, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let (_, actor) = auth::require_actor(&state, Role::Admin).await?;
        if confirm.trim() != "unlink" {
            return Err(AppError::invalid("confirm", "type unlink to confirm").into());
        }
        service::unlink(&state, &actor).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_check")]
pub async fn check_marketplace() -> Result<String, AppError> {
    use crate::domain::account::Role;
    use crate::domain::marketplace::Entitlement;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let (_, actor) = auth::require_actor(&state, Role::Admin).await?;
        Ok(match service::recheck(&state, &actor).await? {
            Entitlement::Entitled => "The subscription is in force.".to_string(),
            Entitlement::Renewed { .. } => "The check passed: growth is allowed again. AWS's check proves the permission only; the next hourly report confirms the subscription.".to_string(),
            Entitlement::Ended { .. } => {
                "The marketplace still says the subscription has ended.".to_string()
            }
        })
    })
    .await
}

/// `decision`: `retry` (a rejected report), `billed` or `resend` (a report whose outcome is
/// unknown).
#[server(prefix = "/api", endpoint = "marketplace_report")]
pub async fn decide_report(id: i64, decision: String) -> Result<(), AppError> {
    use crate::domain::account::Role;
    use crate::domain::marketplace::AdminDecision;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let (_, actor) = auth::require_actor(&state, Role::Admin).await?;
        let decision = match decision.trim() {
            "retry" => AdminDecision::Retry,
            "billed" => AdminDecision::SeenBilled,
            "resend" => AdminDecision::SendAgain,
            _ => {
                return Err(AppError::invalid("decision", "choose retry, billed or resend").into())
            }
        };
        service::decide(&state, &actor, id, decision).await
    })
    .await
}
