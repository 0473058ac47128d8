//! What the console does to instances on its own: the license watcher suspends and resumes
//! them as the license and the marketplace subscription allow, and the control loop records a
//! broker that died and restarts it.

use super::*;

/// Suspends running instances while there is a reason to (the license lapsed, the
/// marketplace subscription ended and its grace period passed); resumes suspended ones only
/// once no reason is left, so a renewed subscription does not wake an instance whose license
/// lapsed. Called by the license watcher, after a key is applied and when the subscription
/// changes. Nothing is ever deleted.
pub async fn follow_license(state: &AppState) -> Result<(), ServerError> {
    // The end of a link grace is audited once (growth is refused from then on).
    crate::server::marketplace::grace::notice_end(state).await?;
    let now = license::now(state).await?;
    let phase = now.status.phase;
    if phase == Phase::Unactivated {
        return Ok(());
    }
    let billing = now.current.as_ref().map(|c| c.payload.billing);
    let mut reasons = Vec::new();
    if phase == Phase::Lapsed {
        reasons.push("license lapsed");
    }
    let effect = {
        let mut conn = state.pool.acquire().await?;
        crate::server::marketplace::effect_on(state, &mut conn, billing, state.clock.unix()).await?
    };
    if effect == SubscriptionEffect::Suspend {
        reasons.push("marketplace subscription ended");
    }
    let (wanted, from) = if reasons.is_empty() {
        (OperationKind::Resume, State::Suspended)
    } else {
        (OperationKind::Suspend, State::Running)
    };
    let system = Actor::system();
    let suspend_reasons = reasons.join(", ");
    let (action, why) = if wanted == OperationKind::Suspend {
        ("instance_suspend", suspend_reasons.as_str())
    } else {
        (
            "instance_resume",
            "no reason to stay suspended is left (license valid, subscription in force)",
        )
    };
    for instance in store::in_state(&state.pool, from).await? {
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Ok(instance) = idle_instance(&mut tx, instance.id).await else {
            continue; // busy: the next round sees it again
        };
        if instance.state() != from {
            continue;
        }
        let entry = Entry {
            action,
            detail: why,
        };
        start(tx, state, &system, &instance, wanted, None, entry).await?;
    }
    Ok(())
}

/// A running instance's broker process died: the instance turns abnormal with the reason (and
/// the audit entry that says so, in the same transaction). False when the instance is not
/// running (stopped on purpose, deleted, or busy: the caller waits for the operation to end
/// and asks again).
pub async fn broker_died(state: &AppState, id: i64, reason: &str) -> Result<bool, ServerError> {
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let Ok(instance) = idle_instance(&mut tx, id).await else {
        return Ok(false);
    };
    if instance.state() != State::Running {
        return Ok(false);
    }
    let now = state.clock.unix();
    store::set_state(
        &mut tx,
        id,
        State::Abnormal,
        instance.target(),
        Some(reason),
        now,
    )
    .await?;
    audit::record_in(
        &mut tx,
        state,
        &Actor::system(),
        "instance_abnormal",
        Some(&instance.name),
        Outcome::Failure,
        Some(reason),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// What [`restart_broker`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Restart {
    /// A resume operation starts the broker again.
    Started,
    /// An operation is running on the instance: ask again later.
    Busy,
    /// The instance no longer needs it (running again, deleted, or abnormal for another
    /// reason that the operator decides on), or the license has lapsed.
    NotNeeded,
}

/// Starts the broker of an instance that turned abnormal because its broker died (the
/// control loop's back-off decides when).
pub async fn restart_broker(state: &AppState, id: i64) -> Result<Restart, ServerError> {
    let (now, _) = license::license_clock(state).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let instance = match idle_instance(&mut tx, id).await {
        Ok(instance) => instance,
        Err(ServerError::App(AppError::Conflict(_))) => return Ok(Restart::Busy),
        Err(_) => return Ok(Restart::NotNeeded),
    };
    if instance.state() != State::Abnormal {
        return Ok(Restart::NotNeeded);
    }
    let latest = ops::latest_operation_of(&mut tx, id).await?;
    let again = operation::retry_after(latest.as_ref().map(OperationRow::outcome));
    if again != Some(OperationKind::Resume) {
        return Ok(Restart::NotNeeded);
    }
    let (current, status, _) = license::status_on(state, &mut tx, now).await?;
    if status.phase == Phase::Lapsed {
        return Ok(Restart::NotNeeded);
    }
    let billing = current.as_ref().map(|c| c.payload.billing);
    if crate::server::marketplace::effect_on(state, &mut tx, billing, now.unix_timestamp()).await?
        == SubscriptionEffect::Suspend
    {
        return Ok(Restart::NotNeeded);
    }
    let why = instance.state_reason.clone().unwrap_or_default();
    let entry = Entry {
        action: "instance_restart",
        detail: &why,
    };
    start(
        tx,
        state,
        &Actor::system(),
        &instance,
        OperationKind::Resume,
        None,
        entry,
    )
    .await?;
    Ok(Restart::Started)
}
