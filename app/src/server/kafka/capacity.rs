//! The host's capacity rule (`domain::capacity`) applied to the clusters on this host.

use super::KafkaProvisioner;

impl KafkaProvisioner {
    /// The host's capacity rule (`domain::capacity`) for one more cluster beside those that
    /// hold ports on this host (`except`: an instance already counted, for its own step).
    pub(super) fn capacity(
        &self,
        except: Option<i64>,
    ) -> Result<(), crate::domain::capacity::CapacityError> {
        use crate::domain::capacity::{fits, Demand};
        let demand = |layout: &byoc_engine::layout::ClusterLayout| Demand {
            nodes: layout.nodes.len() as u32,
            memory_mib: layout.memory_mib(),
        };
        let in_use = self
            .instance_dirs()
            .into_iter()
            .filter(|id| Some(*id) != except)
            .filter_map(|id| self.first_port(id))
            .filter_map(|first| byoc_engine::layout::ClusterLayout::new(0, &[], first).ok())
            .fold(Demand::default(), |sum, layout| sum + demand(&layout));
        let wanted = byoc_engine::layout::ClusterLayout::new(0, &[], 1024)
            .map(|layout| demand(&layout))
            .unwrap_or_default();
        fits(host_capacity(), in_use, wanted)
    }
}

/// This host's memory (`/proc/meminfo`) and cores.
fn host_capacity() -> crate::domain::capacity::Host {
    let memory_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    crate::domain::capacity::Host {
        memory_mib: memory_kib / 1024,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    }
}
