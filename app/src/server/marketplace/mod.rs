//! Marketplace billing: linking the environment to its subscription (checked for real with
//! the host's credentials), the reporter that sends every closed hour of the ledger, the
//! admin's decisions on single reports, and what an ended subscription does to the
//! environment. The rules are `domain::marketplace`; the SQL is `store::marketplace`.

pub mod alibaba;
pub mod aws;
pub mod client;
mod decide;
pub mod grace;
pub mod host;
mod plan;
pub mod reporter;
pub mod view;

pub use decide::decide;
pub use view::{link_view, view};

use super::audit::{self, Actor, Outcome};
use super::store::{self, marketplace::LinkRow};
use super::{license, AppState, ServerError};
use crate::domain::license::BillingModel;
use crate::domain::marketplace::{self as rules, Entitlement, Marketplace, SubscriptionEffect};
use crate::domain::metering::hour_floor;
use crate::server::access::{Admin, Authorized};
use crate::wire::error::AppError;
use client::{Check, Client, Endpoints, Target};
use sqlx::SqliteConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// `serve` flags of marketplace billing.
#[derive(Debug, Clone)]
pub struct MarketplaceSettings {
    pub endpoints: Endpoints,
    /// How long after a subscription ends instances keep running (no growth meanwhile).
    pub grace_s: i64,
    /// How often the reporter looks for hours to report.
    pub report_every: Duration,
    /// Alibaba takes one push per service instance a minute.
    pub alibaba_push_interval: Duration,
}

impl Default for MarketplaceSettings {
    fn default() -> Self {
        MarketplaceSettings {
            endpoints: Endpoints::default(),
            grace_s: rules::DEFAULT_GRACE_S,
            report_every: Duration::from_secs(60),
            alibaba_push_interval: Duration::from_secs(60),
        }
    }
}

/// The clients (made once per marketplace: the AWS one caches its credentials) and the
/// reporter's lock (one pass at a time, so a report found `sending` at the start of a pass
/// was left so by a console that stopped mid-call).
pub struct Marketplaces {
    pub settings: MarketplaceSettings,
    clients: std::sync::Mutex<HashMap<&'static str, Arc<Client>>>,
    /// The host recorded with each report sent.
    pub host: host::HostIdentity,
    pub(crate) pass: tokio::sync::Mutex<reporter::PassMemory>,
}

impl Marketplaces {
    pub fn new(settings: MarketplaceSettings) -> Marketplaces {
        Marketplaces {
            settings,
            clients: std::sync::Mutex::new(HashMap::new()),
            host: host::HostIdentity::default(),
            pass: tokio::sync::Mutex::new(reporter::PassMemory::default()),
        }
    }

    pub fn client(&self, marketplace: Marketplace) -> Arc<Client> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(marketplace.as_str())
            .or_insert_with(|| Arc::new(Client::new(marketplace, &self.settings.endpoints)))
            .clone()
    }
}

impl std::fmt::Debug for Marketplaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplaces")
            .field("settings", &self.settings)
            .finish()
    }
}

/// What an admin asks to link to.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    pub marketplace: String,
    pub listing: String,
    /// Alibaba: the service instance id; AWS: unused.
    pub subscription: String,
}

fn target_of(link: &LinkRow) -> Target {
    Target {
        marketplace: link.marketplace,
        listing: link.listing.clone(),
        subscription: match link.marketplace {
            Marketplace::Aws => String::new(),
            Marketplace::Alibaba => link
                .account
                .strip_prefix("service instance ")
                .unwrap_or(&link.account)
                .to_string(),
        },
    }
}

fn refusal(field: &str, why: impl ToString) -> ServerError {
    ServerError::policy(AppError::invalid(field, why))
}

/// The key format's rule for marketplace identifiers, as a field error.
fn valid_id(field: &str, label: &str, value: &str) -> Result<(), ServerError> {
    if crate::domain::license::marketplace_id_ok(value) {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("{label} must be 1 to 128 of letters, digits, '-', '_' and '.'"),
        )
        .into())
    }
}

/// Links the environment: every refusal says why and changes nothing (but its audit entry);
/// the link and its audit entry commit together.
pub async fn link(
    state: &AppState,
    who: &Authorized<Admin>,
    request: LinkRequest,
) -> Result<LinkRow, ServerError> {
    let actor = who.actor();
    let target = format!("{}:{}", request.marketplace.trim(), request.listing.trim());
    let result = try_link(state, actor, request).await;
    if let Err(error) = &result {
        audit::refusal(state, actor, "marketplace_link", Some(&target), error).await;
    }
    result
}

async fn try_link(
    state: &AppState,
    actor: &Actor,
    request: LinkRequest,
) -> Result<LinkRow, ServerError> {
    let marketplace = Marketplace::parse(request.marketplace.trim()).ok_or_else(|| {
        ServerError::from(AppError::invalid(
            "marketplace",
            "choose aws (AWS Marketplace) or alibaba (Alibaba Cloud Compute Nest)",
        ))
    })?;
    let listing = request.listing.trim().to_string();
    let listing_label = match marketplace {
        Marketplace::Aws => "The product code",
        Marketplace::Alibaba => "The service id",
    };
    valid_id("listing", listing_label, &listing)?;
    let subscription = request.subscription.trim().to_string();
    if marketplace == Marketplace::Alibaba && !subscription.is_empty() {
        valid_id("subscription", "The service instance id", &subscription)?;
    }
    let current = license::current(state).await?;
    let Some(current) = current else {
        return Err(refusal(
            "marketplace",
            "the environment is not activated: apply a pay-as-you-go product key first",
        ));
    };
    if current.payload.billing != BillingModel::Payg {
        return Err(refusal(
            "marketplace",
            format!(
                "the license is {}, not pay-as-you-go: only a pay-as-you-go license is billed through a marketplace",
                current.payload.billing.as_str()
            ),
        ));
    }
    if let Some(named) = &current.payload.listing {
        if named.marketplace != marketplace.as_str() || named.id != listing {
            return Err(refusal(
                "listing",
                format!(
                    "the license is billed through {}:{}, not {}:{listing}",
                    named.marketplace,
                    named.id,
                    marketplace.as_str()
                ),
            ));
        }
    }
    {
        let mut conn = state.pool.acquire().await?;
        if let Some(active) = store::marketplace::active_link(&mut conn).await? {
            return Err(already_linked(&active));
        }
    }
    let target = Target {
        marketplace,
        listing: listing.clone(),
        subscription: subscription.clone(),
    };
    let now = state.clock.unix();
    let key = client::service_key(&state.pool).await;
    let account = match state
        .marketplace
        .client(marketplace)
        .check(&target, now, key.as_ref())
        .await
    {
        Check::Ok { account } => account,
        Check::NotEntitled(why) => {
            return Err(refusal(
                "listing",
                format!("the marketplace says this account is not subscribed: {why}"),
            ))
        }
        Check::Failed(why) => {
            return Err(refusal(
                "marketplace",
                format!("the check with the marketplace failed: {why}"),
            ))
        }
    };
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if let Some(active) = store::marketplace::active_link(&mut tx).await? {
        return Err(already_linked(&active));
    }
    // AWS's dry run proves the permission, not the subscription: a subscription that had
    // ended stays held until a report is accepted (its grace counts from the first end).
    let entitlement = match store::marketplace::latest_link(&mut tx).await? {
        Some(latest) if latest.entitlement != Entitlement::Entitled => {
            rules::entitlement_after_check(latest.entitlement, marketplace)
        }
        _ => Entitlement::Entitled,
    };
    // The link grace this link ends, if one ran (said in the link's audit entry).
    let grace_before = grace::duty_on(state, &mut tx, Some(&current), now).await?;
    let fallback = store::marketplace::first_payg_hour(&mut tx)
        .await?
        .unwrap_or(hour_floor(now));
    let report_from = store::marketplace::next_report_from(&mut tx, fallback).await?;
    let id = store::marketplace::insert_link(
        &mut tx,
        store::marketplace::NewLink {
            marketplace,
            entitlement,
            listing: &listing,
            account: &account,
            linked_by: &actor.name,
            report_from,
            now,
        },
    )
    .await?;
    // Hours an earlier link of this listing never sent are this link's to send.
    let taken_over =
        store::marketplace::take_over_unsent(&mut tx, id, marketplace, &listing, &account).await?;
    audit::record_in(
        &mut tx,
        state,
        actor,
        "marketplace_link",
        Some(&format!("{}:{listing}", marketplace.as_str())),
        Outcome::Success,
        Some(&format!(
            "checked with the marketplace as {account}; {taken_over} reports an earlier link did not send are sent by this one{}",
            match grace::grace_note(grace_before) {
                Some(_) => "; this ends the link grace",
                None => "",
            }
        )),
    )
    .await?;
    let link = store::marketplace::link(&mut tx, id)
        .await?
        .ok_or_else(|| ServerError::invariant("the new link is missing"))?;
    tx.commit().await?;
    // A link that checks out lifts a suspension for an ended subscription (the watcher does
    // it within a minute if this fails: the link itself is made).
    follow_subscription(state).await;
    Ok(link)
}

fn already_linked(active: &LinkRow) -> ServerError {
    ServerError::policy(AppError::Conflict(format!(
        "the environment is already linked to {}:{} (since {}); unlink it first",
        active.marketplace.as_str(),
        active.listing,
        crate::format::utc(active.linked_at)
    )))
}

/// Ends the active link. Reports it never sent are kept as `unsent` and shown: the next link
/// of the same listing sends them, and past the window they are late (exported). Waits for a
/// reporter pass under way to end, so no call of the link is in flight.
pub async fn unlink(state: &AppState, who: &Authorized<Admin>) -> Result<u64, ServerError> {
    let actor = who.actor();
    let _turn = state.marketplace.pass.lock().await;
    let current = license::current(state).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let Some(active) = store::marketplace::active_link(&mut tx).await? else {
        return Err(AppError::Conflict("the environment is not linked".into()).into());
    };
    let now = state.clock.unix();
    let unsent = store::marketplace::unlink(&mut tx, active.id, now).await?;
    // Unlinking a license bound to this listing starts the link grace.
    let grace_after = grace::duty_on(state, &mut tx, current.as_ref(), now).await?;
    audit::record_in(
        &mut tx,
        state,
        actor,
        "marketplace_unlink",
        Some(&format!(
            "{}:{}",
            active.marketplace.as_str(),
            active.listing
        )),
        Outcome::Success,
        Some(&format!(
            "{unsent} reports not sent are kept as unsent, for the next link of the same listing{}",
            grace::grace_note(grace_after)
                .map(|note| format!("; {note}"))
                .unwrap_or_default()
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(unsent)
}

/// Checks the active link again (after re-subscribing): a good answer restores the
/// subscription and resumes what its end suspended.
pub async fn recheck(
    state: &AppState,
    who: &Authorized<Admin>,
) -> Result<Entitlement, ServerError> {
    let actor = who.actor();
    let active = {
        let mut conn = state.pool.acquire().await?;
        store::marketplace::active_link(&mut conn).await?
    };
    let Some(active) = active else {
        return Err(AppError::Conflict("the environment is not linked".into()).into());
    };
    let now = state.clock.unix();
    let client = state.marketplace.client(active.marketplace);
    let key = client::service_key(&state.pool).await;
    let check = client.check(&target_of(&active), now, key.as_ref()).await;
    if let Check::Failed(why) = check {
        return Err(refusal(
            "marketplace",
            format!("the check with the marketplace failed: {why}"),
        ));
    }
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let current = store::marketplace::link(&mut tx, active.id)
        .await?
        .map(|l| l.entitlement)
        .unwrap_or(active.entitlement);
    let after = match check {
        Check::Ok { .. } => rules::entitlement_after_check(current, active.marketplace),
        _ => rules::entitlement_after(current, &rules::Answer::NotEntitled, now),
    };
    note_entitlement(&mut tx, state, actor, &active, current, after, now).await?;
    if matches!(check, Check::Ok { .. }) {
        // The check proves the permission: a permission failure is over.
        grace::note_permission(&mut tx, state, &active, None, "a check passed").await?;
    }
    tx.commit().await?;
    follow_subscription(state).await;
    if matches!(after, Entitlement::Ended { .. }) && after != current {
        // A cancellation notice from the check: every closed hour still allowed, at once.
        if let Err(error) = reporter::run_final(state).await {
            tracing::warn!(%error, "the hours open at the cancellation are sent by the reporter's next pass");
        }
    }
    Ok(after)
}

/// Suspends or resumes instances after the subscription changed; a failure is logged (the
/// license watcher does the same within a minute), never reported as the change failing.
async fn follow_subscription(state: &AppState) {
    if let Err(error) = super::instances::follow_license(state).await {
        tracing::warn!(%error, "instances will follow the subscription at the watcher's next round");
    }
}

/// Records the subscription's new state, with an audit entry when it changes.
pub(crate) async fn note_entitlement(
    conn: &mut SqliteConnection,
    state: &AppState,
    actor: &Actor,
    link: &LinkRow,
    current: Entitlement,
    after: Entitlement,
    now: i64,
) -> Result<(), ServerError> {
    if after != current {
        store::marketplace::set_entitlement(conn, link.id, after, now).await?;
        let (action, detail) = match after {
            Entitlement::Ended { .. } => (
                "marketplace_subscription_ended",
                format!(
                    "the marketplace says the customer is no longer subscribed; instances are suspended after {} hours unless it is renewed",
                    state.marketplace.settings.grace_s / 3600
                ),
            ),
            Entitlement::Entitled => (
                "marketplace_subscription_renewed",
                "the marketplace accepts reports again".to_string(),
            ),
            Entitlement::Renewed { .. } => (
                "marketplace_subscription_renewed",
                "a check passed (it proves the permission, not the subscription): growth is allowed again; if the next report is refused, the grace period counts from the first end".to_string(),
            ),
        };
        audit::record_in(
            conn,
            state,
            actor,
            action,
            Some(&format!("{}:{}", link.marketplace.as_str(), link.listing)),
            if matches!(after, Entitlement::Ended { .. }) {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            Some(&detail),
        )
        .await?;
    }
    Ok(())
}

/// What the subscription allows now: only a pay-as-you-go license is held back by it, and
/// the latest link decides (an unlinked subscription that had ended holds the environment
/// back until a new link checks out).
pub async fn effect_on(
    state: &AppState,
    conn: &mut SqliteConnection,
    billing: Option<BillingModel>,
    now: i64,
) -> Result<SubscriptionEffect, ServerError> {
    if billing != Some(BillingModel::Payg) {
        return Ok(SubscriptionEffect::Normal);
    }
    let Some(link) = store::marketplace::latest_link(conn).await? else {
        return Ok(SubscriptionEffect::Normal);
    };
    Ok(rules::effect(
        link.entitlement,
        state.marketplace.settings.grace_s,
        now,
    ))
}
