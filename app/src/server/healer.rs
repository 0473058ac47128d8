//! Keeps every running instance served by its broker: when a broker process dies the instance
//! turns abnormal with the reason, and the healer starts the broker again after a back-off
//! (1 s, doubling up to a minute) until it serves; the operator may retry by hand meanwhile.
//! At start it serves again every instance recorded `running` (their brokers stopped with
//! the previous console, or were cleared after a kill -9).

use super::instances::{self, Restart};
use super::store::instances::{self as store, OperationRow};
use super::AppState;
use crate::domain::instance::State;
use crate::domain::operation::{self, OperationKind};
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);

/// Starts the healer: listens for dead brokers, and reconciles the instances now.
pub fn start(state: &AppState) {
    if let Some(mut deaths) = state.operations.provisioner().take_deaths() {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some(death) = deaths.recv().await {
                let state = state.clone();
                tokio::spawn(async move {
                    on_death(&state, death.instance_id, &death.reason).await;
                });
            }
        });
    }
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = reconcile(&state).await {
            tracing::warn!(%error, "could not serve the running instances again");
        }
    });
}

async fn on_death(state: &AppState, id: i64, reason: &str) {
    // An operation may be running on the instance (a scale): its end decides the state;
    // wait for it, then record the death.
    loop {
        match instances::broker_died(state, id, reason).await {
            Ok(true) => break,
            Ok(false) => {
                let busy = store::running_operations_by_instance(&state.pool)
                    .await
                    .map(|ops| ops.contains_key(&id))
                    .unwrap_or(true);
                if !busy {
                    return; // stopped on purpose, deleted, or already abnormal
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => {
                tracing::warn!(instance = id, %error, "could not record a dead broker");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    heal(state.clone(), id);
}

/// Brings the instance's broker back with back-off, unless a healer already does.
fn heal(state: AppState, id: i64) {
    let claimed = state
        .operations
        .healing
        .lock()
        .map(|mut h| h.insert(id))
        .unwrap_or(false);
    if !claimed {
        return;
    }
    tokio::spawn(async move {
        let mut delay = FIRST_DELAY;
        let mut healed = false;
        loop {
            tokio::time::sleep(delay).await;
            match instances::restart_broker(&state, id).await {
                Ok(Restart::Started) => {
                    if wait_until_idle(&state, id).await == Some(State::Running) {
                        tracing::info!(instance = id, "broker serving again");
                        healed = true;
                        break;
                    }
                }
                Ok(Restart::Busy) => {}
                Ok(Restart::NotNeeded) => break,
                Err(error) => tracing::warn!(instance = id, %error, "restarting a broker"),
            }
            delay = (delay * 2).min(MAX_DELAY);
        }
        if let Ok(mut healing) = state.operations.healing.lock() {
            healing.remove(&id);
        }
        // A death noticed while this healer still held the instance found it claimed: look
        // once more, so that no dead broker is left without a healer.
        if healed && needs_healing(&state, id).await {
            heal(state, id);
        }
    });
}

/// Abnormal because its broker died (or a restart failed), not for another reason.
async fn needs_healing(state: &AppState, id: i64) -> bool {
    let Ok(mut conn) = state.pool.acquire().await else {
        return false;
    };
    let abnormal = matches!(
        store::get(&mut conn, id).await,
        Ok(Some(instance)) if instance.state() == State::Abnormal
    );
    if !abnormal || !state.operations.provisioner().is_real() {
        return false;
    }
    let Ok(latest) = store::latest_operation_of(&mut conn, id).await else {
        return false;
    };
    operation::retry_after(latest.as_ref().and_then(OperationRow::outcome))
        == Some(OperationKind::Resume)
}

/// The instance's state once no operation runs on it.
async fn wait_until_idle(state: &AppState, id: i64) -> Option<State> {
    loop {
        let mut conn = state.pool.acquire().await.ok()?;
        let busy = store::running_operation_of(&mut conn, id)
            .await
            .ok()?
            .is_some();
        if !busy {
            return store::get(&mut conn, id).await.ok()?.map(|i| i.state());
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reconcile(state: &AppState) -> Result<(), super::ServerError> {
    let provisioner = state.operations.provisioner().clone();
    let busy = store::running_operations_by_instance(&state.pool).await?;
    for instance in store::in_state(&state.pool, State::Running).await? {
        if busy.contains_key(&instance.id) {
            continue;
        }
        if let Err(reason) = provisioner.ensure_serving(&instance).await {
            tracing::warn!(instance = instance.id, %reason, "broker did not start");
            on_death(state, instance.id, &reason).await;
        }
    }
    for instance in store::in_state(&state.pool, State::Abnormal).await? {
        if needs_healing(state, instance.id).await {
            heal(state.clone(), instance.id);
        }
    }
    Ok(())
}
