//! Rolling restarts, one step per maintenance pass of the control loop. A node reads its
//! properties and key stores only when it starts, so after a certificate is renewed or the
//! client-facing host changes (new files written into the nodes' directories), the nodes are
//! restarted one at a time by the engine's roll plan ([`byoc_engine::roll`]): the active
//! controller last, each only once every node answers and no partition is under-replicated or
//! offline (the previous node is back and has caught up).
//!
//! Nothing but the files records a roll. Each node's directory keeps the digest of the files
//! it was last started with ([`byoc_engine::cluster::Cluster::stale_nodes`]); a node whose
//! digest differs from its files now is still to restart. A console killed half-way finds the
//! same nodes stale at its next pass and goes on; a node it restarted is not restarted again.
//!
//! The recorded bootstrap address follows the client-facing host once no node is left on the
//! old files (audited as `instance_endpoint`, in the transaction that changes it).

use super::KafkaProvisioner;
use crate::server::provisioner::{Maintenance, ProvisionError};
use crate::server::store::{self, instances::InstanceRow};
use byoc_engine::cluster::{Cluster, ClusterSpec};
use byoc_engine::heal::{NodeAction, STOP_GRACE};
use byoc_engine::observe::ClusterState;
use byoc_engine::roll::{self, Next};
use std::time::Instant;

impl KafkaProvisioner {
    /// The roll's step of one maintenance pass over a cluster seen as `state` (nothing while a
    /// node is being started or replaced): restarts the next node that runs on old files when
    /// the cluster is healthy, says when the roll is done, and then records the bootstrap
    /// address the nodes now advertise.
    pub(super) async fn roll_step(
        &self,
        instance: &InstanceRow,
        spec: &ClusterSpec,
        cluster: &Cluster<'_>,
        state: &ClusterState,
    ) -> Result<Vec<Maintenance>, ProvisionError> {
        if state.nodes.iter().any(|n| n.action != NodeAction::Keep) {
            return Ok(Vec::new());
        }
        let mut done = Vec::new();
        let stale = cluster.stale_nodes(&spec.layout);
        let health = state.health();
        if !stale.is_empty() {
            let all: Vec<u32> = spec.layout.nodes.iter().map(|n| n.node_id).collect();
            let order = roll::order(&stale, health.active_controller);
            match roll::next(&all, &order, &health) {
                Next::Restart(node) => {
                    let begun = *self
                        .rolls
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(instance.id)
                        .or_insert_with(Instant::now);
                    let stopping = Instant::now();
                    let pid = cluster.restart(spec, node, STOP_GRACE).await?;
                    done.push(Maintenance::Rolled(format!(
                        "roll: node {node} restarted (pid {pid}, {} ms to stop and start it; \
                         {} s into the roll) on its configuration files, changed since it \
                         started (a renewed certificate, a new client-facing host or \
                         setting); left after it: {:?} (the active controller last; the \
                         next only once every node answers and no partition is \
                         under-replicated)",
                        stopping.elapsed().as_millis(),
                        begun.elapsed().as_secs(),
                        &order[1..],
                    )));
                }
                Next::Wait(why) => {
                    tracing::info!(instance = instance.id, ?order, %why, "roll: waiting");
                }
                Next::Done => {}
            }
            return Ok(done);
        }
        if !state.is_healthy() {
            return Ok(done);
        }
        let begun = self
            .rolls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&instance.id);
        if let Some(begun) = begun {
            done.push(Maintenance::Rolled(format!(
                "roll done: every node runs on its current certificate and configuration, \
                 answers, and no partition is under-replicated, {} s after the roll began",
                begun.elapsed().as_secs()
            )));
        }
        let bootstrap = spec.layout.bootstrap(&spec.client.host);
        if !instance.bootstrap.is_empty() && instance.bootstrap != bootstrap {
            store::instances::change_bootstrap(
                &self.pool,
                instance.id,
                &bootstrap,
                self.clock.unix(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot record the new bootstrap address: {e}"))?;
        }
        Ok(done)
    }
}
