//! What an instance's Kafka cluster must be, as plain rules: its nodes (ids, roles, ports,
//! racks, heaps) and its replication defaults. Nothing here starts anything.
//!
//! Every cluster has [`COMBINED_NODES`] nodes in combined mode (broker and controller), node
//! ids 0 to 2, which are never removed: in combined mode Kafka cannot scale controllers apart
//! from brokers, and three voters keep the quorum through the loss of one. Broker-only nodes
//! (ids from 3) and every node's heap are what an instance's size adds, by the domain's rule
//! (`byoc_domain::data_plane`): [`ClusterLayout::for_plane`].

use std::fmt;

/// Nodes that are both broker and controller, ids `0..COMBINED_NODES`.
pub const COMBINED_NODES: u32 = 3;
/// The most nodes one instance may have (combined and broker-only): fixes the size of the
/// instance's block of ports.
pub const MAX_NODES: u32 = 12;
/// Ports each node listens on: client, internal, controller, metrics.
pub const PORTS_PER_NODE: u16 = 4;
/// The ports one instance reserves: a block, so that adding a node never moves another.
pub const PORTS_PER_INSTANCE: u16 = PORTS_PER_NODE * MAX_NODES as u16;
/// Replicas of every partition, and how many must have a write before it is acknowledged to
/// an `acks=all` producer: one node may fail (or roll) without refusing writes.
pub const REPLICATION_FACTOR: u16 = 3;
pub const MIN_INSYNC_REPLICAS: u16 = 2;
/// Heap of each node of [`ClusterLayout::new`], fixed (`-Xms` = `-Xmx`: no resizing pauses,
/// and the host's memory rule can count on it); the AKU rule's smallest heap. Measured idle RSS
/// of a 256 MiB node: see docs/instances.md.
pub const HEAP_MIB: u32 = byoc_domain::data_plane::BASE_HEAP_MIB;
/// What one node costs the host beyond its heap (metaspace, code cache, threads, direct
/// buffers), for the capacity rule: measured RSS of a 256 MiB node 423 to 453 MiB once the
/// internal topics exist (docs/research/kafka-4.4-cluster.md), rounded up.
pub const NODE_OVERHEAD_MIB: u32 = 224;

/// A node's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Broker and controller (`process.roles=broker,controller`), a voter of the quorum.
    Combined,
    /// Broker only (`process.roles=broker`).
    Broker,
}

impl Role {
    pub fn process_roles(self) -> &'static str {
        match self {
            Role::Combined => "broker,controller",
            Role::Broker => "broker",
        }
    }
}

/// A node's listening ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePorts {
    /// Kafka clients (the instance's bootstrap list names these).
    pub client: u16,
    /// Between nodes and from the console: TLS with client certificates, loopback only.
    pub internal: u16,
    /// The KRaft quorum: TLS with client certificates, loopback only.
    pub controller: u16,
    /// The node's Prometheus metrics (jmx_prometheus_javaagent), loopback only.
    pub metrics: u16,
}

impl NodePorts {
    /// The ports of node `node_id` in the block starting at `first`.
    pub fn in_block(first: u16, node_id: u32) -> NodePorts {
        let base = first + (node_id as u16) * PORTS_PER_NODE;
        NodePorts {
            client: base,
            internal: base + 1,
            controller: base + 2,
            metrics: base + 3,
        }
    }
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLayout {
    pub node_id: u32,
    pub role: Role,
    pub ports: NodePorts,
    /// `broker.rack`: the zone of a multi-zone instance (replicas spread across racks).
    pub rack: Option<String>,
    pub heap_mib: u32,
}

/// The whole cluster of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterLayout {
    pub nodes: Vec<NodeLayout>,
    pub replication_factor: u16,
    pub min_insync_replicas: u16,
}

/// Why a layout cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    TooManyNodes { asked: u32 },
    PortsOutOfRange { first: u16 },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::TooManyNodes { asked } => write!(
                f,
                "an instance has at most {MAX_NODES} nodes ({COMBINED_NODES} combined and \
                 {} broker-only); {asked} were asked for",
                MAX_NODES - COMBINED_NODES
            ),
            LayoutError::PortsOutOfRange { first } => write!(
                f,
                "the block of {PORTS_PER_INSTANCE} ports from {first} passes 65535"
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

impl ClusterLayout {
    /// The cluster of `broker_only` extra nodes, its ports from the block at `first_port`,
    /// racks from `zones` (node i in zone i mod the number of zones; none for one zone: a
    /// single rack only constrains assignment for nothing).
    pub fn new(broker_only: u32, zones: &[String], first_port: u16) -> Result<Self, LayoutError> {
        let count = COMBINED_NODES + broker_only;
        if count > MAX_NODES {
            return Err(LayoutError::TooManyNodes { asked: count });
        }
        if u32::from(first_port) + u32::from(PORTS_PER_INSTANCE) - 1 > u32::from(u16::MAX) {
            return Err(LayoutError::PortsOutOfRange { first: first_port });
        }
        let nodes = (0..count)
            .map(|node_id| NodeLayout {
                node_id,
                role: if node_id < COMBINED_NODES {
                    Role::Combined
                } else {
                    Role::Broker
                },
                ports: NodePorts::in_block(first_port, node_id),
                rack: (zones.len() > 1).then(|| zones[node_id as usize % zones.len()].clone()),
                heap_mib: HEAP_MIB,
            })
            .collect();
        Ok(ClusterLayout {
            nodes,
            replication_factor: REPLICATION_FACTOR,
            min_insync_replicas: MIN_INSYNC_REPLICAS,
        })
    }

    /// The cluster an instance's size buys (`byoc_domain::data_plane`): its broker-only nodes
    /// and every node's heap.
    pub fn for_plane(
        plane: &byoc_domain::data_plane::DataPlane,
        zones: &[String],
        first_port: u16,
    ) -> Result<Self, LayoutError> {
        let mut layout = ClusterLayout::new(plane.broker_only, zones, first_port)?;
        for node in &mut layout.nodes {
            node.heap_mib = plane.heap_mib;
        }
        Ok(layout)
    }

    /// The broker-only nodes (ids from [`COMBINED_NODES`]).
    pub fn broker_only(&self) -> impl Iterator<Item = &NodeLayout> {
        self.nodes.iter().filter(|n| n.role == Role::Broker)
    }

    /// The quorum's voters: the combined nodes.
    pub fn voters(&self) -> impl Iterator<Item = &NodeLayout> {
        self.nodes.iter().filter(|n| n.role == Role::Combined)
    }

    pub fn node(&self, node_id: u32) -> Option<&NodeLayout> {
        self.nodes.iter().find(|n| n.node_id == node_id)
    }

    /// `controller.quorum.bootstrap.servers`: every voter's controller listener.
    pub fn quorum_bootstrap(&self, host: &str) -> String {
        self.voters()
            .map(|n| format!("{host}:{}", n.ports.controller))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The bootstrap list clients are given: every node's client listener at `host`.
    pub fn bootstrap(&self, host: &str) -> String {
        let host = bracketed(host);
        self.nodes
            .iter()
            .map(|n| format!("{host}:{}", n.ports.client))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What the cluster asks of the host's memory: heaps plus each node's overhead.
    pub fn memory_mib(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| u64::from(n.heap_mib + NODE_OVERHEAD_MIB))
            .sum()
    }
}

/// An IPv6 literal in brackets, as a `host:port` needs it.
pub fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|z| z.to_string()).collect()
    }

    #[test]
    fn an_instance_is_three_combined_nodes_with_ids_0_to_2() {
        let layout = ClusterLayout::new(0, &zones(&["a"]), 20000).unwrap();
        assert_eq!(layout.nodes.len(), 3);
        assert!(layout.nodes.iter().all(|n| n.role == Role::Combined));
        assert_eq!(
            layout.nodes.iter().map(|n| n.node_id).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(layout.voters().count(), 3);
        assert_eq!(
            (layout.replication_factor, layout.min_insync_replicas),
            (3, 2)
        );
        assert!(layout.nodes.iter().all(|n| n.rack.is_none()));
    }

    #[test]
    fn ports_are_a_block_per_instance_and_never_overlap() {
        let layout = ClusterLayout::new(2, &[], 20000).unwrap();
        let mut all: Vec<u16> = layout
            .nodes
            .iter()
            .flat_map(|n| {
                [
                    n.ports.client,
                    n.ports.internal,
                    n.ports.controller,
                    n.ports.metrics,
                ]
            })
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
        assert_eq!(*all.first().unwrap(), 20000);
        assert!(*all.last().unwrap() < 20000 + PORTS_PER_INSTANCE);
        assert_eq!(layout.nodes[4].role, Role::Broker);
        assert_eq!(
            layout.bootstrap("127.0.0.1"),
            "127.0.0.1:20000,127.0.0.1:20004,127.0.0.1:20008,127.0.0.1:20012,127.0.0.1:20016"
        );
        assert_eq!(
            layout.quorum_bootstrap("127.0.0.1"),
            "127.0.0.1:20002,127.0.0.1:20006,127.0.0.1:20010"
        );
        assert_eq!(
            ClusterLayout::new(0, &[], 18000).unwrap().bootstrap("::1"),
            "[::1]:18000,[::1]:18004,[::1]:18008"
        );
    }

    #[test]
    fn three_zones_give_each_node_its_zone_as_rack() {
        let layout = ClusterLayout::new(1, &zones(&["a", "b", "c"]), 20000).unwrap();
        let racks: Vec<_> = layout
            .nodes
            .iter()
            .map(|n| n.rack.clone().unwrap())
            .collect();
        assert_eq!(racks, ["a", "b", "c", "a"]);
    }

    #[test]
    fn limits_are_refused_with_the_numbers() {
        let error = ClusterLayout::new(MAX_NODES, &[], 20000).unwrap_err();
        assert!(error.to_string().contains("at most 12 nodes"), "{error}");
        assert!(ClusterLayout::new(0, &[], 65500).is_err());
    }

    #[test]
    fn a_plane_gives_the_nodes_and_heap_of_the_rule() {
        let plane = byoc_domain::data_plane::data_plane(16, 30 * 1024);
        let layout = ClusterLayout::for_plane(&plane, &[], 20000).unwrap();
        assert_eq!(layout.nodes.len(), 5);
        assert_eq!(
            layout.broker_only().map(|n| n.node_id).collect::<Vec<_>>(),
            [3, 4]
        );
        let big = byoc_domain::data_plane::data_plane(100, 30 * 1024);
        let layout = ClusterLayout::for_plane(&big, &[], 20000).unwrap();
        assert_eq!(layout.nodes.len(), 12);
        assert!(layout.nodes.iter().all(|n| n.heap_mib == 512));
        assert_eq!(layout.memory_mib(), 12 * (512 + 224));
    }

    #[test]
    fn memory_counts_heap_and_overhead_per_node() {
        let layout = ClusterLayout::new(0, &[], 20000).unwrap();
        assert_eq!(
            layout.memory_mib(),
            3 * u64::from(HEAP_MIB + NODE_OVERHEAD_MIB)
        );
    }
}
