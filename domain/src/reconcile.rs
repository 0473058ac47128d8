//! The control loop's rules (level-triggered reconciliation, as Kubernetes controllers do):
//! what each instance *wants* from the data plane, derived from its recorded state and the
//! operation running on it; what the console *observes* (is the broker process alive, does
//! its port answer a Kafka request, is it the configured program); and the one action that
//! closes the difference. The server probes and acts; the rules are here, free of processes,
//! clocks and the database, so that the whole table is tested below.
//!
//! | recorded state (operation running)                  | wants                    |
//! |-----------------------------------------------------|--------------------------|
//! | `running`, no operation                             | a serving broker         |
//! | `changing` (scale)                                  | a serving broker         |
//! | `creating`, create past its `start-brokers` step    | a serving broker         |
//! | `creating`, create before its `start-brokers` step  | nothing yet (steps act)  |
//! | resume past its `start-brokers` step                | a serving broker         |
//! | resume before its `start-brokers` step              | nothing yet (steps act)  |
//! | suspend or delete before its `stop-brokers` step    | left alone (steps act)   |
//! | suspend or delete past its `stop-brokers` step      | no broker                |
//! | `suspended`, `deleted`, no operation                | no broker                |
//! | `abnormal`, no operation, its broker died           | healing, with back-off   |
//! | `abnormal`, no operation, an operation failed       | left to the operator     |

use crate::instance::State;
use crate::operation::{OperationKind, StepId};
use std::time::Duration;

/// What an instance wants from the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// One broker process of the configured program, answering Kafka requests.
    Serving,
    /// No broker process at all.
    NoBroker,
    /// Healing: its broker died or hung; start it again when the back-off allows.
    Heal,
    /// Nothing yet: an operation's own steps are about to act, or the operator decides.
    LeftAlone,
}

/// The operation running on an instance, as far as the control loop cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningOperation {
    pub kind: OperationKind,
    /// Steps recorded as done.
    pub steps_done: usize,
}

/// Whether the step named `step` of `kind` is recorded as done after `steps_done` steps.
fn past(kind: OperationKind, step: StepId, steps_done: usize) -> bool {
    kind.steps()
        .iter()
        .position(|s| s.id == step)
        .is_some_and(|at| steps_done > at)
}

/// The table above. `healable` says, for an abnormal instance, whether it turned abnormal
/// because its broker died or hung (its latest operation succeeded, or the resume that
/// restarts the broker failed) rather than because an operation failed.
pub fn wanted(state: State, running: Option<RunningOperation>, healable: bool) -> Want {
    let Some(op) = running else {
        return match state {
            State::Running | State::Changing => Want::Serving,
            State::Suspended | State::Deleted => Want::NoBroker,
            State::Abnormal if healable => Want::Heal,
            State::Abnormal | State::Creating | State::Deleting => Want::LeftAlone,
        };
    };
    match op.kind {
        OperationKind::Scale => Want::Serving,
        OperationKind::Create | OperationKind::Resume => {
            if past(op.kind, StepId::StartBrokers, op.steps_done) {
                Want::Serving
            } else {
                Want::LeftAlone
            }
        }
        OperationKind::Suspend | OperationKind::Delete => {
            if past(op.kind, StepId::StopBrokers, op.steps_done) {
                Want::NoBroker
            } else {
                Want::LeftAlone
            }
        }
    }
}

/// What the console saw of an instance's broker in one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// A process is alive whose pid the instance's pid file names, and it is that instance's
    /// broker (its working directory and command line say so; a reused pid is not).
    pub alive: bool,
    /// Consecutive probes (this one included) whose Kafka `ApiVersions` request got no answer
    /// within the probe timeout; 0 when this one was answered.
    pub failed_probes: u32,
    /// The process runs the configured broker program (not an older, replaced binary).
    pub right_program: bool,
}

/// How the loop probes: a slow but healthy broker under load is not killed for one slow
/// answer, only after [`Probe::failures_to_act`] in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Time between two passes of the loop over every instance.
    pub every: Duration,
    /// How long one `ApiVersions` request may take.
    pub timeout: Duration,
    /// Consecutive unanswered probes after which a live broker counts as hung.
    pub failures_to_act: u32,
}

/// The console's probe. A hung broker is acted on within
/// `every × (failures_to_act − 1) + timeout` after its first missed probe, and the first
/// probe comes at most `every` after it hangs: 2 × 2 s + 1 s + 2 s = 7 s, inside the 10 s the
/// product promises. A dead process is acted on at the first probe (or at once when the
/// console started it and sees it exit).
pub const PROBE: Probe = Probe {
    every: Duration::from_secs(2),
    timeout: Duration::from_secs(1),
    failures_to_act: 3,
};

/// Why a broker that should serve does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No live broker process.
    Dead,
    /// Alive, but it answered no Kafka request in `failures_to_act` probes.
    Hung,
}

/// The one thing the loop does for an instance in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Observed matches wanted (a live, answering broker is adopted as it is).
    Nothing,
    /// Start a broker (none is alive while an operation wants one).
    Start,
    /// Stop the broker (SIGTERM, then SIGKILL after a stated time).
    Stop,
    /// Stop the broker and start one of the configured program (hung during an operation,
    /// or a replaced binary).
    Replace,
    /// A running instance's broker failed: record the instance `abnormal` with the reason;
    /// healing follows with back-off.
    MarkAbnormal(Fault),
    /// Start the broker of an abnormal instance again, when its back-off has passed.
    Heal,
}

/// Closes the difference between `want` and `observed`. `idle` is true when no operation
/// runs on the instance: then a failure is recorded on the instance (it turns abnormal);
/// during an operation, the loop restores the broker itself and the operation decides the
/// state.
pub fn decide(want: Want, observed: Observed, idle: bool, probe: Probe) -> Action {
    let hung = observed.alive && observed.failed_probes >= probe.failures_to_act;
    match want {
        Want::LeftAlone => Action::Nothing,
        Want::NoBroker if observed.alive => Action::Stop,
        Want::NoBroker => Action::Nothing,
        Want::Heal => Action::Heal,
        Want::Serving if !observed.alive => {
            if idle {
                Action::MarkAbnormal(Fault::Dead)
            } else {
                Action::Start
            }
        }
        Want::Serving if hung => {
            if idle {
                Action::MarkAbnormal(Fault::Hung)
            } else {
                Action::Replace
            }
        }
        // Answering (or only slow so far) but an outdated program: replaced once it answers,
        // so a slow broker is not taken for an outdated one mid-probe.
        Want::Serving if !observed.right_program && observed.failed_probes == 0 => Action::Replace,
        Want::Serving => Action::Nothing,
    }
}

/// The healer's back-off before attempt `attempt` (1-based): 1 s, then doubling, at most a
/// minute.
pub fn heal_delay(attempt: u32) -> Duration {
    let seconds = 1u64 << attempt.saturating_sub(1).min(6);
    Duration::from_secs(seconds.min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OperationKind, steps_done: usize) -> Option<RunningOperation> {
        Some(RunningOperation { kind, steps_done })
    }

    const SERVING: Observed = Observed {
        alive: true,
        failed_probes: 0,
        right_program: true,
    };
    const DEAD: Observed = Observed {
        alive: false,
        failed_probes: 0,
        right_program: false,
    };

    #[test]
    fn the_desired_state_table() {
        use OperationKind::*;
        assert_eq!(wanted(State::Running, None, false), Want::Serving);
        assert_eq!(wanted(State::Changing, op(Scale, 1), false), Want::Serving);
        assert_eq!(wanted(State::Suspended, None, false), Want::NoBroker);
        assert_eq!(wanted(State::Deleted, None, false), Want::NoBroker);
        assert_eq!(wanted(State::Abnormal, None, true), Want::Heal);
        assert_eq!(wanted(State::Abnormal, None, false), Want::LeftAlone);
        // Create: start-brokers is the fourth step (index 3).
        assert_eq!(
            wanted(State::Creating, op(Create, 0), false),
            Want::LeftAlone
        );
        assert_eq!(
            wanted(State::Creating, op(Create, 3), false),
            Want::LeftAlone
        );
        assert_eq!(wanted(State::Creating, op(Create, 4), false), Want::Serving);
        assert_eq!(wanted(State::Creating, op(Create, 5), false), Want::Serving);
        // Resume keeps the state it started from (suspended or abnormal).
        assert_eq!(
            wanted(State::Suspended, op(Resume, 0), false),
            Want::LeftAlone
        );
        assert_eq!(wanted(State::Abnormal, op(Resume, 1), true), Want::Serving);
        // Delete and suspend: stop-brokers is their first step.
        assert_eq!(
            wanted(State::Deleting, op(Delete, 0), false),
            Want::LeftAlone
        );
        assert_eq!(
            wanted(State::Deleting, op(Delete, 1), false),
            Want::NoBroker
        );
        assert_eq!(
            wanted(State::Running, op(Suspend, 0), false),
            Want::LeftAlone
        );
        assert_eq!(
            wanted(State::Running, op(Suspend, 1), false),
            Want::NoBroker
        );
    }

    #[test]
    fn a_live_answering_broker_is_adopted_as_it_is() {
        assert_eq!(decide(Want::Serving, SERVING, true, PROBE), Action::Nothing);
        assert_eq!(
            decide(Want::Serving, SERVING, false, PROBE),
            Action::Nothing
        );
    }

    #[test]
    fn a_dead_broker_turns_an_idle_instance_abnormal_and_is_started_during_an_operation() {
        assert_eq!(
            decide(Want::Serving, DEAD, true, PROBE),
            Action::MarkAbnormal(Fault::Dead)
        );
        assert_eq!(decide(Want::Serving, DEAD, false, PROBE), Action::Start);
    }

    #[test]
    fn a_slow_broker_is_given_consecutive_probes_before_it_counts_as_hung() {
        for failed in 1..PROBE.failures_to_act {
            let slow = Observed {
                failed_probes: failed,
                ..SERVING
            };
            assert_eq!(decide(Want::Serving, slow, true, PROBE), Action::Nothing);
        }
        let hung = Observed {
            failed_probes: PROBE.failures_to_act,
            ..SERVING
        };
        assert_eq!(
            decide(Want::Serving, hung, true, PROBE),
            Action::MarkAbnormal(Fault::Hung)
        );
        assert_eq!(decide(Want::Serving, hung, false, PROBE), Action::Replace);
    }

    #[test]
    fn an_outdated_program_is_replaced_and_unwanted_brokers_are_stopped() {
        let outdated = Observed {
            right_program: false,
            ..SERVING
        };
        assert_eq!(
            decide(Want::Serving, outdated, true, PROBE),
            Action::Replace
        );
        assert_eq!(decide(Want::NoBroker, SERVING, true, PROBE), Action::Stop);
        assert_eq!(decide(Want::NoBroker, DEAD, true, PROBE), Action::Nothing);
        assert_eq!(decide(Want::LeftAlone, DEAD, false, PROBE), Action::Nothing);
        assert_eq!(decide(Want::Heal, DEAD, true, PROBE), Action::Heal);
    }

    #[test]
    fn a_hung_broker_is_acted_on_within_ten_seconds() {
        let worst = PROBE.every + PROBE.every * (PROBE.failures_to_act - 1) + PROBE.timeout;
        assert!(worst <= Duration::from_secs(10), "{worst:?}");
    }

    #[test]
    fn healing_backs_off_from_one_second_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|a| heal_delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
