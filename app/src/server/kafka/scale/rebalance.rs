//! The rebalance step of a scale (see the parent module): brokers that go cordoned, every
//! partition planned over the new size's brokers and moved with a throttle, the wait until
//! Kafka has moved them all and they are in sync, preferred leaders elected, the throttle
//! lifted.

use super::{detail, ids, mib, throttle, MOVE_WITHIN, THROTTLED_REPLICAS, THROTTLE_RATES};
use crate::domain::reassign::{min_insync_after, plan, shrinking, Placement, Target};
use crate::server::kafka::{kafka_error, KafkaProvisioner};
use crate::server::provisioner::{ProvisionError, StepDone, StepWork};
use anyhow::anyhow;
use byoc_engine::admin::reassign::OngoingReassignment;
use byoc_engine::admin::{AdminClient, AlterConfig, ConfigResource};
use byoc_engine::config::DATA_DIR;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const MIN_INSYNC: &str = "min.insync.replicas";

impl KafkaProvisioner {
    pub(in crate::server::kafka) async fn rebalance(
        &self,
        work: &StepWork<'_>,
    ) -> Result<StepDone, ProvisionError> {
        let started = Instant::now();
        let new = self.plane(work.target_aku);
        let target = self.spec_sized(work.instance, work.target_aku).await?;
        let all = self.spec_sized(work.instance, self.both(work)).await?;
        let admin = self.admin(&all).await?;
        let brokers: Vec<Target> = target
            .layout
            .nodes
            .iter()
            .map(|n| Target {
                id: n.node_id as i32,
                rack: n.rack.clone(),
            })
            .collect();
        let rate = throttle(&new);
        // Brokers that go are cordoned first (KIP-1066, `cordoned.log.dirs=*`, dynamic in
        // Kafka 4.4): the controller places no new replica on them (a topic created meanwhile).
        let old_nodes = self.plane(work.instance.size()).nodes();
        let mut cordoned = Vec::new();
        for node in new.nodes()..old_nodes {
            let cordon = [AlterConfig::Set("cordoned.log.dirs".into(), "*".into())];
            match admin
                .incremental_alter_configs(&ConfigResource::Broker(node as i32), &cordon)
                .await
            {
                Ok(()) => cordoned.push(format!("broker {node} cordoned")),
                Err(e) => cordoned.push(format!("broker {node} not cordoned ({e})")),
            }
        }
        let mut throttled = false;
        let mut lowered = Vec::new();
        let deadline = Instant::now() + MOVE_WITHIN;
        // A console cut off mid-step left Kafka's reassignments running: they finish first.
        // Partitions counted once each, whichever attempt moved them.
        let resumed = self.wait_reassignments(work, &admin, 0, deadline).await?;
        self.settled(&admin, &resumed).await?;
        let mut moved: BTreeSet<(String, i32)> = resumed
            .iter()
            .map(|m| (m.topic.clone(), m.partition))
            .collect();
        // Rounds: plan from what the cluster is, submit, wait; done when the plan is empty.
        for _round in 0..5 {
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
            let moves = plan(&current, &brokers);
            if moves.is_empty() {
                break;
            }
            // Before any replica goes: a topic left with fewer replicas than its
            // min.insync.replicas would refuse every acks=all write.
            lowered.extend(self.lower_min_insync(&admin, &current, &moves).await?);
            if !throttled {
                self.set_throttle(&admin, &all, &moves, Some(rate)).await?;
                throttled = true;
            }
            let request: Vec<(String, i32, Option<Vec<i32>>)> = moves
                .iter()
                .map(|m| (m.topic.clone(), m.partition, Some(m.replicas.clone())))
                .collect();
            let results = admin
                .alter_partition_reassignments(&request)
                .await
                .map_err(kafka_error)?;
            let refused: Vec<String> = results
                .iter()
                .filter_map(|((t, p), r)| r.as_ref().err().map(|e| format!("{t}-{p}: {e}")))
                .collect();
            if !refused.is_empty() {
                return Err(anyhow!(
                    "Kafka refused to move {} partition(s): {}",
                    refused.len(),
                    refused.join("; ")
                ));
            }
            self.progress(work, &format!("0 of {} partitions moved", moves.len()))
                .await;
            self.wait_reassignments(work, &admin, moves.len(), deadline)
                .await?;
            self.settled(&admin, &moves).await?;
            moved.extend(moves.iter().map(|m| (m.topic.clone(), m.partition)));
        }
        // Every partition in sync on exactly its new replicas.
        let in_sync_by = Instant::now() + Duration::from_secs(120);
        let partitions = loop {
            let metadata = admin.metadata(None).await.map_err(kafka_error)?;
            let health = metadata.health();
            if health.under_replicated == 0 && health.offline == 0 {
                break health.partitions;
            }
            if Instant::now() > in_sync_by {
                return Err(anyhow!(
                    "{} partition(s) under-replicated and {} offline after the move",
                    health.under_replicated,
                    health.offline
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        // The preferred leaders (balanced by the plan) lead; partitions whose preferred
        // replica is not in sync keep their leader (Kafka's auto rebalance moves it later).
        let elected = admin
            .elect_preferred_leaders(None)
            .await
            .map_err(kafka_error)?;
        let not_elected = elected.values().filter(|r| r.is_err()).count();
        if throttled || self.throttle_left(&admin, &all).await {
            self.set_throttle(&admin, &all, &[], None).await?;
        }
        let metadata = admin.metadata(None).await.map_err(kafka_error)?;
        let leads = |id: i32| {
            metadata
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .filter(|p| p.leader == Some(id))
                .count()
        };
        let leaders: Vec<String> = brokers
            .iter()
            .map(|b| format!("{}: {}", b.id, leads(b.id)))
            .collect();
        if !lowered.is_empty() {
            cordoned.push(lowered.join(", "));
        }
        Ok(detail(format!(
            "{}{} of {partitions} partitions reassigned in {} s (throttled at {} MiB/s \
             per broker), all in sync; partitions led per broker {}{}",
            if cordoned.is_empty() {
                String::new()
            } else {
                format!("{}; ", cordoned.join(", "))
            },
            moved.len(),
            started.elapsed().as_secs(),
            mib(rate),
            leaders.join(", "),
            if not_elected > 0 {
                format!(" ({not_elected} keep their leader until Kafka's own rebalance)")
            } else {
                String::new()
            }
        )))
    }

    /// Lowers the `min.insync.replicas` of each topic that `moves` would leave with fewer
    /// replicas than it (`domain::reassign::min_insync_after`), before they are submitted;
    /// answers what it lowered. Run again after a crash, it finds them lowered already.
    async fn lower_min_insync(
        &self,
        admin: &AdminClient,
        current: &[Placement],
        moves: &[Placement],
    ) -> Result<Vec<String>, ProvisionError> {
        let mut said = Vec::new();
        for topic in shrinking(current, moves) {
            let resource = ConfigResource::Topic(topic.clone());
            let now = admin
                .describe_config(&resource, MIN_INSYNC)
                .await
                .map_err(kafka_error)?
                .and_then(|e| e.value)
                .and_then(|v| v.parse::<u32>().ok());
            let Some(now) = now else { continue };
            if let Some(to) = min_insync_after(current, moves, &topic, now) {
                admin
                    .incremental_alter_configs(
                        &resource,
                        &[AlterConfig::Set(MIN_INSYNC.into(), to.to_string())],
                    )
                    .await
                    .map_err(|e| {
                        anyhow!("cannot lower min.insync.replicas of {topic} to {to}: {e}")
                    })?;
                tracing::info!(%topic, from = now, to, "min.insync.replicas lowered for a scale down");
                said.push(format!(
                    "{topic}: min.insync.replicas lowered from {now} to {to}"
                ));
            }
        }
        Ok(said)
    }

    /// Waits until the metadata a broker answers shows every partition of `targets` on its
    /// target replicas (as a set): the controller ends a reassignment before every broker's
    /// metadata has it, and a plan made from a broker's stale view (a partition still on its
    /// old and new replicas) would move it again. At most 30 s: after that the next round
    /// plans from what the cluster then says.
    async fn settled(
        &self,
        admin: &AdminClient,
        targets: &[Placement],
    ) -> Result<(), ProvisionError> {
        if targets.is_empty() {
            return Ok(());
        }
        let by = Instant::now() + Duration::from_secs(30);
        loop {
            let metadata = admin.metadata(None).await.map_err(kafka_error)?;
            let stale = targets.iter().any(|m| {
                let want: BTreeSet<i32> = m.replicas.iter().copied().collect();
                metadata
                    .topics
                    .iter()
                    .find(|t| t.name == m.topic)
                    .and_then(|t| t.partitions.iter().find(|p| p.partition == m.partition))
                    .is_some_and(|p| p.replicas.iter().copied().collect::<BTreeSet<_>>() != want)
            });
            if !stale || Instant::now() > by {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the cluster has no reassignment in progress, showing progress; answers
    /// the partitions that were moving when it began, with their target replicas.
    async fn wait_reassignments(
        &self,
        work: &StepWork<'_>,
        admin: &AdminClient,
        submitted: usize,
        deadline: Instant,
    ) -> Result<Vec<Placement>, ProvisionError> {
        let mut first: Option<Vec<Placement>> = None;
        let mut last_said = Instant::now() - Duration::from_secs(10);
        loop {
            let ongoing = admin
                .list_partition_reassignments()
                .await
                .map_err(kafka_error)?;
            let at_first = first.get_or_insert_with(|| {
                ongoing
                    .iter()
                    .map(|o| Placement {
                        topic: o.topic.clone(),
                        partition: o.partition,
                        replicas: o
                            .replicas
                            .iter()
                            .copied()
                            .filter(|r| !o.removing.contains(r))
                            .collect(),
                    })
                    .collect()
            });
            let total = submitted.max(at_first.len());
            if ongoing.is_empty() {
                return Ok(first.unwrap_or_default());
            }
            if last_said.elapsed() >= Duration::from_secs(2) {
                let adding: BTreeSet<i32> = ongoing.iter().flat_map(|o| o.adding.clone()).collect();
                let (copied, to_copy) = self.bytes_copied(work, &ongoing);
                self.progress(
                    work,
                    &format!(
                        "{} of {total} partitions moved; {} still copying to brokers {} \
                         ({:.1} of {:.1} MiB copied)",
                        total.saturating_sub(ongoing.len()),
                        ongoing.len(),
                        ids(adding.iter().map(|n| *n as u32)),
                        copied as f64 / (1024.0 * 1024.0),
                        to_copy as f64 / (1024.0 * 1024.0)
                    ),
                )
                .await;
                last_said = Instant::now();
            }
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "{} of {total} partitions were still moving after {} min (the instance \
                     stays on both sets of brokers; Retry goes on)",
                    ongoing.len(),
                    MOVE_WITHIN.as_secs() / 60
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Bytes of the moving replicas copied so far and to copy, read from the nodes' data
    /// directories on this host (the segments' `.log` files): each new replica's partition
    /// directory against the largest of the replicas it copies from.
    fn bytes_copied(&self, work: &StepWork<'_>, ongoing: &[OngoingReassignment]) -> (u64, u64) {
        let cluster = self.cluster(work.instance.id);
        let size = |node: i32, o: &OngoingReassignment| -> u64 {
            let dir = cluster
                .node_dir(node as u32)
                .join(DATA_DIR)
                .join(format!("{}-{}", o.topic, o.partition));
            std::fs::read_dir(dir).map_or(0, |entries| {
                // The segments' records only: Kafka preallocates index files (10 MiB each).
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
        };
        ongoing.iter().fold((0, 0), |(copied, to_copy), o| {
            let source = o
                .replicas
                .iter()
                .filter(|r| !o.adding.contains(r))
                .map(|r| size(*r, o))
                .max()
                .unwrap_or(0);
            let done: u64 = o.adding.iter().map(|r| size(*r, o).min(source)).sum();
            (copied + done, to_copy + source * o.adding.len() as u64)
        })
    }

    /// Sets (`Some(rate)`) or lifts (`None`) Kafka's reassignment throttle: the rates on every
    /// broker of `all`, and every replica of the topics moved (`*`).
    async fn set_throttle(
        &self,
        admin: &AdminClient,
        all: &byoc_engine::cluster::ClusterSpec,
        moves: &[Placement],
        rate: Option<u64>,
    ) -> Result<(), ProvisionError> {
        let rates: Vec<AlterConfig> = THROTTLE_RATES
            .iter()
            .map(|name| match rate {
                Some(rate) => AlterConfig::Set(name.to_string(), rate.to_string()),
                None => AlterConfig::Delete(name.to_string()),
            })
            .collect();
        for node in &all.layout.nodes {
            let broker = ConfigResource::Broker(node.node_id as i32);
            // A broker that is not up (one retired in an earlier attempt) has nothing to set.
            if let Err(e) = admin.incremental_alter_configs(&broker, &rates).await {
                tracing::debug!(node = node.node_id, error = %e, "throttle rate not set");
            }
        }
        let topics: BTreeSet<String> = match rate {
            Some(_) => moves.iter().map(|m| m.topic.clone()).collect(),
            None => admin
                .metadata(None)
                .await
                .map_err(kafka_error)?
                .topics
                .into_iter()
                .map(|t| t.name)
                .collect(),
        };
        let replicas: Vec<AlterConfig> = THROTTLED_REPLICAS
            .iter()
            .map(|name| match rate {
                Some(_) => AlterConfig::Set(name.to_string(), "*".into()),
                None => AlterConfig::Delete(name.to_string()),
            })
            .collect();
        for topic in topics {
            admin
                .incremental_alter_configs(&ConfigResource::Topic(topic.clone()), &replicas)
                .await
                .map_err(|e| anyhow!("cannot set the reassignment throttle of {topic}: {e}"))?;
        }
        Ok(())
    }

    /// Whether a broker still has a throttle rate set (a console cut off before lifting it).
    async fn throttle_left(
        &self,
        admin: &AdminClient,
        all: &byoc_engine::cluster::ClusterSpec,
    ) -> bool {
        for node in &all.layout.nodes {
            let broker = ConfigResource::Broker(node.node_id as i32);
            if let Ok(entries) = admin.describe_configs(&broker, None).await {
                if entries.iter().any(|e| {
                    THROTTLE_RATES.contains(&e.name.as_str())
                        && e.source == byoc_engine::admin::ConfigSource::DynamicBroker
                }) {
                    return true;
                }
            }
        }
        false
    }
}
