//! Whether this host can run one more Kafka cluster, beside the license's quota: the nodes'
//! memory (each node's fixed heap plus what a JVM takes beyond it, measured) and their share
//! of the cores. A create that passes the quota but not this rule is refused with the numbers,
//! rather than made and left to fail (or to starve the clusters already running).

use std::fmt;

/// Memory kept for the console itself, the operating system and the page cache Kafka's
/// logs live on.
pub const RESERVED_MIB: u64 = 2048;
/// Kafka nodes one core carries: idle nodes use little CPU, but a JVM's start takes 7 to 8 s
/// of CPU and every node's replication and request threads share the cores.
pub const NODES_PER_CORE: u32 = 6;

/// What the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub memory_mib: u64,
    pub cores: u32,
}

/// What some clusters ask of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Demand {
    pub nodes: u32,
    pub memory_mib: u64,
}

impl std::ops::Add for Demand {
    type Output = Demand;
    fn add(self, other: Demand) -> Demand {
        Demand {
            nodes: self.nodes + other.nodes,
            memory_mib: self.memory_mib + other.memory_mib,
        }
    }
}

/// Why a cluster does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapacityError {
    Memory {
        wanted_mib: u64,
        in_use_mib: u64,
        usable_mib: u64,
    },
    Cores {
        wanted_nodes: u32,
        in_use_nodes: u32,
        slots: u32,
        cores: u32,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::Memory {
                wanted_mib,
                in_use_mib,
                usable_mib,
            } => write!(
                f,
                "This host cannot run this instance: its nodes need {wanted_mib} MiB of memory, \
                 the instances already on this host take {in_use_mib} MiB, and {usable_mib} MiB \
                 is usable (the host's memory less {RESERVED_MIB} MiB kept for the console and \
                 the system)."
            ),
            CapacityError::Cores {
                wanted_nodes,
                in_use_nodes,
                slots,
                cores,
            } => write!(
                f,
                "This host cannot run this instance: it needs {wanted_nodes} Kafka nodes, \
                 {in_use_nodes} already run here, and {cores} cores carry at most {slots} \
                 ({NODES_PER_CORE} per core)."
            ),
        }
    }
}

/// The rule: the new cluster's nodes fit beside those on the host, in memory and in cores.
pub fn fits(host: Host, in_use: Demand, wanted: Demand) -> Result<(), CapacityError> {
    let usable_mib = host.memory_mib.saturating_sub(RESERVED_MIB);
    if in_use.memory_mib + wanted.memory_mib > usable_mib {
        return Err(CapacityError::Memory {
            wanted_mib: wanted.memory_mib,
            in_use_mib: in_use.memory_mib,
            usable_mib,
        });
    }
    let slots = host.cores * NODES_PER_CORE;
    if in_use.nodes + wanted.nodes > slots {
        return Err(CapacityError::Cores {
            wanted_nodes: wanted.nodes,
            in_use_nodes: in_use.nodes,
            slots,
            cores: host.cores,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: Demand = Demand {
        nodes: 3,
        memory_mib: 3 * 480,
    };

    #[test]
    fn two_cores_carry_four_three_node_clusters() {
        let host = Host {
            memory_mib: 24 * 1024,
            cores: 2,
        };
        let mut in_use = Demand::default();
        for _ in 0..4 {
            assert_eq!(fits(host, in_use, CLUSTER), Ok(()));
            in_use = in_use + CLUSTER;
        }
        let refused = fits(host, in_use, CLUSTER).unwrap_err();
        assert_eq!(
            refused,
            CapacityError::Cores {
                wanted_nodes: 3,
                in_use_nodes: 12,
                slots: 12,
                cores: 2
            }
        );
        assert!(
            refused.to_string().contains("12 already run here"),
            "{refused}"
        );
    }

    #[test]
    fn memory_is_counted_with_the_reserve() {
        let host = Host {
            memory_mib: 4096,
            cores: 16,
        };
        assert_eq!(fits(host, Demand::default(), CLUSTER), Ok(()));
        let refused = fits(host, CLUSTER, CLUSTER).unwrap_err();
        assert_eq!(
            refused,
            CapacityError::Memory {
                wanted_mib: 1440,
                in_use_mib: 1440,
                usable_mib: 2048
            }
        );
        assert!(refused.to_string().contains("1440 MiB"), "{refused}");
        // A host smaller than the reserve runs nothing.
        let tiny = Host {
            memory_mib: 1024,
            cores: 4,
        };
        assert!(fits(tiny, Demand::default(), CLUSTER).is_err());
    }
}
