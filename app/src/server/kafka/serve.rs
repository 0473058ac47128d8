//! Making an instance's cluster serve: its files written, missing nodes started, and the
//! wait until every node answers and the quorum has a leader.

use super::KafkaProvisioner;
use crate::server::provisioner::{ProvisionError, Served};
use crate::server::store::instances::InstanceRow;
use anyhow::anyhow;
use byoc_engine::observe::observe_with;
use std::time::Duration;

impl KafkaProvisioner {
    /// Makes the cluster serve: directories and storage prepared, missing nodes started,
    /// then waits until every node answers on its internal listener and the quorum has a
    /// leader (a JVM's start and the quorum's election: 15 to 25 s measured here).
    pub(super) async fn serve(&self, row: &InstanceRow) -> Result<Served, ProvisionError> {
        let spec = self.spec(row).await?;
        let cluster = self.cluster(row.id);
        cluster.prepare(&spec).await?;
        // The instance's quotas as its AKU buy, before any node serves a client.
        let plane = self.plane(row.size());
        cluster.write_quotas(
            &spec.layout,
            plane.produce_bytes_per_second,
            plane.fetch_bytes_per_second,
        )?;
        if row.client_auth == crate::domain::instance_spec::ClientAuth::SaslPlain {
            // Before the nodes start: their first PLAIN login finds the users.
            self.write_plain_users(row).await?;
        }
        let started = cluster.start_missing(&spec).await?;
        let admin = self.admin(&spec).await?;
        let deadline = tokio::time::Instant::now() + byoc_engine::heal::START_GRACE;
        loop {
            let state = observe_with(&cluster, &spec.layout, &admin, &self.probes).await;
            if state.nodes.iter().all(|n| n.answer.is_ok()) && state.quorum.is_ok() {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                let silent: Vec<String> = state
                    .nodes
                    .iter()
                    .filter_map(|n| {
                        n.answer
                            .as_ref()
                            .err()
                            .map(|e| format!("node {}: {e}", n.node_id))
                    })
                    .collect();
                return Err(anyhow!(
                    "the cluster did not answer within {} s ({})",
                    byoc_engine::heal::START_GRACE.as_secs(),
                    silent.join("; ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The console's access rules, before the instance is called serving: with
        // allow.everyone.if.no.acl.found=false a cluster without them refuses every client.
        self.sync_acls(row).await?;
        Ok(match started.first() {
            Some((_, pid)) => Served::Started(*pid),
            None => Served::Adopted,
        })
    }
}

/// Node exits, as the instance's: the control loop wakes for that instance at once and its
/// maintenance pass starts the node again.
pub(super) fn forward_exits(
    mut nodes: tokio::sync::mpsc::UnboundedReceiver<byoc_engine::host::NodeExit>,
) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::server::provisioner::Exit>> {
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(exit) = nodes.recv().await {
            let exit = crate::server::provisioner::Exit {
                instance_id: exit.instance_id,
                pid: exit.pid,
                how: format!("node {} exited ({})", exit.node_id, exit.how),
            };
            if send.send(exit).is_err() {
                return;
            }
        }
    });
    Some(receive)
}
