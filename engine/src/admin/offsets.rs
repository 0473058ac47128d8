//! Data on disk and offsets: DescribeLogDirs (bytes per partition, asked of each node) and
//! ListOffsets (earliest and latest offset of each partition, or the offset at a time, asked
//! of its leader).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    BrokerId, DescribeLogDirsRequest, DescribeLogDirsResponse, ListOffsetsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, code, AdminError, KafkaError};

/// One log directory of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDir {
    /// Its path on the node.
    pub path: String,
    /// Its error (KAFKA_STORAGE_ERROR when the directory is offline).
    pub error: Option<KafkaError>,
    /// The file system's size, if the node reports it.
    pub total_bytes: Option<i64>,
    /// The file system's free bytes, if the node reports it.
    pub usable_bytes: Option<i64>,
    /// Each partition replica in it.
    pub partitions: Vec<ReplicaSize>,
}

/// The size of one partition replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSize {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Bytes of its log segments.
    pub size: i64,
    /// How far behind the log end offset (a future replica being moved).
    pub offset_lag: i64,
    /// A replica being moved into this directory.
    pub future: bool,
}

/// Earliest and latest offsets of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The first offset still kept (log start offset).
    pub earliest: i64,
    /// The next offset to be written (high watermark).
    pub latest: i64,
}

const EARLIEST: i64 = -2;
const LATEST: i64 = -1;

impl AdminClient {
    /// DescribeLogDirs of every partition on node `node`.
    pub async fn describe_log_dirs(&self, node: i32) -> Result<Vec<LogDir>, AdminError> {
        let build = |_v: i16| DescribeLogDirsRequest::default().with_topics(None);
        let check_r = |r: &DescribeLogDirsResponse| check(r.error_code, None);
        let r = self.request(Route::Node(node), build, check_r).await?;
        Ok(r.results
            .iter()
            .map(|d| LogDir {
                path: d.log_dir.to_string(),
                error: KafkaError::from_code(d.error_code, None),
                total_bytes: (d.total_bytes >= 0).then_some(d.total_bytes),
                usable_bytes: (d.usable_bytes >= 0).then_some(d.usable_bytes),
                partitions: d
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(|p| ReplicaSize {
                            topic: t.name.0.to_string(),
                            partition: p.partition_index,
                            size: p.partition_size,
                            offset_lag: p.offset_lag,
                            future: p.is_future_key,
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    /// DescribeLogDirs of every broker Metadata lists, asked in turn; a node that does not
    /// answer has its error, the others their directories.
    pub async fn describe_all_log_dirs(
        &self,
    ) -> Result<BTreeMap<i32, Result<Vec<LogDir>, AdminError>>, AdminError> {
        let brokers = self.metadata(Some(&[][..])).await?.brokers;
        let mut out = BTreeMap::new();
        for broker in brokers {
            out.insert(broker.id, self.describe_log_dirs(broker.id).await);
        }
        Ok(out)
    }

    /// Earliest and latest offsets of every partition of `topics`, each asked of the
    /// partition's leader. Leadership that moves meanwhile (NOT_LEADER_OR_FOLLOWER, a
    /// partition without a leader) is retried within the deadline; a topic Metadata does not
    /// know (UNKNOWN_TOPIC_OR_PARTITION, naming it), and any other error of a partition,
    /// fails the call.
    pub async fn list_offsets(&self, topics: &[&str]) -> Result<Vec<PartitionOffsets>, AdminError> {
        let deadline = Instant::now() + self.deadline();
        let earliest = self.offsets_at(topics, EARLIEST, deadline).await?;
        let latest = self.offsets_at(topics, LATEST, deadline).await?;
        let mut out: Vec<PartitionOffsets> = earliest
            .into_iter()
            .map(|((topic, partition), earliest)| {
                let latest = latest
                    .get(&(topic.clone(), partition))
                    .copied()
                    .unwrap_or(-1);
                PartitionOffsets {
                    topic,
                    partition,
                    earliest,
                    latest,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }

    /// For every partition of `topics`, the first offset whose record's timestamp is at or
    /// after `timestamp_ms` (Unix ms; ListOffsets by time, asked of each leader); `None` when
    /// no record is that recent. Errors as [`list_offsets`](Self::list_offsets).
    pub async fn offsets_for_timestamp(
        &self,
        topics: &[&str],
        timestamp_ms: i64,
    ) -> Result<BTreeMap<(String, i32), Option<i64>>, AdminError> {
        if timestamp_ms < 0 {
            let message = format!("a timestamp is 0 or more (Unix ms); {timestamp_ms} is not");
            return Err(AdminError::Config(message));
        }
        let deadline = Instant::now() + self.deadline();
        let found = self.offsets_at(topics, timestamp_ms, deadline).await?;
        Ok(found
            .into_iter()
            .map(|(key, offset)| (key, (offset >= 0).then_some(offset)))
            .collect())
    }

    /// The offset at `timestamp` (-2 earliest, -1 latest) of every partition of `topics`.
    async fn offsets_at(
        &self,
        topics: &[&str],
        timestamp: i64,
        deadline: Instant,
    ) -> Result<BTreeMap<(String, i32), i64>, AdminError> {
        let (started, mut attempts) = (Instant::now(), 0);
        let timeout_ms = self.server_timeout_ms();
        let mut done = BTreeMap::new();
        let mut backoff = Duration::from_millis(50);
        loop {
            attempts += 1;
            let metadata = self.metadata(Some(topics)).await?;
            // leader -> topic -> partitions still to ask; what must wait for a leader or topic.
            let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
            let mut waiting: Option<KafkaError> = None;
            for t in &metadata.topics {
                if let Some(e) = &t.error {
                    // A topic Metadata does not know fails at once, as in Java's Admin.
                    if e.code == code::UNKNOWN_TOPIC_OR_PARTITION || !e.is_retriable() {
                        let message = Some(format!("topic {}", t.name));
                        return Err(AdminError::Kafka(KafkaError {
                            message,
                            ..e.clone()
                        }));
                    }
                    waiting = Some(e.clone());
                    continue;
                }
                for p in &t.partitions {
                    if done.contains_key(&(t.name.clone(), p.partition)) {
                        continue;
                    }
                    match p.leader {
                        Some(leader) => {
                            let of_leader = by_leader.entry(leader).or_default();
                            of_leader
                                .entry(t.name.clone())
                                .or_default()
                                .push(p.partition);
                        }
                        None => waiting = p.error.clone().or(waiting),
                    }
                }
            }
            for (leader, wanted) in by_leader {
                let build = |_v: i16| list_offsets_request(&wanted, timestamp, timeout_ms);
                let r = self.request(Route::Node(leader), build, |_| Ok(())).await?;
                for t in &r.topics {
                    for p in &t.partitions {
                        match KafkaError::from_code(p.error_code, None) {
                            None => {
                                done.insert((t.name.0.to_string(), p.partition_index), p.offset);
                            }
                            Some(e) if e.is_retriable() => waiting = Some(e),
                            Some(e) => {
                                let message = format!("{}-{}", t.name.0, p.partition_index);
                                return Err(AdminError::Kafka(KafkaError {
                                    message: Some(message),
                                    ..e
                                }));
                            }
                        }
                    }
                }
            }
            let Some(last) = waiting else {
                return Ok(done);
            };
            if Instant::now() + backoff >= deadline {
                return Err(AdminError::Deadline {
                    attempts,
                    elapsed: started.elapsed(),
                    last: Box::new(AdminError::Kafka(last)),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

fn list_offsets_request(
    wanted: &BTreeMap<String, Vec<i32>>,
    timestamp: i64,
    timeout_ms: i32,
) -> ListOffsetsRequest {
    let topics = wanted.iter().map(|(name, partitions)| {
        let partitions = partitions.iter().map(|p| {
            ListOffsetsPartition::default()
                .with_partition_index(*p)
                .with_current_leader_epoch(-1)
                .with_timestamp(timestamp)
        });
        ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.clone())))
            .with_partitions(partitions.collect())
    });
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(topics.collect())
        .with_timeout_ms(timeout_ms)
}
