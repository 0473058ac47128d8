//! Operations: the work behind each state change of an instance, as a list of named steps.
//! The steps are one catalog here; a provisioner does the work of each step, and the console
//! records each one as it completes, so an operation cut off by a restart goes on from the
//! first step not yet recorded (a provisioner's steps are therefore idempotent).

use crate::instance::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Every step of every operation, by its one string form (`as_str`, kept in
/// `operation_steps.step_id` and in the `simulate-failure` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepId {
    AllocateNetwork,
    ProvisionCompute,
    AttachStorage,
    StartBrokers,
    PublishEndpoint,
    PlanCapacity,
    ResizeBrokers,
    RebalancePartitions,
    RetireBrokers,
    ApplyQuotas,
    StopBrokers,
    ReleaseStorage,
    ReleaseNetwork,
}

impl StepId {
    pub const ALL: [StepId; 13] = [
        StepId::AllocateNetwork,
        StepId::ProvisionCompute,
        StepId::AttachStorage,
        StepId::StartBrokers,
        StepId::PublishEndpoint,
        StepId::PlanCapacity,
        StepId::ResizeBrokers,
        StepId::RebalancePartitions,
        StepId::RetireBrokers,
        StepId::ApplyQuotas,
        StepId::StopBrokers,
        StepId::ReleaseStorage,
        StepId::ReleaseNetwork,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepId::AllocateNetwork => "allocate-network",
            StepId::ProvisionCompute => "provision-compute",
            StepId::AttachStorage => "attach-storage",
            StepId::StartBrokers => "start-brokers",
            StepId::PublishEndpoint => "publish-endpoint",
            StepId::PlanCapacity => "plan-capacity",
            StepId::ResizeBrokers => "resize-brokers",
            StepId::RebalancePartitions => "rebalance-partitions",
            StepId::RetireBrokers => "retire-brokers",
            StepId::ApplyQuotas => "apply-quotas",
            StepId::StopBrokers => "stop-brokers",
            StepId::ReleaseStorage => "release-storage",
            StepId::ReleaseNetwork => "release-network",
        }
    }

    pub fn parse(s: &str) -> Option<StepId> {
        StepId::ALL.into_iter().find(|id| id.as_str() == s)
    }
}

pub struct Step {
    pub id: StepId,
    pub label: &'static str,
}

const fn s(id: StepId, label: &'static str) -> Step {
    Step { id, label }
}

const CREATE: &[Step] = &[
    s(
        StepId::AllocateNetwork,
        "Allocate network endpoints in the subnets",
    ),
    s(StepId::ProvisionCompute, "Provision broker compute"),
    s(
        StepId::AttachStorage,
        "Attach the write-ahead log and the data bucket",
    ),
    s(StepId::StartBrokers, "Start the brokers"),
    s(StepId::PublishEndpoint, "Publish the bootstrap address"),
];
/// A scale, up or down (each step does nothing where the direction needs nothing, and says
/// so): brokers the new size adds start, partitions move onto the brokers the new size has
/// (and off those it drops), the brokers it drops stop and leave the cluster, then the
/// client quotas follow the new size.
const SCALE: &[Step] = &[
    s(StepId::PlanCapacity, "Plan the new capacity"),
    s(StepId::ResizeBrokers, "Resize the brokers"),
    s(StepId::RebalancePartitions, "Rebalance partitions"),
    s(StepId::RetireBrokers, "Retire the brokers no longer needed"),
    s(StepId::ApplyQuotas, "Apply the new size's client quotas"),
];
const DELETE: &[Step] = &[
    s(StepId::StopBrokers, "Stop the brokers"),
    s(StepId::ReleaseStorage, "Release storage"),
    s(StepId::ReleaseNetwork, "Release network endpoints"),
];
const SUSPEND: &[Step] = &[s(StepId::StopBrokers, "Stop the brokers (data kept)")];
const RESUME: &[Step] = &[s(StepId::StartBrokers, "Start the brokers")];

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[test]
    fn step_ids_have_one_string_each() {
        for id in super::StepId::ALL {
            assert_eq!(super::StepId::parse(id.as_str()), Some(id));
        }
        assert_eq!(super::StepId::parse("start_brokers"), None);
        for kind in [
            super::OperationKind::Create,
            super::OperationKind::Scale,
            super::OperationKind::Delete,
            super::OperationKind::Suspend,
            super::OperationKind::Resume,
        ] {
            assert!(!kind.steps().is_empty());
        }
        for status in super::OperationStatus::ALL {
            assert_eq!(super::OperationStatus::parse(status.as_str()), Some(status));
        }
    }

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
            "step 2 of 5: Resize the brokers"
        );
        assert_eq!(
            progress(OperationKind::Resume, 1),
            "finishing (1 steps done)"
        );
    }
}
