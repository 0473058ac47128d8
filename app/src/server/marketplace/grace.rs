//! The link grace (`domain::marketplace::link_duty`): a pay-as-you-go license whose key names
//! a listing must be linked to it, with reports permitted, within the grace
//! (`--marketplace-grace-hours`, 72 by default, the same grace as an ended subscription's).
//! Here: the facts read from the store, growth refused past the grace, the banner, and the
//! audit entries of its transitions (each in the transaction of the change it follows).

use super::super::audit::{self, Actor, Outcome};
use super::super::license::CurrentLicense;
use super::super::page_reads::PageReads;
use super::super::store::{self, marketplace::LinkRow};
use super::super::{license, shell_reads, AppState, ServerError};
use crate::domain::license::BillingModel;
use crate::domain::marketplace::{self as rules, GraceReason, LinkDuty, LinkFact, LinkFacts};
use crate::wire::error::AppError;
use crate::wire::marketplace::SubscriptionHold;
use sqlx::SqliteConnection;

/// The listing the license is bound to (`aws:CODE`), when it is a pay-as-you-go key that
/// names one.
pub fn bound_listing(current: Option<&CurrentLicense>) -> Option<String> {
    let current = current?;
    if current.payload.billing != BillingModel::Payg {
        return None;
    }
    let listing = current.payload.listing.as_ref()?;
    Some(format!("{}:{}", listing.marketplace, listing.id))
}

/// Where the environment stands, on `conn`'s view, the latest link given when read already.
pub async fn duty_with(
    state: &AppState,
    conn: &mut SqliteConnection,
    current: Option<&CurrentLicense>,
    latest: Option<&LinkRow>,
    now: i64,
) -> Result<LinkDuty, ServerError> {
    let Some(current) = current.filter(|c| bound_listing(Some(c)).is_some()) else {
        return Ok(LinkDuty::Free);
    };
    // A link of another listing (made under an earlier key) does not meet this key's duty:
    // the grace counts from activation as if never linked.
    let named = bound_listing(Some(current));
    let latest = latest
        .filter(|l| named.as_deref() == Some(&format!("{}:{}", l.marketplace.as_str(), l.listing)))
        .map(|l| LinkFact {
            unlinked_at: l.unlinked_at,
            permission_denied_since: l.permission_denied_since,
        });
    if matches!(
        latest,
        Some(LinkFact {
            unlinked_at: None,
            permission_denied_since: None
        })
    ) {
        return Ok(LinkDuty::Met);
    }
    let activated_at = store::marketplace::first_payg_applied(conn)
        .await?
        .unwrap_or(current.row.applied_at);
    let facts = LinkFacts {
        listing_bound: true,
        activated_at,
        latest,
    };
    rules::link_duty(facts, state.marketplace.settings.grace_s, now).map_err(ServerError::invariant)
}

/// [`duty_with`], reading the latest link on `conn`.
pub async fn duty_on(
    state: &AppState,
    conn: &mut SqliteConnection,
    current: Option<&CurrentLicense>,
    now: i64,
) -> Result<LinkDuty, ServerError> {
    if bound_listing(current).is_none() {
        return Ok(LinkDuty::Free);
    }
    let latest = store::marketplace::latest_link(conn).await?;
    duty_with(state, conn, current, latest.as_ref(), now).await
}

/// Growth past the grace is refused (409), as for an ended subscription, with the reason.
pub async fn check_growth(
    state: &AppState,
    conn: &mut SqliteConnection,
    current: Option<&CurrentLicense>,
    now: i64,
) -> Result<(), ServerError> {
    if let LinkDuty::Overdue {
        reason, deadline, ..
    } = duty_on(state, conn, current, now).await?
    {
        let listing = bound_listing(current).unwrap_or_default();
        return Err(ServerError::policy(AppError::Conflict(format!(
            "The license is billed through {listing} and {}; the grace to link it ended at {}: nothing can be created or scaled up until the environment is linked on the Marketplace page.",
            reason.describe(),
            crate::format::utc(deadline)
        ))));
    }
    Ok(())
}

/// The banner's hold, with the latest link kept between page renders when `reads` is given.
pub async fn hold_in(
    state: &AppState,
    current: Option<&CurrentLicense>,
    reads: Option<&PageReads>,
) -> Result<Option<SubscriptionHold>, ServerError> {
    let Some(named) = bound_listing(current) else {
        return Ok(None);
    };
    let latest = shell_reads::latest_link(state, reads).await?;
    if latest.as_ref().is_some_and(|l| {
        l.unlinked_at.is_none()
            && l.permission_denied_since.is_none()
            && named == format!("{}:{}", l.marketplace.as_str(), l.listing)
    }) {
        return Ok(None);
    }
    let mut conn = state.pool.acquire().await?;
    let duty = duty_with(
        state,
        &mut conn,
        current,
        latest.as_ref(),
        state.clock.unix(),
    )
    .await?;
    Ok(hold(duty))
}

pub fn hold(duty: LinkDuty) -> Option<SubscriptionHold> {
    match duty {
        LinkDuty::Free | LinkDuty::Met => None,
        LinkDuty::Due {
            reason,
            since,
            deadline,
        } => Some(SubscriptionHold::LinkDue {
            reason,
            since,
            deadline,
        }),
        LinkDuty::Overdue {
            reason,
            since,
            deadline,
        } => Some(SubscriptionHold::LinkOverdue {
            reason,
            since,
            deadline,
        }),
    }
}

/// The sentence an audit entry adds about the grace, when one runs.
pub fn grace_note(duty: LinkDuty) -> Option<String> {
    match duty {
        LinkDuty::Due {
            reason, deadline, ..
        } => Some(format!(
            "the link grace runs ({}): growth is refused from {} unless the environment is linked",
            reason.as_str(),
            crate::format::utc(deadline)
        )),
        LinkDuty::Overdue { reason, .. } => Some(format!(
            "the link grace has ended ({}): growth is refused until the environment is linked",
            reason.as_str()
        )),
        LinkDuty::Free | LinkDuty::Met => None,
    }
}

/// Records a permission failure (`Some(now)`, the first only) or its end (`None`, after an
/// accepted report or a check that passed), with its audit entry, in `conn`'s transaction.
pub async fn note_permission(
    conn: &mut SqliteConnection,
    state: &AppState,
    link: &LinkRow,
    denied_since: Option<i64>,
    why: &str,
) -> Result<(), ServerError> {
    let current = link.permission_denied_since;
    if current.is_some() == denied_since.is_some() {
        return Ok(());
    }
    if !store::marketplace::set_permission_denied(conn, link.id, denied_since).await? {
        return Ok(());
    }
    let (action, outcome, detail) = match denied_since {
        Some(at) => (
            "marketplace_permission_denied",
            Outcome::Failure,
            format!(
                "the marketplace refuses the host's reports for lack of permission ({why}); growth is refused from {} unless reports are permitted again",
                crate::format::utc(at.saturating_add(state.marketplace.settings.grace_s))
            ),
        ),
        None => (
            "marketplace_permission_restored",
            Outcome::Success,
            format!("the marketplace permits the host's reports again ({why})"),
        ),
    };
    audit::record_in(
        conn,
        state,
        &Actor::system(),
        action,
        Some(&format!("{}:{}", link.marketplace.as_str(), link.listing)),
        outcome,
        Some(&detail),
    )
    .await
}

/// Audits a grace's end once (called by the license watcher every minute): the note and its
/// audit entry commit together.
pub async fn notice_end(state: &AppState) -> Result<(), ServerError> {
    let current = license::current(state).await?;
    if bound_listing(current.as_ref()).is_none() {
        return Ok(());
    }
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let LinkDuty::Overdue {
        reason,
        since,
        deadline,
    } = duty_on(state, &mut tx, current.as_ref(), now).await?
    else {
        return Ok(());
    };
    if !store::marketplace::note_grace_end(&mut tx, since, reason.as_str(), now).await? {
        return Ok(());
    }
    audit::record_in(
        &mut tx,
        state,
        &Actor::system(),
        "marketplace_link_grace_ended",
        bound_listing(current.as_ref()).as_deref(),
        Outcome::Failure,
        Some(&format!(
            "{} since {}; the grace ended at {}: creating and scaling up are refused until the environment is linked",
            reason_line(reason),
            crate::format::utc(since),
            crate::format::utc(deadline)
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn reason_line(reason: GraceReason) -> &'static str {
    match reason {
        GraceReason::NotLinked => "not linked",
        GraceReason::Unlinked => "unlinked",
        GraceReason::PermissionDenied => "reports refused for lack of permission",
    }
}

/// What the audit entry of an applied key adds when the key binds the environment to a
/// listing it is not linked to: the grace and its deadline (read after the key's insert, in
/// its transaction).
pub async fn activation_note(
    state: &AppState,
    conn: &mut SqliteConnection,
    payload: &crate::domain::license::LicensePayload,
    now: i64,
) -> Result<Option<String>, ServerError> {
    let Some(listing) = payload
        .listing
        .as_ref()
        .filter(|_| payload.billing == BillingModel::Payg)
    else {
        return Ok(None);
    };
    let latest = store::marketplace::latest_link(conn)
        .await?
        .filter(|l| l.marketplace.as_str() == listing.marketplace && l.listing == listing.id);
    if latest.as_ref().is_some_and(|l| l.unlinked_at.is_none()) {
        return Ok(None);
    }
    let activated_at = store::marketplace::first_payg_applied(conn)
        .await?
        .unwrap_or(now);
    let facts = LinkFacts {
        listing_bound: true,
        activated_at,
        latest: latest.map(|l| LinkFact {
            unlinked_at: l.unlinked_at,
            permission_denied_since: l.permission_denied_since,
        }),
    };
    let duty = rules::link_duty(facts, state.marketplace.settings.grace_s, now)
        .map_err(ServerError::invariant)?;
    Ok(grace_note(duty).map(|note| {
        format!(
            "billed through {}:{}, not linked: {note}",
            listing.marketplace, listing.id
        )
    }))
}
