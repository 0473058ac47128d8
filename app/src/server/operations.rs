//! Drives operations through their steps in the background. Each operation is a row; each
//! completed step is committed before the next begins. At start, every operation still marked
//! running (the console stopped in the middle, kill -9 included) is taken up again from its
//! first step not done, so nothing is lost and no completed step runs twice. Steps do not
//! restore processes that a crash took away: the control loop (`reconciler`) does, and the
//! runner holds the instance's lock while a step acts so that the two never act at once.

use super::provisioner::{Provisioner, StepWork};
use super::reconciler::ControlLoop;
use super::store::{self, operations::OperationRow};
use super::{AppState, ServerError};
use crate::domain::operation::OperationStatus;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The provisioner, the operations this process is driving right now, and the control loop
/// that keeps the instances' data plane as recorded.
pub struct Operations {
    provisioner: Arc<dyn Provisioner>,
    in_flight: Mutex<HashSet<i64>>,
    pub control: ControlLoop,
}

impl Operations {
    pub fn new(provisioner: Arc<dyn Provisioner>) -> Arc<Operations> {
        Arc::new(Operations {
            provisioner,
            in_flight: Mutex::new(HashSet::new()),
            control: ControlLoop::default(),
        })
    }

    pub fn provisioner(&self) -> &Arc<dyn Provisioner> {
        &self.provisioner
    }

    /// True when the caller now owns driving `id` (no other task of this process does).
    fn claim(&self, id: i64) -> bool {
        self.in_flight
            .lock()
            .map(|mut set| set.insert(id))
            .unwrap_or(false)
    }

    fn release(&self, id: i64) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(&id);
        }
    }
}

/// Drives operation `id` to its end in a background task, unless one already does.
pub fn drive(state: &AppState, id: i64) {
    if !state.operations.claim(id) {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        // A database error leaves the operation running: try again shortly (and at the next
        // start in any case).
        while let Err(error) = run(&state, id).await {
            tracing::warn!(operation = id, %error, "operation interrupted; retrying in 5 s");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        state.operations.release(id);
    });
}

/// Takes up every operation left running by a previous process. Called once at start.
pub async fn resume_all(state: &AppState) -> Result<usize, ServerError> {
    let ids = store::operations::running_operations(&state.pool).await?;
    for id in &ids {
        tracing::info!(operation = id, "taking up an operation left running");
        drive(state, *id);
    }
    Ok(ids.len())
}

async fn run(state: &AppState, id: i64) -> Result<(), ServerError> {
    loop {
        let Some(op) = store::operations::operation(&state.pool, id).await? else {
            return Ok(());
        };
        if op.status != OperationStatus::Running {
            return Ok(());
        }
        let kind = op.kind();
        let steps = kind.steps();
        let done = usize::try_from(op.steps_done).unwrap_or(usize::MAX);
        let Some(step) = steps.get(done) else {
            let now = state.clock.unix();
            store::operations::finish_operation(&state.pool, &op, kind.state_after(), now).await?;
            tracing::info!(operation = id, kind = kind.as_str(), "operation succeeded");
            super::metrics::operation_ended(kind.as_str(), false, (now - op.requested_at) as f64);
            state.operations.control.wake(op.instance_id);
            return Ok(());
        };
        // Held while the step acts and is recorded: the control loop waits meanwhile.
        let lock = state.operations.control.locks.of(op.instance_id);
        let held = lock.lock().await;
        let mut conn = state.pool.acquire().await?;
        let Some(instance) = store::instances::get(&mut conn, op.instance_id).await? else {
            return Ok(());
        };
        drop(conn);
        let attempt = store::operations::begin_step(
            &state.pool,
            id,
            done,
            step.id.as_str(),
            state.clock.unix(),
        )
        .await?;
        let work = StepWork {
            instance: &instance,
            kind,
            step,
            index: done,
            attempt,
            retry: op.from_state == crate::domain::instance::State::Abnormal,
            target_aku: op
                .to_aku
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or_else(|| instance.size()),
        };
        // Every log line of the step's work carries the operation, instance, kind and step.
        let span = tracing::info_span!(
            "operation_step",
            operation = id,
            instance = %instance.name,
            kind = kind.as_str(),
            step = step.id.as_str(),
            attempt,
        );
        let outcome = {
            use tracing::Instrument;
            state
                .operations
                .provisioner
                .run_step(&work)
                .instrument(span)
                .await
        };
        match outcome {
            Ok(report) => {
                store::operations::complete_step(
                    &state.pool,
                    id,
                    done,
                    report.detail.as_deref(),
                    report.bootstrap.as_deref().map(|b| (instance.id, b)),
                    state.clock.unix(),
                )
                .await?;
            }
            Err(error) => {
                fail(state, &op, done, &super::provisioner::reason(&error)).await?;
                drop(held);
                state.operations.control.wake(op.instance_id);
                return Ok(());
            }
        }
        drop(held);
        // Level-triggered: after each step the loop looks at the instance again (a step
        // past start-brokers now wants a serving broker, past stop-brokers none).
        state.operations.control.wake(op.instance_id);
    }
}

async fn fail(
    state: &AppState,
    op: &OperationRow,
    step: usize,
    reason: &str,
) -> Result<(), ServerError> {
    tracing::warn!(operation = op.id, %reason, "operation failed; the instance is abnormal");
    let now = state.clock.unix();
    store::operations::fail_operation(&state.pool, op, step, reason, now).await?;
    super::metrics::operation_ended(op.kind().as_str(), true, (now - op.requested_at) as f64);
    Ok(())
}
