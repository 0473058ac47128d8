//! What the control loop sees of a cluster in one probe: each node's process and its answer
//! on the internal listener (and what to do about it, [`crate::heal`]), the quorum
//! (DescribeQuorum: voters and the active controller), and partitions under-replicated or
//! offline. The roll reads its [`Health`] from the same probe.

use crate::admin::{AdminClient, PartitionHealth, QuorumInfo};
use crate::cluster::Cluster;
use crate::config::INTERNAL_HOST;
use crate::heal::{self, NodeAction, NodeSeen, ProbeMemory};
use crate::host::Running;
use crate::layout::ClusterLayout;
use crate::roll::Health;

/// One node as probed.
#[derive(Debug, Clone)]
pub struct NodeState {
    pub node_id: u32,
    pub process: Option<Running>,
    /// Its ApiVersions answer on the internal listener, or why there was none.
    pub answer: Result<(), String>,
    pub action: NodeAction,
}

/// The whole cluster as probed.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub nodes: Vec<NodeState>,
    pub quorum: Result<QuorumInfo, String>,
    pub partitions: Result<PartitionHealth, String>,
}

impl ClusterState {
    /// Every node runs and answers, the quorum has a leader, no partition lacks a leader or
    /// in-sync replicas.
    pub fn is_healthy(&self) -> bool {
        self.nodes.iter().all(|n| n.action == NodeAction::Keep)
            && self.quorum.is_ok()
            && self
                .partitions
                .as_ref()
                .is_ok_and(|p| p.under_replicated == 0 && p.offline == 0)
    }

    /// What the roll needs to know.
    pub fn health(&self) -> Health {
        let partitions = self.partitions.clone().unwrap_or(PartitionHealth {
            partitions: 0,
            under_replicated: usize::MAX,
            offline: 0,
        });
        Health {
            answering: self
                .nodes
                .iter()
                .filter(|n| n.answer.is_ok())
                .map(|n| n.node_id)
                .collect(),
            under_replicated: partitions.under_replicated,
            offline: partitions.offline,
            active_controller: self
                .quorum
                .as_ref()
                .ok()
                .and_then(|q| u32::try_from(q.leader_id).ok()),
        }
    }
}

/// Probes `layout`'s nodes of `cluster` (processes on the host, answers through `admin`),
/// as a single look: a node that does not answer is never taken for hung (that takes
/// several probes, [`observe_with`]).
pub async fn observe(
    cluster: &Cluster<'_>,
    layout: &ClusterLayout,
    admin: &AdminClient,
) -> ClusterState {
    observe_with(cluster, layout, admin, &ProbeMemory::default()).await
}

/// [`observe`], with what earlier probes saw of each node (`memory`, updated), so that a
/// node that failed [`heal::HUNG_PROBES`] probes in a row is replaced.
pub async fn observe_with(
    cluster: &Cluster<'_>,
    layout: &ClusterLayout,
    admin: &AdminClient,
    memory: &ProbeMemory,
) -> ClusterState {
    // Every node at once: a hung node costs one request timeout, not one per node after it.
    let probes = cluster
        .processes(layout)
        .into_iter()
        .map(|(node_id, process)| async move {
            let answer = match (process, layout.node(node_id)) {
                (None, _) => Err("no process".to_string()),
                (Some(_), None) => Err("not in the layout".to_string()),
                (Some(_), Some(node)) => admin
                    .api_versions(&format!("{INTERNAL_HOST}:{}", node.ports.internal))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            (node_id, process, answer)
        });
    let mut nodes = Vec::with_capacity(layout.nodes.len());
    for (node_id, process, answer) in futures::future::join_all(probes).await {
        let (answered_before, failed_probes) = match process {
            Some(p) => memory.record(&cluster.node_dir(node_id), p.pid, answer.is_ok()),
            None => (false, 0),
        };
        let action = heal::decide(NodeSeen {
            running_for: process.map(|p| p.age.unwrap_or_default()),
            answers: answer.is_ok(),
            answered_before,
            failed_probes,
        });
        nodes.push(NodeState {
            node_id,
            process,
            answer,
            action,
        });
    }
    let any_answers = nodes.iter().any(|n| n.answer.is_ok());
    let (quorum, partitions) = if any_answers {
        (
            admin.describe_quorum().await.map_err(|e| e.to_string()),
            admin.partition_health().await.map_err(|e| e.to_string()),
        )
    } else {
        let none = "no node answers".to_string();
        (Err(none.clone()), Err(none))
    };
    ClusterState {
        nodes,
        quorum,
        partitions,
    }
}
