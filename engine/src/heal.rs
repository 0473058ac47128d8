//! What the control loop does about one node, as plain rules: start a node that does not run,
//! replace one that runs but has not answered for longer than a JVM needs to start and recover
//! its logs, leave the others. Which nodes *should* run (the instance serving, suspended,
//! deleted) is decided above this, per instance.

use std::time::Duration;

/// How long a started node may take before it answers on its internal listener: a JVM's
/// start, the storage's log recovery and joining the quorum. Measured on this project's
/// machines (2 cores): 15 s for three nodes started together with other work running, up to
/// 40 s when six JVMs start at once; three times the worst, so that a slow start is never
/// taken for a hung node.
pub const START_GRACE: Duration = Duration::from_secs(120);
/// How long a node gets for its controlled shutdown (leadership moved away, logs closed
/// cleanly) after SIGTERM, before SIGKILL. Measured: 1 to 3 s for an idle node, under 10 s
/// with partitions to hand over.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// What one probe saw of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSeen {
    /// Its process runs (and for how long).
    pub running_for: Option<Duration>,
    /// It answered ApiVersions on its internal listener.
    pub answers: bool,
}

/// The node's next move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAction {
    /// Running and answering: nothing to do.
    Keep,
    /// Still starting: give it time.
    Wait,
    /// No process: start one.
    Start,
    /// A process that does not answer past the start grace: stop it (SIGTERM, then SIGKILL)
    /// and start another. The reason is audited.
    Replace(String),
}

pub fn decide(seen: NodeSeen) -> NodeAction {
    match seen {
        NodeSeen {
            running_for: None, ..
        } => NodeAction::Start,
        NodeSeen { answers: true, .. } => NodeAction::Keep,
        NodeSeen {
            running_for: Some(age),
            answers: false,
        } if age <= START_GRACE => NodeAction::Wait,
        NodeSeen {
            running_for: Some(age),
            ..
        } => NodeAction::Replace(format!(
            "its process has run {} s without answering on the internal listener (a node \
             gets {} s to start)",
            age.as_secs(),
            START_GRACE.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(running_for: Option<u64>, answers: bool) -> NodeSeen {
        NodeSeen {
            running_for: running_for.map(Duration::from_secs),
            answers,
        }
    }

    #[test]
    fn each_case_has_its_action() {
        assert_eq!(decide(seen(None, false)), NodeAction::Start);
        assert_eq!(decide(seen(Some(500), true)), NodeAction::Keep);
        assert_eq!(decide(seen(Some(3), false)), NodeAction::Wait);
        assert_eq!(decide(seen(Some(120), false)), NodeAction::Wait);
        assert!(
            matches!(decide(seen(Some(121), false)), NodeAction::Replace(r) if r.contains("121 s"))
        );
    }
}
