//! Whether an instance's cluster is alive and answering, as the control loop asks it.

use super::KafkaProvisioner;
use crate::server::provisioner::BrokerCheck;
use byoc_engine::observe::observe_with;

impl KafkaProvisioner {
    /// The cluster as the control loop sees it: alive while any node's process runs; it
    /// answers while the quorum has a leader and a majority of voters answer (one node down
    /// is the nodes' business, healed by [`Provisioner::maintain`](super::super::provisioner::Provisioner::maintain), not the instance's).
    pub(super) async fn health(&self, instance_id: i64) -> Option<BrokerCheck> {
        let first = self.first_port(instance_id)?;
        let layout = byoc_engine::layout::ClusterLayout::new(0, &[], first).ok()?;
        let cluster = self.cluster(instance_id);
        let processes = cluster.processes(&layout);
        let alive = processes.iter().any(|(_, p)| p.is_some());
        let answer = if !alive {
            Err("no node runs".to_string())
        } else {
            let mut conn = self.pool.acquire().await.ok()?;
            let row = crate::server::store::instances::get(&mut conn, instance_id)
                .await
                .ok()??;
            drop(conn);
            match self.spec(&row).await {
                Ok(spec) => match self.probe_admin(&spec).await {
                    Ok(admin) => {
                        let state =
                            observe_with(&cluster, &spec.layout, &admin, &self.probes).await;
                        let answering = state.nodes.iter().filter(|n| n.answer.is_ok()).count();
                        match &state.quorum {
                            Ok(_) if answering * 2 > state.nodes.len() => Ok(()),
                            Ok(_) => {
                                Err(format!("{answering} of {} nodes answer", state.nodes.len()))
                            }
                            Err(e) => {
                                // What each node answered, so that the instance's reason says
                                // why (refused, timed out, TLS) and not only that none did.
                                let nodes: Vec<String> = state
                                    .nodes
                                    .iter()
                                    .filter_map(|n| {
                                        let e = n.answer.as_ref().err()?;
                                        Some(format!("node {}: {e}", n.node_id))
                                    })
                                    .collect();
                                Err(format!("no quorum: {e} ({})", nodes.join("; ")))
                            }
                        }
                    }
                    Err(e) => Err(format!("{e:#}")),
                },
                Err(e) => Err(format!("{e:#}")),
            }
        };
        Some(BrokerCheck {
            alive,
            answer,
            right_program: true,
            port: Some(layout.nodes[0].ports.client),
            recorded_pid: processes.first().and_then(|(_, p)| p.map(|p| p.pid)),
        })
    }
}
