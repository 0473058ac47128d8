//! Scaling an instance's cluster by the AKU rule (`domain::data_plane`), as the steps of a
//! scale operation, each idempotent (a console killed mid-step runs it again, and it goes on
//! from what the cluster is):
//!
//! 1. **plan-capacity**: the host's capacity rule for the larger of the two sizes; the size
//!    recorded beside the ports becomes the larger one (the capacity rule and the traffic
//!    readings count every node while both sizes' nodes may run).
//! 2. **resize-brokers** (up): the new broker-only nodes are formatted and started, and the
//!    step waits until Kafka lists them as brokers.
//! 3. **rebalance-partitions**: brokers that go are cordoned (`cordoned.log.dirs=*`, Kafka
//!    4.4's KIP-1066: no new replica is placed on them); every partition is spread over the
//!    new size's brokers
//!    (`domain::reassign`: onto new brokers, off those that go), with
//!    AlterPartitionReassignments, throttled at [`throttle`] per broker; the step waits until
//!    no reassignment is in progress and every moved partition is in sync, shows the
//!    partitions moved of the total on the instance's page meanwhile, then elects preferred
//!    leaders (new brokers lead, brokers that go lead none) and lifts the throttle.
//! 4. **retire-brokers** (down): refused while a broker that goes still holds a replica (so
//!    no node holding a partition's only in-sync replica is ever stopped); each is stopped with
//!    SIGTERM (Kafka's controlled shutdown; SIGKILL after 30 s), unregistered
//!    (UnregisterBroker) once its process has exited, and its directory removed.
//! 5. **apply-quotas**: the instance's quotas of the new size written beside every node (the
//!    quota callback applies them within a second, no restart); the size recorded.
//!
//! The console's topics have replication factor 3 and an instance never has fewer than its
//! three combined nodes, but a client may create a topic as wide as the brokers (4 on 4) with
//! `min.insync.replicas` to match: a scale down keeps as many replicas as brokers remain, and
//! lowers such a topic's `min.insync.replicas` to that count *before* its replicas move
//! (`domain::reassign::min_insync_after`), stated in the rebalance step's detail.

mod rebalance;

use super::{kafka_error, KafkaProvisioner};
use crate::domain::data_plane::DataPlane;
use crate::domain::reassign::{held_by, Placement};
use crate::server::provisioner::{ProvisionError, StepDone, StepWork};
use anyhow::anyhow;
use byoc_engine::admin::{AlterConfig, ConfigResource};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long partitions may take to move before the step fails (the instance turns abnormal
/// with the reason; Retry goes on from where the cluster is).
const MOVE_WITHIN: Duration = Duration::from_secs(30 * 60);
/// The least reassignment throttle, bytes per second per broker.
const MIN_THROTTLE: u64 = 10 * 1024 * 1024;
/// Kafka's reassignment throttle: the rates on every broker, and the replicas they apply to.
const THROTTLE_RATES: [&str; 2] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
];
const THROTTLED_REPLICAS: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

/// The reassignment throttle, bytes per second per broker: the instance's whole produce quota
/// (at least 10 MiB/s), so that a moving replica always catches up with what clients can add
/// while the rest of the host's disk and network stays for clients.
pub(super) fn throttle(plane: &DataPlane) -> u64 {
    plane.produce_bytes_per_second.max(MIN_THROTTLE)
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

fn ids(list: impl IntoIterator<Item = u32>) -> String {
    let ids: Vec<String> = list.into_iter().map(|n| n.to_string()).collect();
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

impl KafkaProvisioner {
    /// The larger of the scale's two sizes: all nodes that may run during it.
    fn both(&self, work: &StepWork<'_>) -> u32 {
        work.instance.size().max(work.target_aku)
    }

    pub(super) async fn plan_capacity(
        &self,
        work: &StepWork<'_>,
    ) -> Result<StepDone, ProvisionError> {
        let id = work.instance.id;
        let (old, new) = (
            self.plane(work.instance.size()),
            self.plane(work.target_aku),
        );
        if new.nodes() > old.nodes() || new.heap_mib > old.heap_mib {
            self.capacity(Some(id), self.both(work))
                .map_err(|too_much| anyhow!("{too_much}"))?;
        }
        self.record_aku(id, self.both(work))?;
        let (p0, f0) = old.quotas_text();
        let (p1, f1) = new.quotas_text();
        let heap = if new.heap_mib == old.heap_mib {
            format!("{} MiB heap each", new.heap_mib)
        } else {
            format!(
                "new nodes get {} MiB heap, running ones keep {} MiB until their next restart",
                new.heap_mib, old.heap_mib
            )
        };
        Ok(detail(format!(
            "{} to {} AKU: {} to {} nodes ({heap}); client quotas {p0} to {p1} MiB/s produce, \
             {f0} to {f1} MiB/s fetch; partitions move throttled at {} MiB/s per broker",
            old.aku,
            new.aku,
            old.nodes(),
            new.nodes(),
            mib(throttle(&new))
        )))
    }

    pub(super) async fn add_brokers(
        &self,
        work: &StepWork<'_>,
    ) -> Result<StepDone, ProvisionError> {
        let (old, new) = (
            self.plane(work.instance.size()),
            self.plane(work.target_aku),
        );
        if new.nodes() <= old.nodes() {
            return Ok(detail(format!(
                "no broker to add ({} to {} nodes)",
                old.nodes(),
                new.nodes()
            )));
        }
        let started = Instant::now();
        let spec = self.spec_sized(work.instance, work.target_aku).await?;
        let cluster = self.cluster(work.instance.id);
        cluster.prepare(&spec).await?;
        // The new nodes enforce the instance's quotas of today until the last step.
        cluster.write_quotas(
            &spec.layout,
            old.produce_bytes_per_second,
            old.fetch_bytes_per_second,
        )?;
        cluster.start_missing(&spec).await?;
        let admin = self.admin(&spec).await?;
        let wanted: BTreeSet<i32> = new.broker_only_ids().map(|n| n as i32).collect();
        let deadline = Instant::now() + byoc_engine::heal::START_GRACE;
        loop {
            let listed: BTreeSet<i32> = match admin.metadata(Some(&[][..])).await {
                Ok(m) => m.brokers.iter().map(|b| b.id).collect(),
                Err(_) => BTreeSet::new(),
            };
            if wanted.is_subset(&listed) {
                break;
            }
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "brokers {} did not join the cluster within {} s",
                    ids(wanted.difference(&listed).map(|n| *n as u32)),
                    byoc_engine::heal::START_GRACE.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // A broker id retired by an earlier scale down kept its cordon in the cluster's
        // metadata: lifted, so that partitions can be placed on it again.
        for node in new.broker_only_ids().filter(|n| *n >= old.nodes()) {
            let lift = [AlterConfig::Delete("cordoned.log.dirs".into())];
            if let Err(e) = admin
                .incremental_alter_configs(&ConfigResource::Broker(node as i32), &lift)
                .await
            {
                tracing::debug!(node, error = %e, "cordon not lifted");
            }
        }
        Ok(detail(format!(
            "brokers {} started and registered after {} ms",
            ids(new.broker_only_ids().filter(|n| *n >= old.nodes())),
            started.elapsed().as_millis()
        )))
    }

    pub(super) async fn retire_brokers(
        &self,
        work: &StepWork<'_>,
    ) -> Result<StepDone, ProvisionError> {
        let (old, new) = (
            self.plane(work.instance.size()),
            self.plane(work.target_aku),
        );
        if new.nodes() >= old.nodes() {
            return Ok(detail(format!(
                "no broker to retire ({} to {} nodes)",
                old.nodes(),
                new.nodes()
            )));
        }
        let started = Instant::now();
        let going: Vec<u32> = (new.nodes()..old.nodes()).collect();
        let all = self.spec_sized(work.instance, self.both(work)).await?;
        let admin = self.admin(&all).await?;
        // Never stop a node that holds a replica: the rebalance moved every one off.
        let metadata = admin.metadata(None).await.map_err(kafka_error)?;
        let current: Vec<Placement> = metadata
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| Placement {
                    topic: t.name.clone(),
                    partition: p.partition,
                    replicas: p.replicas.clone(),
                })
            })
            .collect();
        let going_ids: Vec<i32> = going.iter().map(|n| *n as i32).collect();
        let held = held_by(&current, &going_ids);
        if !held.is_empty() {
            return Err(anyhow!(
                "brokers {} still hold replicas of {} partition(s) ({}): not stopped",
                ids(going.iter().copied()),
                held.len(),
                held.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let cluster = self.cluster(work.instance.id);
        let mut said = Vec::new();
        for node in &going {
            let stop = Instant::now();
            let pid = cluster
                .stop_node(*node, byoc_engine::heal::STOP_GRACE)
                .await;
            admin
                .unregister_broker(*node as i32)
                .await
                .map_err(|e| anyhow!("UnregisterBroker {node}: {e}"))?;
            cluster.remove_node(*node)?;
            said.push(match pid {
                Some(pid) => format!(
                    "broker {node} (pid {pid}) stopped in {} ms and unregistered",
                    stop.elapsed().as_millis()
                ),
                None => format!("broker {node} was stopped already; unregistered"),
            });
        }
        Ok(detail(format!(
            "{}; its data removed ({} ms in all; SIGTERM, Kafka's controlled shutdown, SIGKILL \
             after {} s)",
            said.join("; "),
            started.elapsed().as_millis(),
            byoc_engine::heal::STOP_GRACE.as_secs()
        )))
    }

    pub(super) async fn apply_quotas(
        &self,
        work: &StepWork<'_>,
    ) -> Result<StepDone, ProvisionError> {
        let new = self.plane(work.target_aku);
        let spec = self.spec_sized(work.instance, work.target_aku).await?;
        self.cluster(work.instance.id).write_quotas(
            &spec.layout,
            new.produce_bytes_per_second,
            new.fetch_bytes_per_second,
        )?;
        self.record_aku(work.instance.id, work.target_aku)?;
        let (produce, fetch) = new.quotas_text();
        Ok(detail(format!(
            "clients limited to {produce} MiB/s of produce and {fetch} MiB/s of fetch in all \
             ({} AKU; each of the {} brokers enforces its share)",
            new.aku,
            new.nodes()
        )))
    }

    /// Shows how far a running step is on the instance's page.
    async fn progress(&self, work: &StepWork<'_>, text: &str) {
        if let Err(error) = crate::server::store::operations::step_progress(
            &self.pool,
            work.instance.id,
            work.index,
            text,
        )
        .await
        {
            tracing::debug!(%error, "step progress not recorded");
        }
    }
}

fn detail(text: String) -> StepDone {
    StepDone {
        bootstrap: None,
        detail: Some(text),
    }
}
