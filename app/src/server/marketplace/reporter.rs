//! The reporter: a background task like the metering task. Each pass
//! 1. settles the reports a stopped console left `sending` (AWS: sent again under the same
//!    `ClientToken`, which makes the resend harmless; Alibaba, which has no idempotency key:
//!    `unknown`, shown to the admin and never sent again without their decision);
//! 2. queues every closed hour of the ledger not queued yet: one report per marketplace
//!    dimension (zero hours too), converted by `domain::marketplace::convert` with the carry
//!    of the dimension's previous hour, in one transaction per hour with the progress mark;
//! 3. sends what is due, oldest first: each report is recorded `sending` (committed) before
//!    its call and its answer after it, so a crash in between is seen at the next pass.
//!    Hours past the marketplace's window turn `late` instead of being sent.
//!
//! A cancellation notice (the marketplace answers that the customer is no longer entitled)
//! does not stop the pass: the closed hours are metered and queued at once and every open
//! report of the link still within the window is sent once in the same pass, back-off or
//! not ([`Flush`]), so that whatever the marketplace still takes is billed now rather than
//! left to turn late while the pass waits.

use super::client::{Outgoing, Reply};
use super::{note_entitlement, target_of};
use crate::domain::marketplace::{self as rules, Answer, Marketplace, ReportState};
use crate::domain::metering::HOUR;
use crate::domain::Decimal;
use crate::server::audit::Actor;
use crate::server::store::{self, marketplace::LinkRow};
use crate::server::{AppState, ServerError};
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::Instant;

/// What the reporter remembers between passes of this process.
#[derive(Debug, Default)]
pub struct PassMemory {
    last_alibaba_push: Option<Instant>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub queued: u64,
    pub sent: u64,
    pub accepted: u64,
    pub late: u64,
    pub recovered: u64,
}

/// One pass over the active link (nothing to send without one).
pub async fn run_once(state: &AppState) -> Result<Pass, ServerError> {
    run_pass(state, false).await
}

/// A pass that sends every open report still within the window at once, back-off or not:
/// after a cancellation notice that came from a check rather than a report (Alibaba's
/// license check saying the subscription ended).
pub async fn run_final(state: &AppState) -> Result<Pass, ServerError> {
    run_pass(state, true).await
}

/// The most reports one cancellation flush looks at (AWS's window holds 6 hours of each
/// dimension; Alibaba's push takes 100 hours).
const FLUSH_MAX: i64 = 10_000;

/// After a cancellation notice: send every open report once in this pass.
#[derive(Debug, Default)]
struct Flush {
    on: bool,
    /// Reports sent in this pass: none is sent twice in one pass.
    tried: HashSet<i64>,
}

async fn run_pass(state: &AppState, flush: bool) -> Result<Pass, ServerError> {
    let mut memory = state.marketplace.pass.lock().await;
    let link = {
        let mut conn = state.pool.acquire().await?;
        // Hours a removed AWS link left unsent that no link can send any more are late.
        let now = state.clock.unix();
        store::marketplace::expire_unsent_aws(&mut conn, now - rules::AWS_WINDOW_S, now).await?;
        store::marketplace::active_link(&mut conn).await?
    };
    let Some(link) = link else {
        return Ok(Pass::default());
    };
    let mut pass = Pass {
        recovered: recover(state, &link).await?,
        ..Pass::default()
    };
    // An hour that cannot be queued (bad data) does not hold back the ones queued already.
    let queued = queue(state, &link).await;
    let mut flush = Flush {
        on: flush,
        ..Flush::default()
    };
    send_due(state, &link, &mut memory, &mut pass, &mut flush).await?;
    pass.queued += queued?;
    Ok(pass)
}

/// Reports found `sending` at the start of a pass: no call of this process is in flight
/// (passes take turns), so a console stopped between the call and its record left them.
async fn recover(state: &AppState, link: &LinkRow) -> Result<u64, ServerError> {
    let host = state.marketplace.host.get().await;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let stuck = store::marketplace::sending_reports(&mut tx, link.id).await?;
    let now = state.clock.unix();
    for report in &stuck {
        let ReportState::Sending { attempts } = report.state else {
            continue;
        };
        // Sent from another host (the database moved): its ClientToken does not cover a
        // resend from this one.
        let next = rules::before_resend(link.marketplace, true, report.sent_from.as_deref(), &host)
            .unwrap_or_else(|| rules::after_restart(link.marketplace, attempts));
        store::marketplace::set_report_state(&mut tx, report.id, "sending", &next, None, true, now)
            .await?;
    }
    tx.commit().await?;
    Ok(stuck.len() as u64)
}

fn decimal(text: &str, what: &str) -> Result<Decimal, ServerError> {
    Decimal::from_str(text)
        .map_err(|e| ServerError::internal(format!("{what}: {text:?} is not a decimal"), e))
}

/// Queues the closed hours from where the link stopped up to where the ledger is complete.
async fn queue(state: &AppState, link: &LinkRow) -> Result<u64, ServerError> {
    let metered_until = {
        let mut conn = state.pool.acquire().await?;
        store::metering::metered_until(&mut conn).await?
    };
    let Some(metered_until) = metered_until else {
        return Ok(0);
    };
    // The key's prices decide the tier dimensions (AWS).
    let pricing = crate::server::license::current(state)
        .await?
        .and_then(|c| c.payload.pricing);
    let mut queued = 0;
    let mut hour = link.queued_until;
    while hour < metered_until {
        let now = state.clock.unix();
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let records = store::marketplace::payg_ledger(&mut tx, hour, hour + HOUR).await?;
        // The ledger's total and record ids of the hour, per dimension.
        let mut hour_totals: BTreeMap<&str, (Decimal, Vec<String>)> = BTreeMap::new();
        for record in &records {
            let quantity = decimal(&record.quantity, &record.record_id)?;
            let entry = hour_totals
                .entry(record.dimension.as_str())
                .or_insert((Decimal::ZERO, Vec::new()));
            entry.0 = entry.0.checked_add(quantity).ok_or_else(|| {
                ServerError::invariant(format!("{}: the hour's total overflows", record.record_id))
            })?;
            entry.1.push(record.record_id.clone());
        }
        let last_of_month = rules::last_hour_of_month(hour);
        let planned = super::plan::plan_hour(
            &mut tx,
            link.marketplace,
            pricing.as_ref(),
            hour,
            &hour_totals,
        )
        .await?;
        for plan in planned {
            let ids = hour_totals
                .get(plan.mapping.ledger)
                .map(|(_, ids)| ids.clone())
                .unwrap_or_default();
            let carried = match store::marketplace::last_carry(
                &mut tx,
                link.id,
                &plan.dimension,
                link.report_from,
            )
            .await?
            {
                Some(text) => decimal(&text, "carry")?,
                None => Decimal::ZERO,
            };
            let converted = rules::convert(plan.total, plan.mapping, carried, last_of_month)
                .map_err(ServerError::invariant)?;
            let quantity = i64::try_from(converted.quantity)
                .map_err(|_| ServerError::invariant(format!("{}: too large", plan.dimension)))?;
            let token = rules::client_token(link.id, hour, &plan.dimension, &ids);
            let initial = if rules::within_window(link.marketplace, hour, now) {
                ReportState::Pending {
                    attempts: 0,
                    not_before: 0,
                }
            } else {
                ReportState::Late
            };
            store::marketplace::insert_report(
                &mut tx,
                store::marketplace::NewReport {
                    link_id: link.id,
                    hour_start: hour,
                    dimension: &plan.dimension,
                    market_key: &plan.key,
                    ledger_quantity: &plan.total.normalize().to_string(),
                    quantity,
                    carry: &converted.carry.normalize().to_string(),
                    client_token: &token,
                    state: &initial,
                    now,
                },
            )
            .await?;
            queued += 1;
        }
        store::marketplace::set_queued_until(&mut tx, link.id, hour + HOUR).await?;
        tx.commit().await?;
        hour += HOUR;
    }
    Ok(queued)
}

/// Sends the due reports until none is left, one fails for a passing reason (throttling, an
/// outage: the rest wait for the next pass), or Alibaba's one push a minute is used up. A
/// cancellation notice turns the pass into a flush: every open report once, back-off or not.
async fn send_due(
    state: &AppState,
    link: &LinkRow,
    memory: &mut PassMemory,
    pass: &mut Pass,
    flush: &mut Flush,
) -> Result<(), ServerError> {
    let client = state.marketplace.client(link.marketplace);
    let target = target_of(link);
    let limit = client.batch_limit();
    let host = state.marketplace.host.get().await;
    let key = match link.marketplace {
        Marketplace::Alibaba => super::client::service_key(&state.pool).await,
        Marketplace::Aws => None,
    };
    let software_start = {
        let mut conn = state.pool.acquire().await?;
        store::marketplace::software_start(&mut conn).await?
    };
    loop {
        let now = state.clock.unix();
        let due = {
            let mut conn = state.pool.acquire().await?;
            if flush.on {
                let mut open =
                    store::marketplace::due_reports(&mut conn, link.id, i64::MAX, FLUSH_MAX)
                        .await?;
                open.retain(|r| !flush.tried.contains(&r.id));
                open.truncate(limit);
                open
            } else {
                store::marketplace::due_reports(&mut conn, link.id, now, limit as i64).await?
            }
        };
        if due.is_empty() {
            return Ok(());
        }
        // Too old for the marketplace: late (listed and exported, never sent), or unknown
        // when an earlier attempt may have reached it.
        // Or unknown when an earlier attempt from another host may have reached it.
        let (due, settled): (Vec<_>, Vec<_>) = due.into_iter().partition(|r| {
            rules::within_window(link.marketplace, r.hour_start, now)
                && rules::before_resend(
                    link.marketplace,
                    r.uncertain,
                    r.sent_from.as_deref(),
                    &host,
                )
                .is_none()
        });
        if !settled.is_empty() {
            let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
            for report in &settled {
                let next = if rules::within_window(link.marketplace, report.hour_start, now) {
                    ReportState::Unknown
                } else {
                    rules::out_of_window(report.uncertain)
                };
                store::marketplace::set_report_state(
                    &mut tx, report.id, "pending", &next, None, false, now,
                )
                .await?;
            }
            tx.commit().await?;
            pass.late += settled.len() as u64;
            continue;
        }
        let mut batch = due;
        if link.marketplace == Marketplace::Alibaba {
            if let Some(last) = memory.last_alibaba_push {
                if last.elapsed() < state.marketplace.settings.alibaba_push_interval {
                    return Ok(());
                }
            }
            // A push carries whole hours: leave a cut-off last hour to the next push.
            if batch.len() == limit {
                if let Some(last_hour) = batch.last().map(|r| r.hour_start) {
                    if batch.iter().any(|r| r.hour_start != last_hour) {
                        batch.retain(|r| r.hour_start != last_hour);
                    }
                }
            }
        }
        // Recorded before the call: a crash from here on is seen by `recover`.
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut sending = Vec::with_capacity(batch.len());
        for report in batch {
            let attempts = match report.state {
                ReportState::Pending { attempts, .. } => attempts + 1,
                _ => continue,
            };
            let marked =
                store::marketplace::mark_sending(&mut tx, report.id, attempts, &host, now).await?;
            if marked {
                sending.push((report, attempts));
            }
        }
        tx.commit().await?;
        if sending.is_empty() {
            return Ok(());
        }
        let outgoing: Vec<Outgoing> = sending
            .iter()
            .map(|(r, _)| Outgoing {
                hour_start: r.hour_start,
                timestamp: rules::report_timestamp(r.hour_start, software_start),
                key: r.market_key.clone(),
                quantity: r.quantity,
                client_token: r.client_token.clone(),
            })
            .collect();
        if link.marketplace == Marketplace::Alibaba {
            memory.last_alibaba_push = Some(Instant::now());
        }
        let replies = client.send(&target, &outgoing, key.as_ref()).await;
        pass.sent += sending.len() as u64;
        flush.tried.extend(sending.iter().map(|(r, _)| r.id));
        let recorded = record_replies(state, link, &sending, &replies, pass).await?;
        if recorded.stop {
            return Ok(());
        }
        if recorded.notice && !flush.on {
            // The cancellation notice: every closed hour now, each open report once.
            flush.on = true;
            if let Err(error) = crate::server::metering::run_due(state).await {
                tracing::warn!(%error, "the closed hours could not be metered at the cancellation notice; the metering task meters them");
            }
            let fresh = {
                let mut conn = state.pool.acquire().await?;
                store::marketplace::link(&mut conn, link.id).await?
            };
            if let Some(fresh) = fresh {
                pass.queued += queue(state, &fresh).await?;
            }
        }
    }
}

/// What the answers of one send said to the pass.
struct Recorded {
    /// An answer asks to wait (throttling, an outage, no answer).
    stop: bool,
    /// The marketplace says the customer is no longer entitled: a cancellation notice.
    notice: bool,
}

/// Records each answer (and what it says of the subscription) in one transaction.
async fn record_replies(
    state: &AppState,
    link: &LinkRow,
    sending: &[(store::marketplace::ReportRow, u32)],
    replies: &[Reply],
    pass: &mut Pass,
) -> Result<Recorded, ServerError> {
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut stop = false;
    let mut notice = false;
    // Read once, inside this write transaction: nothing else changes the link meanwhile.
    let fresh = store::marketplace::link(&mut tx, link.id)
        .await?
        .unwrap_or_else(|| link.clone());
    let before = fresh.entitlement;
    let mut permission = fresh.permission_denied_since;
    let mut current = before;
    for (index, (report, attempts)) in sending.iter().enumerate() {
        let reply = replies.get(index).cloned().unwrap_or(Reply {
            answer: Answer::Retryable("no answer".into()),
            receipt: None,
        });
        let next = rules::after_answer(
            link.marketplace,
            &reply.answer,
            *attempts,
            now,
            report.uncertain || rules::uncertain(&reply.answer),
        );
        if next.billed() {
            pass.accepted += 1;
        }
        if next == ReportState::Late {
            pass.late += 1;
        }
        let recorded = store::marketplace::set_report_state(
            &mut tx,
            report.id,
            "sending",
            &next,
            reply.receipt.as_deref(),
            rules::uncertain(&reply.answer),
            now,
        )
        .await?;
        if !recorded {
            // Passes take turns and unlinking waits for a pass to end: this cannot happen
            // unless someone edited the row meanwhile. Say so rather than lose the answer.
            tracing::error!(report = report.id, answer = ?reply.answer, "a report's answer could not be recorded: it was no longer sending");
        }
        if matches!(
            reply.answer,
            Answer::Retryable(_) | Answer::PermissionDenied(_) | Answer::Unconfirmed(_)
        ) {
            stop = true;
        }
        // A refusal for lack of permission starts the link grace; an accepted report ends it.
        let denied = match (&reply.answer, permission) {
            (Answer::PermissionDenied(why), None) => Some((Some(now), why.as_str())),
            (Answer::Accepted | Answer::Duplicate, Some(_)) => {
                Some((None, "a report was accepted"))
            }
            _ => None,
        };
        if let Some((since, why)) = denied {
            let row = LinkRow {
                permission_denied_since: permission,
                ..fresh.clone()
            };
            super::grace::note_permission(&mut tx, state, &row, since, why).await?;
            permission = since;
        }
        if reply.answer == Answer::NotEntitled {
            notice = true;
        }
        if matches!(
            reply.answer,
            Answer::Accepted | Answer::Duplicate | Answer::NotEntitled
        ) {
            let after = rules::entitlement_after(current, &reply.answer, now);
            note_entitlement(&mut tx, state, &Actor::system(), link, current, after, now).await?;
            current = after;
        }
        if next.billed() {
            store::marketplace::set_last_report(&mut tx, link.id, now).await?;
        }
    }
    tx.commit().await?;
    if current != before {
        // Growth stops or resumes now; suspension follows the grace period.
        if let Err(error) = crate::server::instances::follow_license(state).await {
            tracing::warn!(%error, "instances will follow the subscription at the watcher's next round");
        }
    }
    Ok(Recorded { stop, notice })
}
