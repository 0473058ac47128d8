//! What an instance's AKU buy on the data plane, as one rule: how many broker-only nodes its
//! Kafka cluster has beside the three combined ones, each node's heap, and the client quotas of
//! the instance as a whole (what every client of it together may produce and fetch per
//! second). The engine lays the cluster out from it, the provisioner starts, scales and
//! throttles by it, and docs/instances.md has its table.
//!
//! The numbers, and why:
//!
//! - **Nodes.** Up to [`AKU_ON_COMBINED`] AKU the three combined nodes serve alone (three
//!   nodes is the least a replication factor of 3 needs). Above it, one broker-only node per
//!   [`AKU_PER_BROKER`] AKU begun, up to [`MAX_BROKER_ONLY`] (the engine's 12 nodes a
//!   cluster: 3 combined + 9): 10 to 15 AKU have 4 nodes, 58 to 63 AKU have 12, and larger
//!   instances keep 12 nodes and grow their heaps instead.
//! - **Heap.** Each node serves the instance's AKU divided by its nodes, at most 5.25 AKU up
//!   to 63 AKU; [`BASE_HEAP_MIB`] carries a node up to [`AKU_PER_NODE_ON_BASE_HEAP`] AKU
//!   (Kafka keeps its data in the page cache, not the heap: the heap holds requests in flight
//!   and the replica fetchers' buffers). Beyond that (only above 72 AKU, once the nodes have
//!   stopped growing) the heap doubles with each doubling of the AKU a node serves: 512 MiB up to 12
//!   AKU a node, 1 GiB up to 24, 2 GiB above. All nodes of a cluster have the same heap.
//! - **Quotas.** The instance's total is its AKU times the unit: [`WRITE_MIB_S_PER_AKU`] MiB/s
//!   of produce and [`READ_MIB_S_PER_AKU`] MiB/s of fetch per AKU (the vendor's; the console's
//!   `--kafka-aku-mib-per-second` scales the write unit down for tests on a small machine, to
//!   the KiB/s; reads stay twice the writes). Replication between nodes is not a client and is not
//!   counted.

use crate::sizing::{READ_MIB_S_PER_AKU, WRITE_MIB_S_PER_AKU};

/// Nodes that are broker and controller, never removed.
pub const COMBINED_NODES: u32 = 3;
/// The most broker-only nodes a cluster has (12 nodes in all).
pub const MAX_BROKER_ONLY: u32 = 9;
/// AKU the three combined nodes serve alone.
pub const AKU_ON_COMBINED: u32 = 9;
/// One broker-only node per this many AKU (begun) above [`AKU_ON_COMBINED`].
pub const AKU_PER_BROKER: u32 = 6;
/// The heap of a node that serves at most [`AKU_PER_NODE_ON_BASE_HEAP`] AKU.
pub const BASE_HEAP_MIB: u32 = 256;
/// AKU one node serves on [`BASE_HEAP_MIB`].
pub const AKU_PER_NODE_ON_BASE_HEAP: u32 = 6;
/// The largest heap the rule gives a node.
pub const MAX_HEAP_MIB: u32 = 2048;

const MIB: u64 = 1024 * 1024;

/// The data plane an instance's AKU buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPlane {
    pub aku: u32,
    /// Broker-only nodes beside the combined ones (node ids from [`COMBINED_NODES`]).
    pub broker_only: u32,
    /// Every node's heap (`-Xms` = `-Xmx`).
    pub heap_mib: u32,
    /// What all clients of the instance together may produce, bytes per second.
    pub produce_bytes_per_second: u64,
    /// What all clients of the instance together may fetch, bytes per second.
    pub fetch_bytes_per_second: u64,
}

impl DataPlane {
    /// All the cluster's nodes.
    pub fn nodes(&self) -> u32 {
        COMBINED_NODES + self.broker_only
    }

    /// The node ids of the broker-only nodes, in order.
    pub fn broker_only_ids(&self) -> std::ops::Range<u32> {
        COMBINED_NODES..self.nodes()
    }

    /// Produce and fetch in MiB/s as the page says them ("90", "1.5", "0.75").
    pub fn quotas_text(&self) -> (String, String) {
        let text = |bytes: u64| {
            let hundredths = (bytes * 100).div_ceil(MIB);
            let (whole, part) = (hundredths / 100, hundredths % 100);
            match part {
                0 => whole.to_string(),
                p if p % 10 == 0 => format!("{whole}.{}", p / 10),
                p => format!("{whole}.{p:02}"),
            }
        };
        (
            text(self.produce_bytes_per_second),
            text(self.fetch_bytes_per_second),
        )
    }

    /// Produce and fetch in MiB/s (for the page), rounded down.
    pub fn quotas_mib_s(&self) -> (u64, u64) {
        (
            self.produce_bytes_per_second / MIB,
            self.fetch_bytes_per_second / MIB,
        )
    }
}

/// The write unit of one AKU in KiB/s as the vendor states it ([`WRITE_MIB_S_PER_AKU`] MiB/s).
pub const DEFAULT_UNIT_KIB_S: u32 = WRITE_MIB_S_PER_AKU * 1024;

/// The rule: what `aku` buy, with `write_kib_s_per_aku` KiB/s of produce per AKU (the vendor's
/// [`DEFAULT_UNIT_KIB_S`], 30 MiB/s, or less on a test machine) and twice that of fetch.
pub fn data_plane(aku: u32, write_kib_s_per_aku: u32) -> DataPlane {
    let broker_only = aku
        .saturating_sub(AKU_ON_COMBINED)
        .div_ceil(AKU_PER_BROKER)
        .min(MAX_BROKER_ONLY);
    let nodes = COMBINED_NODES + broker_only;
    let per_node = aku.div_ceil(nodes);
    let mut heap_mib = BASE_HEAP_MIB;
    let mut carries = AKU_PER_NODE_ON_BASE_HEAP;
    while per_node > carries && heap_mib < MAX_HEAP_MIB {
        heap_mib *= 2;
        carries *= 2;
    }
    let read_per_write = u64::from(READ_MIB_S_PER_AKU / WRITE_MIB_S_PER_AKU);
    let produce = u64::from(aku) * u64::from(write_kib_s_per_aku) * 1024;
    DataPlane {
        aku,
        broker_only,
        heap_mib,
        produce_bytes_per_second: produce,
        fetch_bytes_per_second: produce * read_per_write,
    }
}

/// The rows of the rule's table in docs/instances.md: the first size of each node count.
pub fn table() -> Vec<DataPlane> {
    let mut rows: Vec<DataPlane> = Vec::new();
    for aku in crate::license::MIN_INSTANCE_AKU..=crate::license::MAX_INSTANCE_AKU {
        let plane = data_plane(aku, DEFAULT_UNIT_KIB_S);
        let new = rows.last().is_none_or(|last| {
            (last.broker_only, last.heap_mib) != (plane.broker_only, plane.heap_mib)
        });
        if new {
            rows.push(plane);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: u32 = DEFAULT_UNIT_KIB_S;

    #[test]
    fn small_instances_are_the_three_combined_nodes() {
        for aku in 3..=9 {
            let plane = data_plane(aku, U);
            assert_eq!((plane.broker_only, plane.nodes()), (0, 3), "{aku} AKU");
            assert_eq!(plane.heap_mib, 256);
        }
    }

    #[test]
    fn one_broker_only_node_per_six_aku_begun_above_nine() {
        let nodes = |aku| data_plane(aku, U).nodes();
        assert_eq!(nodes(10), 4);
        assert_eq!(nodes(15), 4);
        assert_eq!(nodes(16), 5);
        assert_eq!(nodes(21), 5);
        assert_eq!(nodes(57), 11);
        assert_eq!(nodes(58), 12);
        assert_eq!(nodes(63), 12);
        assert_eq!(nodes(500), 12);
        assert_eq!(
            data_plane(16, U).broker_only_ids().collect::<Vec<_>>(),
            [3, 4]
        );
    }

    #[test]
    fn the_heap_grows_only_once_the_nodes_stop_growing() {
        for aku in 3..=63 {
            assert_eq!(data_plane(aku, U).heap_mib, 256, "{aku} AKU");
        }
        // 12 nodes: 6 AKU a node on 256 MiB, 12 on 512, 24 on 1 GiB, 2 GiB above.
        assert_eq!(data_plane(72, U).heap_mib, 256);
        assert_eq!(data_plane(73, U).heap_mib, 512);
        assert_eq!(data_plane(144, U).heap_mib, 512);
        assert_eq!(data_plane(145, U).heap_mib, 1024);
        assert_eq!(data_plane(288, U).heap_mib, 1024);
        assert_eq!(data_plane(289, U).heap_mib, 2048);
        assert_eq!(data_plane(500, U).heap_mib, 2048);
    }

    #[test]
    fn quotas_are_the_aku_times_the_unit_and_double_with_the_aku() {
        let three = data_plane(3, U);
        assert_eq!(three.produce_bytes_per_second, 90 * MIB);
        assert_eq!(three.fetch_bytes_per_second, 180 * MIB);
        assert_eq!(three.quotas_mib_s(), (90, 180));
        let six = data_plane(6, U);
        assert_eq!(
            six.produce_bytes_per_second,
            2 * three.produce_bytes_per_second
        );
        // A scaled-down unit for a small machine: 1 MiB/s per AKU, or 256 KiB/s.
        assert_eq!(data_plane(4, 1024).quotas_mib_s(), (4, 8));
        assert_eq!(data_plane(4, 256).produce_bytes_per_second, MIB);
        assert_eq!(data_plane(6, 256).quotas_text(), ("1.5".into(), "3".into()));
        assert_eq!(
            data_plane(3, 256).quotas_text(),
            ("0.75".into(), "1.5".into())
        );
        assert_eq!(data_plane(3, U).quotas_text(), ("90".into(), "180".into()));
        assert_eq!(data_plane(500, U).produce_bytes_per_second, 500 * 30 * MIB);
    }

    #[test]
    fn the_table_has_one_row_per_shape() {
        let rows = table();
        assert_eq!(rows[0].aku, 3);
        assert_eq!((rows[1].aku, rows[1].nodes()), (10, 4));
        assert_eq!((rows[9].aku, rows[9].nodes()), (58, 12));
        assert_eq!((rows[10].aku, rows[10].heap_mib), (73, 512));
        assert_eq!(rows.len(), 13);
    }
}
