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

/// How long a node found hung gets after SIGTERM before SIGKILL: it has failed
/// [`HUNG_PROBES`] probes already, so a controlled shutdown is unlikely (a stopped JVM never
/// sees the signal); shorter than [`STOP_GRACE`], long enough for a slow but live node.
pub const HUNG_STOP_GRACE: Duration = Duration::from_secs(10);

/// Probes in a row a node must fail before it is replaced (one every 2 s from the control
/// loop): a single slow answer (a long GC pause, a busy host) is not a hung node.
pub const HUNG_PROBES: u32 = 3;

/// What one probe saw of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSeen {
    /// Its process runs (and for how long).
    pub running_for: Option<Duration>,
    /// It answered ApiVersions on its internal listener.
    pub answers: bool,
    /// This process answered an earlier probe (it has started; the start grace is over).
    pub answered_before: bool,
    /// Probes of this process failed in a row, this one included.
    pub failed_probes: u32,
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

/// A node that does not answer is replaced only after [`HUNG_PROBES`] failed probes in a
/// row, and, while it has never answered, only once its start grace is over.
pub fn decide(seen: NodeSeen) -> NodeAction {
    let Some(age) = seen.running_for else {
        return NodeAction::Start;
    };
    if seen.answers {
        return NodeAction::Keep;
    }
    if !seen.answered_before && age <= START_GRACE {
        return NodeAction::Wait;
    }
    if seen.failed_probes < HUNG_PROBES {
        return NodeAction::Wait;
    }
    NodeAction::Replace(if seen.answered_before {
        format!(
            "it stopped answering on the internal listener ({} probes in a row failed)",
            seen.failed_probes
        )
    } else {
        format!(
            "its process has run {} s without answering on the internal listener (a node \
             gets {} s to start)",
            age.as_secs(),
            START_GRACE.as_secs()
        )
    })
}

/// What the probes of each node's current process have seen so far, kept between probes
/// (in memory: a console that restarts starts again from nothing, which only delays a
/// replacement by a few probes). Keyed by the node's directory; a new process starts afresh.
#[derive(Debug, Default)]
pub struct ProbeMemory {
    nodes: std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Remembered>>,
}

#[derive(Debug, Clone, Copy)]
struct Remembered {
    pid: i32,
    answered: bool,
    failures: u32,
}

impl ProbeMemory {
    /// Records one probe of process `pid` in `dir`: whether it answered an earlier probe, and
    /// its failures in a row now.
    pub fn record(&self, dir: &std::path::Path, pid: i32, answers: bool) -> (bool, u32) {
        let Ok(mut nodes) = self.nodes.lock() else {
            return (false, u32::from(!answers));
        };
        let entry = nodes.entry(dir.to_path_buf()).or_insert(Remembered {
            pid,
            answered: false,
            failures: 0,
        });
        if entry.pid != pid {
            *entry = Remembered {
                pid,
                answered: false,
                failures: 0,
            };
        }
        let answered_before = entry.answered;
        if answers {
            entry.answered = true;
            entry.failures = 0;
        } else {
            entry.failures = entry.failures.saturating_add(1);
        }
        (answered_before, entry.failures)
    }

    /// Forgets the nodes under `root` (a cluster that was deleted).
    pub fn forget(&self, root: &std::path::Path) {
        if let Ok(mut nodes) = self.nodes.lock() {
            nodes.retain(|dir, _| !dir.starts_with(root));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(running_for: Option<u64>, answers: bool) -> NodeSeen {
        NodeSeen {
            running_for: running_for.map(Duration::from_secs),
            answers,
            answered_before: false,
            failed_probes: u32::from(!answers) * HUNG_PROBES,
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

    #[test]
    fn one_failed_probe_is_not_a_hung_node_but_three_in_a_row_are() {
        let hung = |failed_probes| NodeSeen {
            running_for: Some(Duration::from_secs(20)),
            answers: false,
            answered_before: true,
            failed_probes,
        };
        // Within its start grace, but it had answered: the grace no longer applies.
        assert_eq!(decide(hung(1)), NodeAction::Wait);
        assert_eq!(decide(hung(2)), NodeAction::Wait);
        assert!(matches!(decide(hung(3)), NodeAction::Replace(r) if r.contains("3 probes")));
        // Past the grace, never answered: still three probes in a row.
        let silent = NodeSeen {
            running_for: Some(Duration::from_secs(500)),
            answers: false,
            answered_before: false,
            failed_probes: 1,
        };
        assert_eq!(decide(silent), NodeAction::Wait);
    }

    #[test]
    fn the_memory_counts_failures_per_process_and_starts_afresh_with_a_new_one() {
        let memory = ProbeMemory::default();
        let dir = std::path::Path::new("/c/node-0");
        assert_eq!(memory.record(dir, 10, false), (false, 1));
        assert_eq!(memory.record(dir, 10, true), (false, 0));
        assert_eq!(memory.record(dir, 10, false), (true, 1));
        assert_eq!(memory.record(dir, 10, false), (true, 2));
        // Another process in the same directory: nothing carried over.
        assert_eq!(memory.record(dir, 11, false), (false, 1));
        memory.forget(std::path::Path::new("/c"));
        assert_eq!(memory.record(dir, 11, false), (false, 1));
    }
}
