//! Writing audit entries from the services: who acted, from where; and the one rule that
//! decides which refusals are audited.
//!
//! A change writes its entry with [`record_in`], inside the transaction of the change, before
//! it commits: a crash leaves both or neither. [`record`] (a transaction of its own) is for
//! events that change nothing else: a failed sign-in, a refusal, a sign-out, a request about
//! to be carried out on a broker.

use super::access::{Admin, Authorized};
use super::paging::{self, Keyset};
use super::store::audit::Filter;
use super::{store, AppState, ServerError};
use crate::domain::audit_chain::{Break, ChainWalk};
use crate::domain::refusal_log::{self, Admit, Dropped, RefusalLog};
use crate::wire::audit::{AuditEntry, AuditPage, ChainStatus, PAGE_LIMIT, PAGE_SIZE};
use crate::wire::error::AppError;
use sqlx::SqliteConnection;
use time::{macros::format_description, Date};

/// The person (or would-be person) behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in user name, or the name typed at a failed sign-in.
    pub name: String,
    /// The client's address as the server saw it.
    pub addr: String,
}

impl Actor {
    /// The console itself, as the actor of what it does on its own.
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            addr: "local".into(),
        }
    }

    /// Someone not signed in, from `addr`.
    pub fn anonymous(addr: &str) -> Actor {
        Actor {
            name: "anonymous".into(),
            addr: addr.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Failure,
    /// Not attempted: throttled, forbidden, or refused by the license or the quota.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

/// Appends an entry inside `conn`'s transaction (begun with `BEGIN IMMEDIATE`): it commits
/// with the change it records, or neither does.
pub async fn record_in(
    conn: &mut SqliteConnection,
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: Option<&str>,
) -> Result<(), ServerError> {
    store::audit::append_in(
        conn,
        store::audit::Entry {
            at: state.clock.unix(),
            actor: &actor.name,
            action,
            target,
            client_addr: Some(&actor.addr),
            outcome: outcome.as_str(),
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Appends an entry in a transaction of its own: for events that change nothing else.
pub async fn record(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: Option<&str>,
) -> Result<(), ServerError> {
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    record_in(&mut tx, state, actor, action, target, outcome, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// **The rule**, one for every endpoint: which refusals enter the audit log.
///
/// Audited: refusals of authorisation (401 not signed in; 403 a role too small, a password to
/// change first, a disabled account, a cross-site request), throttling (429), and refusals by
/// the license or the quota ([`ServerError::Policy`], marked so where the rule refuses, even
/// when the answer names a field, like the quota's "needs 12 AKU, 8 left" on `size_aku`).
///
/// Not audited: malformed input (422 for a field's rule, 400), what does not exist (404),
/// conflicts with a passing state (409: an operation in progress, the last administrator) and
/// internal failures (logged with their reference instead). So a fuzzer cannot flood the
/// chain, and every audited refusal is one someone should look at.
pub fn audited_refusal(error: &ServerError) -> bool {
    match error {
        ServerError::Policy(_) => true,
        ServerError::App(e) => is_access_refusal(e),
        _ => false,
    }
}

/// 401, 403 and 429: anyone can cause them, as often as they like, so repeats are coalesced.
fn is_access_refusal(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Unauthenticated
            | AppError::Forbidden(_)
            | AppError::CrossSite(_)
            | AppError::TooManyAttempts { .. }
    )
}

/// The coalescing of access refusals (`domain::refusal_log`, where the rule and its bounds
/// are), shared by every request.
#[derive(Debug, Default)]
pub struct RefusalGate(std::sync::Mutex<RefusalLog>);

impl RefusalGate {
    /// The log's decision (None if its lock was poisoned: then nothing is written).
    fn admit(&self, actor: &Actor, action: &str, now: i64) -> Option<(Admit, Option<Dropped>)> {
        let mut log = self.0.lock().ok()?;
        Some(log.admit(&actor.name, &actor.addr, action, now))
    }

    fn sweep(&self, now: i64) -> Vec<Dropped> {
        self.0
            .lock()
            .map(|mut log| log.sweep(now))
            .unwrap_or_default()
    }
}

const REPEATS_NOTE: &str =
    " (further refusals of this kind from this address within a minute are counted, not logged)";

/// Records `error` as a refusal of `action` on `target` if [`audited_refusal`] says so; does
/// nothing for any other error. Access refusals (401, 403, 429) go through the
/// [`RefusalGate`]: no database work decides, and a flood writes a bounded number of entries
/// and one summary a minute per address. The path is kept cut to its first
/// [`refusal_log::TARGET_CHARS`] characters. A failure to write is logged and does not change
/// the answer (the request is refused either way).
pub async fn refusal(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    error: &ServerError,
) {
    if !audited_refusal(error) {
        return;
    }
    let Some(app_error) = error.app_error() else {
        return;
    };
    let mut detail = match app_error {
        AppError::Unauthenticated => "not signed in".to_string(),
        other => other.to_string(),
    };
    let target = target.map(refusal_log::target_of);
    let mut closed = None;
    if matches!(error, ServerError::App(_)) && is_access_refusal(app_error) {
        let Some((admit, window)) = state.refusals.admit(actor, action, state.clock.unix()) else {
            return;
        };
        closed = window;
        if admit == Admit::Coalesced {
            if let Some(dropped) = closed {
                write_dropped(state, &dropped).await;
            }
            return;
        }
        detail.push_str(REPEATS_NOTE);
    }
    if let Some(dropped) = closed {
        write_dropped(state, &dropped).await;
    }
    let result = record(
        state,
        actor,
        action,
        target.as_deref(),
        Outcome::Refused,
        Some(&detail),
    )
    .await;
    if let Err(audit_error) = result {
        tracing::error!(%action, actor = %actor.name, error = %audit_error, "could not audit a refusal");
    }
}

/// Writes the summaries of the refusal windows that have closed (called once a minute).
pub async fn summarise_refusals(state: &AppState) {
    let closed = state.refusals.sweep(state.clock.unix());
    for dropped in &closed {
        write_dropped(state, dropped).await;
    }
}

/// One entry for the refusals a window did not log: action `refusals_not_logged`, the address
/// as actor's address and target.
async fn write_dropped(state: &AppState, dropped: &Dropped) {
    let detail = format!(
        "{} refusals from {} in the minute from {} (UTC) were counted, not logged: at most {} \
         entries a minute per address",
        dropped.count,
        dropped.addr,
        hhmmss(dropped.from),
        refusal_log::ENTRIES_PER_ADDRESS
    );
    let actor = Actor::anonymous(&dropped.addr);
    let result = record(
        state,
        &actor,
        "refusals_not_logged",
        Some(&dropped.addr),
        Outcome::Refused,
        Some(&detail),
    )
    .await;
    if let Err(error) = result {
        tracing::error!(%error, "could not audit the refusals not logged");
    }
}

fn hhmmss(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))
        .unwrap_or_default()
}

/// `YYYY-MM-DD` (UTC) as unix seconds at the start of that day; empty is None.
fn day(field: &str, input: &str) -> Result<Option<i64>, AppError> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    Date::parse(input, format_description!("[year]-[month]-[day]"))
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| AppError::invalid(field, "Enter a date as YYYY-MM-DD."))
}

/// The filter from the page's (or the export's) query: both days inclusive.
pub fn filter(actor: &str, action: &str, from: &str, until: &str) -> Result<Filter, AppError> {
    let text = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.chars().take(200).collect::<String>())
    };
    let from_at = day("from", from)?;
    let until_at = day("until", until)?.map(|t| t + 86_400);
    if let (Some(f), Some(u)) = (from_at, until_at) {
        if u <= f {
            return Err(AppError::invalid(
                "until",
                "The end date must not be before the start date.",
            ));
        }
    }
    Ok(Filter {
        actor: text(actor),
        action: text(action),
        from: from_at,
        until: until_at,
    })
}

/// The audit page's last walk of the hash chain, with the log's edit count it was made at.
#[derive(Debug, Default)]
pub struct KeptChainWalk(std::sync::Mutex<Option<(i64, ChainWalk)>>);

/// Whether the hash chain is intact: the number of entries, or the first break. The last
/// intact walk is kept and goes on from its last entry while the log has only been appended
/// to (its edit count, moved by triggers on anything else, is unchanged); otherwise, and
/// after a break, the whole chain is walked again.
pub async fn chain_status(state: &AppState) -> Result<Result<u64, Break>, ServerError> {
    let edits = store::audit::edits(&state.pool).await?;
    let kept = state
        .audit_chain
        .0
        .lock()
        .ok()
        .and_then(|kept| kept.clone())
        .filter(|(at, _)| *at == edits);
    let mut walk = kept.map(|(_, walk)| walk).unwrap_or_default();
    if let Err(broken) = store::audit::continue_chain(&state.pool, &mut walk).await? {
        return Ok(Err(broken));
    }
    let checked = walk.checked();
    if let Ok(mut kept) = state.audit_chain.0.lock() {
        *kept = Some((edits, walk));
    }
    Ok(Ok(checked))
}

/// The audit log's cursor (newest first).
const ENTRIES: Keyset = Keyset {
    letter: 'a',
    field: "cursor",
};

/// A page of the entries `filter` matches, newest first (those older than `cursor`, if
/// given), how many match in all, the actors and actions to filter by, and whether the hash
/// chain is intact.
pub async fn page(
    state: &AppState,
    _who: &Authorized<Admin>,
    filter: &Filter,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<AuditPage, ServerError> {
    let before = ENTRIES.after(cursor)?;
    let limit = paging::limit(limit, PAGE_SIZE, PAGE_LIMIT)?;
    // One more than asked: whether another page follows.
    let rows = store::audit::search(&state.pool, filter, before, i64::from(limit) + 1).await?;
    let (rows, next) = ENTRIES.page(rows, limit, |r| r.id);
    let total = store::audit::count(&state.pool, filter).await?;
    let (actors, actions) = store::audit::actors_and_actions(&state.pool).await?;
    let chain = match chain_status(state).await? {
        Ok(n) => ChainStatus {
            intact: true,
            message: format!("The hash chain of all {n} entries is intact."),
        },
        Err(broken) => ChainStatus {
            intact: false,
            message: format!("The hash chain is broken: {broken}."),
        },
    };
    Ok(AuditPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                actor: r.actor,
                action: r.action,
                target: r.target,
                client_addr: r.client_addr,
                outcome: r.outcome,
                detail: r.detail,
            })
            .collect(),
        total,
        next,
        actors,
        actions,
        chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let audited = [
            ServerError::App(AppError::Unauthenticated),
            ServerError::App(AppError::Forbidden("role".into())),
            ServerError::App(AppError::CrossSite("site".into())),
            ServerError::App(AppError::TooManyAttempts {
                message: "slow down".into(),
                retry_at: 0,
            }),
            ServerError::policy(AppError::invalid("size_aku", "needs 12 AKU, 8 left")),
            ServerError::policy(AppError::Conflict("the license has lapsed".into())),
        ];
        for error in &audited {
            assert!(audited_refusal(error), "{error:?}");
        }
        let not_audited = [
            ServerError::App(AppError::invalid("name", "too long")),
            ServerError::App(AppError::Request("bad form".into())),
            ServerError::App(AppError::NotFound("no instance 9".into())),
            ServerError::App(AppError::Conflict("busy".into())),
            ServerError::App(AppError::Internal("ref".into())),
            ServerError::invariant("disk"),
        ];
        for error in &not_audited {
            assert!(!audited_refusal(error), "{error:?}");
        }
    }
}
