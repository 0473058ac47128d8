//! The host's capacity rule (`domain::capacity`) applied to the clusters on this host, each
//! counted at the nodes and heaps its AKU buy (`domain::data_plane`).

use super::KafkaProvisioner;
use byoc_engine::layout::ClusterLayout;

/// In an instance's directory: the AKU its nodes are laid out for (the larger of old and new
/// while it is scaled), so that the capacity rule and the traffic readings count its nodes.
const AKU_FILE: &str = "aku";

impl KafkaProvisioner {
    /// The host's capacity rule (`domain::capacity`) for a cluster of `aku` beside those that
    /// hold ports on this host (`except`: an instance already counted, for its own step).
    pub(super) fn capacity(
        &self,
        except: Option<i64>,
        aku: u32,
    ) -> Result<(), crate::domain::capacity::CapacityError> {
        use crate::domain::capacity::{fits, Demand};
        let demand = |layout: &ClusterLayout| Demand {
            nodes: layout.nodes.len() as u32,
            memory_mib: layout.memory_mib(),
        };
        let in_use = self
            .instance_dirs()
            .into_iter()
            .filter(|id| Some(*id) != except)
            .filter_map(|id| self.layout_on_host(id))
            .fold(Demand::default(), |sum, layout| sum + demand(&layout));
        let wanted = ClusterLayout::for_plane(&self.plane(aku), &[], 1024)
            .map(|layout| demand(&layout))
            .unwrap_or_default();
        fits(host_capacity(), in_use, wanted)
    }

    /// What `aku` buy on this console's data plane (`--kafka-aku-mib-per-second`).
    pub(super) fn plane(&self, aku: u32) -> crate::domain::data_plane::DataPlane {
        crate::domain::data_plane::data_plane(aku, self.settings.aku_kib_per_second)
    }

    /// The AKU instance `instance_id`'s nodes are laid out for on this host, as recorded.
    pub(super) fn recorded_aku(&self, instance_id: i64) -> Option<u32> {
        std::fs::read_to_string(self.dir(instance_id).join(AKU_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records the AKU the instance's nodes are laid out for.
    pub(super) fn record_aku(
        &self,
        instance_id: i64,
        aku: u32,
    ) -> Result<(), crate::server::provisioner::ProvisionError> {
        super::write_private(&self.dir(instance_id).join(AKU_FILE), &aku.to_string())
    }

    /// Every node the instance has on this host: its recorded size's layout (three combined
    /// nodes when none is recorded, as instances made before the AKU rule).
    pub(super) fn layout_on_host(&self, instance_id: i64) -> Option<ClusterLayout> {
        let first = self.first_port(instance_id)?;
        let aku = self
            .recorded_aku(instance_id)
            .unwrap_or(crate::domain::license::MIN_INSTANCE_AKU);
        ClusterLayout::for_plane(&self.plane(aku), &[], first).ok()
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
