//! The control loop: keeps each instance's data plane (its broker process) as the database
//! says it should be, level-triggered as Kubernetes controllers are. For every instance it
//! reads what is wanted (`domain::reconcile::wanted`, from the recorded state and the running
//! operation), observes what runs (the process is alive *and* answers a Kafka `ApiVersions`
//! request, `broker::probe`), and does the one action that closes the difference
//! (`domain::reconcile::decide`): adopt, start, stop, replace, or record the instance
//! `abnormal` with the reason and heal it with back-off.
//!
//! It runs at start, after every operation step (the runner wakes it), when a broker the
//! console started exits, and every [`PROBE`]`.every` over all instances. Each pass is
//! idempotent. The runner and the loop never act on one instance at the same moment: both
//! hold that instance's lock ([`InstanceLocks`]) while they act, the runner for each step,
//! the loop for each look-and-act.

use super::audit::{self, Actor, Outcome};
use super::instances::{self, Restart};
use super::provisioner::{BrokerCheck, Maintenance, Served};
use super::store::instances::{self as store};
use super::store::operations::{self as ops, OperationRow};
use super::AppState;
use crate::domain::instance::State;
use crate::domain::operation::{self, OperationKind};
use crate::domain::reconcile::{
    decide, heal_delay, wanted, Action, Fault, Observed, RunningOperation, Want, PROBE,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// One lock per instance, shared by the operation runner and the control loop.
#[derive(Default)]
pub struct InstanceLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl InstanceLocks {
    pub fn of(&self, instance_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(instance_id).or_default().clone()
    }
}

/// What the loop remembers between passes (in memory: after a console restart it observes
/// afresh, which is the point of being level-triggered).
pub struct ControlLoop {
    pub locks: InstanceLocks,
    wake: mpsc::UnboundedSender<i64>,
    woken: Mutex<Option<mpsc::UnboundedReceiver<i64>>>,
    /// Consecutive unanswered probes of each live broker.
    failed_probes: Mutex<HashMap<i64, u32>>,
    /// Healing of abnormal instances: attempts so far and when the next may start.
    healing: Mutex<HashMap<i64, (u32, Instant)>>,
    /// How the console's own broker processes exited, by instance: (pid, how).
    exits: Mutex<HashMap<i64, (i32, String)>>,
    /// Replacing live brokers (a new broker program after an upgrade) is one instance at a
    /// time: each is interrupted briefly, never all at once.
    replacing: tokio::sync::Mutex<()>,
    /// Set when the console stops: no look starts any more (see [`stop`]).
    stopped: std::sync::atomic::AtomicBool,
}

impl Default for ControlLoop {
    fn default() -> Self {
        let (wake, woken) = mpsc::unbounded_channel();
        ControlLoop {
            locks: InstanceLocks::default(),
            wake,
            woken: Mutex::new(Some(woken)),
            failed_probes: Mutex::new(HashMap::new()),
            healing: Mutex::new(HashMap::new()),
            exits: Mutex::new(HashMap::new()),
            replacing: tokio::sync::Mutex::new(()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl ControlLoop {
    /// Asks for a look at `instance_id` now (after an operation step, or an exit).
    pub fn wake(&self, instance_id: i64) {
        let _ = self.wake.send(instance_id);
    }

    fn streak(&self, id: i64, answered: bool) -> u32 {
        let mut streaks = self.failed_probes.lock().unwrap_or_else(|e| e.into_inner());
        if answered {
            streaks.remove(&id);
            0
        } else {
            let streak = streaks.entry(id).or_insert(0);
            *streak += 1;
            *streak
        }
    }

    fn forget_streak(&self, id: i64) {
        let mut streaks = self.failed_probes.lock().unwrap_or_else(|e| e.into_inner());
        streaks.remove(&id);
    }

    /// True when the back-off lets healing attempt `id` now; counts the attempt.
    fn heal_due(&self, id: i64) -> bool {
        let mut healing = self.healing.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (attempts, next) = healing.entry(id).or_insert((0, now));
        if now < *next {
            return false;
        }
        *attempts += 1;
        *next = now + heal_delay(*attempts + 1);
        true
    }

    /// The first heal of a broker that just failed waits [`heal_delay`]`(1)`.
    fn heal_after_failure(&self, id: i64) {
        let mut healing = self.healing.lock().unwrap_or_else(|e| e.into_inner());
        let first = Instant::now() + heal_delay(1);
        healing
            .entry(id)
            .and_modify(|(_, next)| *next = (*next).max(first))
            .or_insert((0, first));
    }

    fn healed(&self, id: i64) {
        let mut healing = self.healing.lock().unwrap_or_else(|e| e.into_inner());
        healing.remove(&id);
    }
}

/// Starts the loop: a pass over every instance now, then on every wake and every
/// [`PROBE`]`.every`. Does nothing for a provisioner that runs nothing outside the console.
pub fn start(state: &AppState) {
    let provisioner = state.operations.provisioner().clone();
    if !provisioner.is_real() {
        return;
    }
    let control = &state.operations.control;
    let Some(mut woken) = control.woken.lock().ok().and_then(|mut w| w.take()) else {
        return; // started already
    };
    if let Some(mut exits) = provisioner.take_exits() {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some(exit) = exits.recv().await {
                let control = &state.operations.control;
                if let Ok(mut known) = control.exits.lock() {
                    known.insert(exit.instance_id, (exit.pid, exit.how));
                }
                control.wake(exit.instance_id);
            }
        });
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => pass(&state).await,
                Some(id) = woken.recv() => {
                    // Looked at in its own task: a slow stop must not hold up the others.
                    let state = state.clone();
                    tokio::spawn(async move { reconcile_one(&state, id, Wait::Yes).await });
                }
            }
        }
    });
}

/// Stops the loop for good (the console is stopping): no look starts from now on, and the
/// looks under way are waited for (each instance's lock taken once), so that nothing starts
/// a node after this returns: stopping the nodes with the console
/// (`--stop-brokers-on-exit`) must not race a loop that would see them stop and start them
/// again.
pub async fn stop(state: &AppState) {
    let control = &state.operations.control;
    control
        .stopped
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut ids = store::live_ids(&state.pool).await.unwrap_or_default();
    ids.extend(state.operations.provisioner().instances_on_host());
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        drop(control.locks.of(id).lock().await);
    }
}

/// How many instances are looked at at once in a pass (probes of hung brokers take their
/// whole timeout; done one by one, 100 of them would take 100 s).
const PASS_CONCURRENCY: usize = 32;

/// One look at every instance: those not deleted, and any with something on this host.
async fn pass(state: &AppState) {
    let mut ids: Vec<i64> = match store::live_ids(&state.pool).await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::warn!(%error, "control loop: cannot read the instances");
            return;
        }
    };
    ids.extend(state.operations.provisioner().instances_on_host());
    ids.sort_unstable();
    ids.dedup();
    futures::stream::iter(ids)
        .for_each_concurrent(PASS_CONCURRENCY, |id| reconcile_one(state, id, Wait::No))
        .await;
    super::metrics::control_loop_pass();
}

/// Whether to wait for an instance the operation runner holds (a wake after a step) or to
/// skip it (a periodic pass: the runner wakes the loop when its step is done).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    Yes,
    No,
}

async fn reconcile_one(state: &AppState, id: i64, wait: Wait) {
    let control = &state.operations.control;
    let lock = control.locks.of(id);
    let _held = match wait {
        Wait::Yes => lock.lock().await,
        Wait::No => match lock.try_lock() {
            Ok(held) => held,
            Err(_) => return,
        },
    };
    if control.stopped.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    if let Err(error) = look_and_act(state, id).await {
        tracing::warn!(instance = id, %error, "control loop");
    }
}

/// The recorded state and the running operation of `id` (`None`: no such instance, as for a
/// broker directory the database does not know).
async fn desired(
    state: &AppState,
    id: i64,
) -> Result<(Option<store::InstanceRow>, Want, bool), super::ServerError> {
    let mut conn = state.pool.acquire().await?;
    let Some(instance) = store::get(&mut conn, id).await? else {
        return Ok((None, Want::NoBroker, true));
    };
    let running = ops::running_operation_of(&mut conn, id).await?;
    let healable = instance.state() == State::Abnormal
        && running.is_none()
        && operation::retry_after(
            ops::latest_operation_of(&mut conn, id)
                .await?
                .as_ref()
                .map(OperationRow::outcome),
        ) == Some(OperationKind::Resume);
    let op = running.as_ref().and_then(|op| {
        Some(RunningOperation {
            kind: op.kind(),
            steps_done: usize::try_from(op.steps_done).ok()?,
        })
    });
    let want = wanted(instance.state(), op, healable);
    Ok((Some(instance), want, running.is_none()))
}

async fn look_and_act(state: &AppState, id: i64) -> Result<(), super::ServerError> {
    let control = &state.operations.control;
    let provisioner = state.operations.provisioner().clone();
    let (instance, want, idle) = desired(state, id).await?;
    if want == Want::LeftAlone {
        control.forget_streak(id);
        return Ok(());
    }
    let Some(check) = provisioner.check(id, PROBE.timeout).await else {
        return Ok(());
    };
    let failed_probes = if check.alive {
        control.streak(id, check.answer.is_ok())
    } else {
        control.forget_streak(id);
        0
    };
    let observed = Observed {
        alive: check.alive,
        failed_probes,
        right_program: check.right_program,
    };
    let action = decide(want, observed, idle, PROBE);
    match (action, instance) {
        (Action::Nothing, Some(instance)) => {
            if instance.state() == State::Running && observed.alive {
                control.healed(id);
                if idle && check.answer.is_ok() {
                    maintain(state, &instance).await?;
                }
            }
        }
        (Action::Nothing, None) => {}
        (Action::Stop, _) => {
            tracing::info!(instance = id, ?want, "control loop: stopping a broker");
            provisioner.ensure_stopped(id).await;
        }
        (Action::Start | Action::Replace, Some(instance)) => {
            let _one_at_a_time = match action {
                Action::Replace => Some(control.replacing.lock().await),
                _ => None,
            };
            let replacing_since = Instant::now();
            if action == Action::Replace {
                tracing::warn!(
                    instance = id,
                    right_program = check.right_program,
                    failed_probes,
                    "control loop: replacing a broker"
                );
                provisioner.ensure_stopped(id).await;
            }
            control.forget_streak(id);
            match provisioner.ensure_serving(&instance).await {
                Ok(Served::Started(pid)) if action == Action::Replace => {
                    let took = replacing_since.elapsed().as_millis();
                    tracing::warn!(
                        instance = id,
                        pid,
                        took_ms = took,
                        "control loop: broker replaced"
                    );
                    audit::record(
                        state,
                        &Actor::system(),
                        "broker_restart",
                        Some(&instance.name),
                        Outcome::Success,
                        Some(&format!(
                            "replaced (pid {pid}; the old one ran another program or answered \
                             no probe), answering again after {took} ms"
                        )),
                    )
                    .await?;
                }
                Ok(Served::Started(pid)) => {
                    tracing::info!(instance = id, pid, "control loop: broker started");
                }
                Ok(Served::Adopted) => {}
                // The operation's own steps report failures; the next pass tries again.
                Err(error) => {
                    let reason = super::provisioner::reason(&error);
                    tracing::warn!(instance = id, %reason, "control loop: start");
                }
            }
        }
        (Action::MarkAbnormal(fault), Some(_)) => {
            let reason = fault_reason(control, id, fault, &check);
            control.forget_streak(id);
            if instances::broker_died(state, id, &reason).await? {
                tracing::warn!(instance = id, %reason, "control loop: instance abnormal");
                if fault == Fault::Hung {
                    // A hung process is of no use and holds the port: it goes now (SIGTERM,
                    // then SIGKILL), and healing starts a fresh one.
                    provisioner.ensure_stopped(id).await;
                }
                control.heal_after_failure(id);
            }
        }
        (Action::Heal, Some(_)) => {
            if control.heal_due(id) {
                match instances::restart_broker(state, id).await? {
                    Restart::Started => tracing::info!(instance = id, "control loop: healing"),
                    Restart::Busy => {}
                    Restart::NotNeeded => control.healed(id),
                }
            }
        }
        // Not an instance the database knows: only stopping applies.
        (Action::Start | Action::Replace | Action::MarkAbnormal(_) | Action::Heal, None) => {}
    }
    Ok(())
}

/// Keeps a serving instance's certificate, endpoint and users as they should be, and audits
/// what had to be done: a user a client added, changed or removed behind the console's back
/// is put back, and the log says so.
async fn maintain(
    state: &AppState,
    instance: &store::InstanceRow,
) -> Result<(), super::ServerError> {
    let provisioner = state.operations.provisioner();
    let done = match provisioner.maintain(instance).await {
        Ok(done) => done,
        Err(error) => {
            let reason = super::provisioner::reason(&error);
            tracing::warn!(instance = instance.id, %reason, "control loop: maintenance");
            return Ok(());
        }
    };
    for what in done {
        let (action, detail) = match what {
            Maintenance::Restarted(how) => ("broker_restart", how),
            Maintenance::CertificatesRenewed(what) => ("certificate_renew", what.join("; ")),
            Maintenance::Rolled(how) => ("node_roll", how),
            Maintenance::AclsRestored(how) => ("kafka_acls_restore", how),
            Maintenance::UsersRestored(found) => (
                "kafka_users_restore",
                format!(
                    "the broker's users differed from the console's and were put back: {}",
                    found.join("; ")
                ),
            ),
        };
        tracing::warn!(instance = instance.id, action, %detail, "control loop");
        audit::record(
            state,
            &Actor::system(),
            action,
            Some(&instance.name),
            Outcome::Success,
            Some(&detail),
        )
        .await?;
    }
    Ok(())
}

/// The reason an operator reads on an instance whose broker failed.
fn fault_reason(control: &ControlLoop, id: i64, fault: Fault, check: &BrokerCheck) -> String {
    let port = check
        .port
        .map_or_else(|| "its port".to_string(), |p| format!("port {p}"));
    match fault {
        Fault::Dead => {
            // How it exited, when it is the process the pid file names (not an earlier one).
            let exit = control.exits.lock().ok().and_then(|mut e| e.remove(&id));
            match exit {
                Some((pid, how)) if Some(pid) == check.recorded_pid => {
                    format!("the broker process on {port} exited ({how})")
                }
                _ => format!("no broker process serves {port}"),
            }
        }
        Fault::Hung => format!(
            "the broker process on {port} is alive but answered no Kafka request in {} probes \
             {} s apart ({})",
            PROBE.failures_to_act,
            PROBE.every.as_secs(),
            check.answer.as_ref().err().map_or("", String::as_str)
        ),
    }
}
