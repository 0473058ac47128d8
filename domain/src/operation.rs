//! Operations: the work behind each state change of an instance, as a list of named steps.
//! The steps are one catalog here; a provisioner does the work of each step, and the console
//! records each one as it completes, so an operation cut off by a restart goes on from the
//! first step not yet recorded (a provisioner's steps are therefore idempotent).

use crate::instance::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    Create,
    Scale,
    Delete,
    /// The license lapsed: stop serving, keep the data.
    Suspend,
    /// A valid key was applied again.
    Resume,
}

pub struct Step {
    pub id: &'static str,
    pub label: &'static str,
}

const fn s(id: &'static str, label: &'static str) -> Step {
    Step { id, label }
}

const CREATE: &[Step] = &[
    s(
        "allocate-network",
        "Allocate network endpoints in the subnets",
    ),
    s("provision-compute", "Provision broker compute"),
    s(
        "attach-storage",
        "Attach the write-ahead log and the data bucket",
    ),
    s("start-brokers", "Start the brokers"),
    s("publish-endpoint", "Publish the bootstrap address"),
];
const SCALE: &[Step] = &[
    s("plan-capacity", "Plan the new capacity"),
    s("resize-brokers", "Resize the brokers"),
    s("rebalance-partitions", "Rebalance partitions"),
];
const DELETE: &[Step] = &[
    s("stop-brokers", "Stop the brokers"),
    s("release-storage", "Release storage"),
    s("release-network", "Release network endpoints"),
];
const SUSPEND: &[Step] = &[s("stop-brokers", "Stop the brokers (data kept)")];
const RESUME: &[Step] = &[s("start-brokers", "Start the brokers")];

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationStatus {
    Running,
    Succeeded,
    Failed,
}

impl OperationStatus {
    pub const ALL: [OperationStatus; 3] = [
        OperationStatus::Running,
        OperationStatus::Succeeded,
        OperationStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Running => "running",
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OperationStatus> {
        OperationStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Create => "create",
            OperationKind::Scale => "scale",
            OperationKind::Delete => "delete",
            OperationKind::Suspend => "suspend",
            OperationKind::Resume => "resume",
        }
    }

    pub fn parse(s: &str) -> Option<OperationKind> {
        [
            OperationKind::Create,
            OperationKind::Scale,
            OperationKind::Delete,
            OperationKind::Suspend,
            OperationKind::Resume,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn steps(self) -> &'static [Step] {
        match self {
            OperationKind::Create => CREATE,
            OperationKind::Scale => SCALE,
            OperationKind::Delete => DELETE,
            OperationKind::Suspend => SUSPEND,
            OperationKind::Resume => RESUME,
        }
    }

    /// The instance's state while the operation runs. Suspend and resume have no state of
    /// their own: the instance keeps its state, and the open operation blocks other changes.
    pub fn state_during(self, from: State) -> State {
        match self {
            OperationKind::Create => State::Creating,
            OperationKind::Scale => State::Changing,
            OperationKind::Delete => State::Deleting,
            OperationKind::Suspend | OperationKind::Resume => from,
        }
    }

    /// The instance's state when the operation succeeds.
    pub fn state_after(self) -> State {
        match self {
            OperationKind::Create | OperationKind::Scale | OperationKind::Resume => State::Running,
            OperationKind::Delete => State::Deleted,
            OperationKind::Suspend => State::Suspended,
        }
    }

    /// The states an instance may be in for this operation to start (retry from `abnormal`
    /// is decided by [`retry_of`], not here).
    pub fn may_start_from(self, state: State) -> bool {
        match self {
            OperationKind::Create => false,
            OperationKind::Scale => state == State::Running,
            OperationKind::Delete => {
                matches!(state, State::Running | State::Suspended | State::Abnormal)
            }
            OperationKind::Suspend => state == State::Running,
            // From abnormal: the broker of a running instance died, and is started again
            // (by the supervisor after a back-off, or by the operator's retry).
            OperationKind::Resume => matches!(state, State::Suspended | State::Abnormal),
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            OperationKind::Create => "created",
            OperationKind::Scale => "scaled",
            OperationKind::Delete => "deleted",
            OperationKind::Suspend => "suspended",
            OperationKind::Resume => "resumed",
        }
    }
}

/// What retrying an `abnormal` instance does: the failed operation again, from its first step
/// (steps are idempotent); a resume (the brokers did not start) starts them again. A suspend
/// is not retried by hand: the license watcher starts it again when it is still needed.
pub fn retry_of(failed: OperationKind) -> Option<OperationKind> {
    match failed {
        OperationKind::Create
        | OperationKind::Scale
        | OperationKind::Delete
        | OperationKind::Resume => Some(failed),
        OperationKind::Suspend => None,
    }
}

/// What retrying an `abnormal` instance does, given its latest operation: that operation
/// again when it failed; when it succeeded, the instance turned abnormal afterwards (its
/// broker process died), and retrying starts the brokers again.
pub fn retry_after(latest: Option<(OperationKind, bool)>) -> Option<OperationKind> {
    match latest {
        Some((kind, true)) => retry_of(kind),
        Some((OperationKind::Delete, false)) => None,
        Some((_, false)) => Some(OperationKind::Resume),
        None => None,
    }
}

/// "step 2 of 5: Provision broker compute" for a running operation that has completed `done`.
pub fn progress(kind: OperationKind, done: usize) -> String {
    let steps = kind.steps();
    match steps.get(done) {
        Some(step) => format!("step {} of {}: {}", done + 1, steps.len(), step.label),
        None => format!("finishing ({} steps done)", steps.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::can_move;

    const ALL: [OperationKind; 5] = [
        OperationKind::Create,
        OperationKind::Scale,
        OperationKind::Delete,
        OperationKind::Suspend,
        OperationKind::Resume,
    ];

    #[test]
    fn every_operation_follows_the_state_machine() {
        for kind in ALL {
            assert!(!kind.steps().is_empty());
            assert_eq!(OperationKind::parse(kind.as_str()), Some(kind));
            for from in [State::Running, State::Suspended, State::Abnormal] {
                if !kind.may_start_from(from) {
                    continue;
                }
                let during = kind.state_during(from);
                if during != from {
                    assert!(can_move(from, during), "{kind:?}: {from:?} -> {during:?}");
                }
                assert!(
                    can_move(during, kind.state_after()),
                    "{kind:?}: {during:?} -> {:?}",
                    kind.state_after()
                );
                // Any step may fail: the instance goes (or stays) abnormal.
                assert!(during == State::Abnormal || can_move(during, State::Abnormal));
            }
        }
        assert!(can_move(
            State::Creating,
            OperationKind::Create.state_after()
        ));
    }

    #[test]
    fn busy_and_deleted_instances_start_nothing() {
        for kind in ALL {
            for state in [
                State::Creating,
                State::Changing,
                State::Deleting,
                State::Deleted,
            ] {
                assert!(!kind.may_start_from(state), "{kind:?} from {state:?}");
            }
        }
        assert!(!OperationKind::Scale.may_start_from(State::Suspended));
        assert!(!OperationKind::Scale.may_start_from(State::Abnormal));
    }

    #[test]
    fn retry_restarts_the_failed_operation_from_abnormal() {
        for kind in [
            OperationKind::Create,
            OperationKind::Scale,
            OperationKind::Delete,
        ] {
            let again = retry_of(kind).unwrap();
            assert!(can_move(
                State::Abnormal,
                again.state_during(State::Abnormal)
            ));
        }
        assert_eq!(retry_of(OperationKind::Suspend), None);
    }

    #[test]
    fn a_died_broker_is_retried_by_starting_it_again() {
        // The create succeeded, then the instance turned abnormal: start the brokers.
        assert_eq!(
            retry_after(Some((OperationKind::Create, false))),
            Some(OperationKind::Resume)
        );
        assert_eq!(
            retry_after(Some((OperationKind::Scale, true))),
            Some(OperationKind::Scale)
        );
        assert_eq!(retry_after(Some((OperationKind::Suspend, true))), None);
        assert_eq!(retry_after(None), None);
        assert!(OperationKind::Resume.may_start_from(State::Abnormal));
        assert!(can_move(State::Abnormal, State::Running));
    }

    #[test]
    fn progress_text() {
        assert_eq!(
            progress(OperationKind::Scale, 1),
            "step 2 of 3: Resize the brokers"
        );
        assert_eq!(
            progress(OperationKind::Resume, 1),
            "finishing (1 steps done)"
        );
    }
}
