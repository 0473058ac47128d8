//! An admin's decision on one report, audited with it.

use super::super::audit::{self, Outcome};
use super::super::store;
use super::super::{AppState, ServerError};
use crate::domain::marketplace::{self as rules, AdminDecision};
use crate::server::access::{Admin, Authorized};
use crate::wire::error::AppError;

/// An admin's decision on one report (retry a rejected one; settle one whose outcome is not
/// known), audited with it.
pub async fn decide(
    state: &AppState,
    who: &Authorized<Admin>,
    report_id: i64,
    decision: AdminDecision,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let report = store::marketplace::report(&mut tx, report_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no report {report_id}")))?;
    let link = store::marketplace::link(&mut tx, report.link_id)
        .await?
        .ok_or_else(|| ServerError::invariant(format!("report {report_id} has no link")))?;
    if link.unlinked_at.is_some() && decision != AdminDecision::SeenBilled {
        return Err(AppError::Conflict(
            "the report's link was removed: it can no longer be sent".into(),
        )
        .into());
    }
    let next = rules::decide(&report.state, decision)
        .map_err(|why| ServerError::from(AppError::Conflict(why)))?;
    let now = state.clock.unix();
    store::marketplace::set_report_state(
        &mut tx,
        report.id,
        report.state.kind(),
        &next,
        None,
        false,
        now,
    )
    .await?;
    let action = match decision {
        AdminDecision::Retry => "marketplace_report_retry",
        AdminDecision::SeenBilled => "marketplace_report_settled",
        AdminDecision::SendAgain => "marketplace_report_resend",
    };
    audit::record_in(
        &mut tx,
        state,
        actor,
        action,
        Some(&format!(
            "{} {}",
            report.market_key,
            crate::format::utc(report.hour_start)
        )),
        Outcome::Success,
        Some(&format!("{} -> {}", report.state.kind(), next.kind())),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
