//! A rolling restart (a new certificate, a changed setting, a new Kafka version) as plain
//! rules: one node at a time, each only once the previous one is back and no partition is
//! under-replicated, and the quorum's active controller last (one controller election, not
//! one per node).

/// What the roll sees of the cluster between two restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Nodes that answer on the internal listener.
    pub answering: Vec<u32>,
    /// Partitions with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
    /// The quorum's leader, when known.
    pub active_controller: Option<u32>,
}

/// The roll's next move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Restart this node now.
    Restart(u32),
    /// Not yet: why.
    Wait(String),
    /// Every node has restarted and the cluster is healthy.
    Done,
}

/// The order of a roll of `nodes`: the active controller last.
pub fn order(nodes: &[u32], active_controller: Option<u32>) -> Vec<u32> {
    let mut order: Vec<u32> = nodes
        .iter()
        .copied()
        .filter(|n| Some(*n) != active_controller)
        .collect();
    order.sort_unstable();
    if let Some(active) = active_controller.filter(|a| nodes.contains(a)) {
        order.push(active);
    }
    order
}

/// The next move of a roll whose remaining nodes are `pending` (in order), over a cluster of
/// `all` nodes.
pub fn next(all: &[u32], pending: &[u32], health: &Health) -> Next {
    let missing: Vec<u32> = all
        .iter()
        .copied()
        .filter(|n| !health.answering.contains(n))
        .collect();
    if !missing.is_empty() {
        return Next::Wait(format!("waiting for node(s) {missing:?} to answer"));
    }
    if health.offline > 0 {
        return Next::Wait(format!("{} partition(s) have no leader", health.offline));
    }
    if health.under_replicated > 0 {
        return Next::Wait(format!(
            "{} partition(s) are under-replicated",
            health.under_replicated
        ));
    }
    match pending.first() {
        Some(node) => Next::Restart(*node),
        None => Next::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(active: u32) -> Health {
        Health {
            answering: vec![0, 1, 2],
            under_replicated: 0,
            offline: 0,
            active_controller: Some(active),
        }
    }

    #[test]
    fn the_active_controller_restarts_last() {
        assert_eq!(order(&[0, 1, 2], Some(1)), [0, 2, 1]);
        assert_eq!(order(&[2, 0, 1], None), [0, 1, 2]);
        assert_eq!(order(&[0, 1], Some(7)), [0, 1]);
    }

    #[test]
    fn one_node_at_a_time_and_only_when_healthy() {
        let all = [0, 1, 2];
        assert_eq!(next(&all, &[0, 2, 1], &healthy(1)), Next::Restart(0));
        let mut back = healthy(1);
        back.answering = vec![1, 2];
        assert!(matches!(next(&all, &[2, 1], &back), Next::Wait(w) if w.contains("[0]")));
        let mut catching_up = healthy(1);
        catching_up.under_replicated = 4;
        assert!(
            matches!(next(&all, &[2, 1], &catching_up), Next::Wait(w) if w.contains("4 partition"))
        );
        let mut offline = healthy(1);
        offline.offline = 1;
        assert!(matches!(next(&all, &[2, 1], &offline), Next::Wait(_)));
        assert_eq!(next(&all, &[], &healthy(1)), Next::Done);
    }
}
