//! The cluster as Kafka sees it: Metadata (brokers, controller, topics and their partitions,
//! hence under-replicated and offline counts), DescribeCluster and DescribeQuorum.

use std::collections::BTreeMap;

use kafka_protocol::messages::{
    describe_quorum_request, DescribeClusterRequest, DescribeQuorumRequest, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, AdminError, KafkaError};

/// A broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// `node.id`.
    pub id: i32,
    /// Advertised host of the listener asked.
    pub host: String,
    /// Advertised port of the listener asked.
    pub port: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// The leader's node id; `None` when the partition is offline.
    pub leader: Option<i32>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// Assigned replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas whose log directory is offline.
    pub offline_replicas: Vec<i32>,
    /// The partition's error, e.g. LEADER_NOT_AVAILABLE.
    pub error: Option<KafkaError>,
}

impl PartitionMetadata {
    /// Fewer in-sync replicas than assigned ones.
    pub fn is_under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }

    /// No leader: no client can use the partition.
    pub fn is_offline(&self) -> bool {
        self.leader.is_none()
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic's name.
    pub name: String,
    /// The topic id (Kafka's base64 form, as `kafka-topics --describe` prints it).
    pub topic_id: String,
    /// `__consumer_offsets` and the like.
    pub internal: bool,
    /// Partitions, by index.
    pub partitions: Vec<PartitionMetadata>,
    /// The topic's error, e.g. UNKNOWN_TOPIC_OR_PARTITION for a name asked that does not exist.
    pub error: Option<KafkaError>,
}

/// A Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// What Metadata calls the controller: in KRaft, a live broker that forwards.
    pub controller_id: Option<i32>,
    /// Live (registered, unfenced) brokers, by id.
    pub brokers: Vec<Broker>,
    /// Topics, by name.
    pub topics: Vec<TopicMetadata>,
}

/// Partition counts for the control loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionHealth {
    /// Partitions of every topic, internal ones included.
    pub partitions: usize,
    /// Partitions with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
}

impl ClusterMetadata {
    /// The topic named `name`, if listed.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// Under-replicated and offline partitions across all topics listed.
    pub fn health(&self) -> PartitionHealth {
        let partitions = self.topics.iter().flat_map(|t| &t.partitions);
        partitions.fold(PartitionHealth::default(), |mut h, p| {
            h.partitions += 1;
            h.under_replicated += usize::from(p.is_under_replicated());
            h.offline += usize::from(p.is_offline());
            h
        })
    }
}

/// A DescribeCluster answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// As in Metadata: a live broker that forwards to the active controller.
    pub controller_id: Option<i32>,
    /// Brokers with whether each is fenced (fenced ones are listed from DescribeCluster v2).
    pub brokers: Vec<(Broker, bool)>,
}

/// One replica of the metadata log, as DescribeQuorum reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReplica {
    /// Node id.
    pub id: i32,
    /// The replica's log end offset (-1 if unknown).
    pub log_end_offset: i64,
    /// How far behind the leader's log end offset.
    pub lag: i64,
    /// When the leader last heard from it (ms since the epoch), if known.
    pub last_fetch_ms: Option<i64>,
    /// When it was last caught up with the leader (ms since the epoch), if known.
    pub last_caught_up_ms: Option<i64>,
}

/// The KRaft quorum (`__cluster_metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The active controller.
    pub leader_id: i32,
    /// Its epoch.
    pub leader_epoch: i32,
    /// The metadata log's high watermark.
    pub high_watermark: i64,
    /// Voters (controllers).
    pub voters: Vec<QuorumReplica>,
    /// Observers (brokers that are not voters).
    pub observers: Vec<QuorumReplica>,
}

/// A Metadata request for brokers and controller only (no topic).
pub(crate) fn brokers_only_request(_version: i16) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(Vec::new()))
        .with_allow_auto_topic_creation(false)
}

/// `node id -> host:port` of a Metadata answer.
pub(crate) fn broker_addresses(r: &MetadataResponse) -> BTreeMap<i32, String> {
    let addr = |host: &str, port: i32| match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    };
    r.brokers
        .iter()
        .map(|b| (b.node_id.0, addr(&b.host, b.port)))
        .collect()
}

fn opt_id(id: i32) -> Option<i32> {
    (id >= 0).then_some(id)
}

fn str_of(s: &Option<StrBytes>) -> Option<&str> {
    s.as_deref()
}

/// Kafka's printed form of a topic id: URL-safe base64 of the 16 bytes, no padding.
pub(crate) fn topic_id_text(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

impl AdminClient {
    /// Metadata of `topics` (all topics if `None`), from any node; also refreshes the
    /// client's view of brokers and controller. A topic asked that does not exist comes back
    /// with its error (UNKNOWN_TOPIC_OR_PARTITION), not as the call's error.
    pub async fn metadata(&self, topics: Option<&[&str]>) -> Result<ClusterMetadata, AdminError> {
        let build = |_v: i16| {
            let names = topics.map(|names| {
                let topic = |n: &&str| {
                    kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string((*n).to_owned()))))
                };
                names.iter().map(topic).collect()
            });
            MetadataRequest::default()
                .with_topics(names)
                .with_allow_auto_topic_creation(false)
        };
        let r = self
            .request(Route::Any, build, |r| check(r.error_code, None))
            .await?;
        self.learn(broker_addresses(&r), r.controller_id.0);
        let brokers = r.brokers.iter().map(|b| Broker {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|s| s.to_string()),
        });
        let topics = r.topics.iter().map(|t| TopicMetadata {
            name: t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
            topic_id: topic_id_text(t.topic_id.as_bytes()),
            internal: t.is_internal,
            error: KafkaError::from_code(t.error_code, None),
            partitions: t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    leader: opt_id(p.leader_id.0),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error: KafkaError::from_code(p.error_code, None),
                })
                .collect(),
        });
        let mut metadata = ClusterMetadata {
            cluster_id: r.cluster_id.as_ref().map(|s| s.to_string()),
            controller_id: opt_id(r.controller_id.0),
            brokers: brokers.collect(),
            topics: topics.collect(),
        };
        metadata.brokers.sort_by_key(|b| b.id);
        metadata.topics.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut metadata.topics {
            t.partitions.sort_by_key(|p| p.partition);
        }
        Ok(metadata)
    }

    /// Under-replicated and offline partitions of every topic, from Metadata.
    pub async fn partition_health(&self) -> Result<PartitionHealth, AdminError> {
        Ok(self.metadata(None).await?.health())
    }

    /// DescribeCluster: the cluster id, brokers (fenced ones too) and controller.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, AdminError> {
        let build = |v: i16| DescribeClusterRequest::default().with_include_fenced_brokers(v >= 2);
        let check_r = |r: &kafka_protocol::messages::DescribeClusterResponse| {
            check(r.error_code, str_of(&r.error_message))
        };
        let r = self.request(Route::Any, build, check_r).await?;
        let mut brokers: Vec<(Broker, bool)> = r
            .brokers
            .iter()
            .map(|b| {
                let broker = Broker {
                    id: b.broker_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|s| s.to_string()),
                };
                (broker, b.is_fenced)
            })
            .collect();
        brokers.sort_by_key(|(b, _)| b.id);
        Ok(ClusterDescription {
            cluster_id: r.cluster_id.to_string(),
            controller_id: opt_id(r.controller_id.0),
            brokers,
        })
    }

    /// DescribeQuorum of the metadata log: voters, observers, the leader, each one's lag.
    /// Sent to any broker, which forwards it to the active controller.
    pub async fn describe_quorum(&self) -> Result<QuorumInfo, AdminError> {
        let build = |_v: i16| {
            let partition =
                describe_quorum_request::PartitionData::default().with_partition_index(0);
            let topic = describe_quorum_request::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
                .with_partitions(vec![partition]);
            DescribeQuorumRequest::default().with_topics(vec![topic])
        };
        let check_r = |r: &kafka_protocol::messages::DescribeQuorumResponse| {
            check(r.error_code, str_of(&r.error_message))?;
            let mut partitions = r.topics.iter().flat_map(|t| &t.partitions);
            partitions.try_for_each(|p| check(p.error_code, str_of(&p.error_message)))
        };
        let r = self.request(Route::Any, build, check_r).await?;
        let p = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or_else(|| AdminError::Config("DescribeQuorum answered no partition".into()))?;
        let leader_id = p.leader_id.0;
        let leader_leo = p
            .current_voters
            .iter()
            .find(|v| v.replica_id.0 == leader_id)
            .map_or(-1, |v| v.log_end_offset);
        let replica =
            |s: &kafka_protocol::messages::describe_quorum_response::ReplicaState| QuorumReplica {
                id: s.replica_id.0,
                log_end_offset: s.log_end_offset,
                lag: (leader_leo - s.log_end_offset).max(0),
                last_fetch_ms: (s.last_fetch_timestamp >= 0).then_some(s.last_fetch_timestamp),
                last_caught_up_ms: (s.last_caught_up_timestamp >= 0)
                    .then_some(s.last_caught_up_timestamp),
            };
        Ok(QuorumInfo {
            leader_id,
            leader_epoch: p.leader_epoch,
            high_watermark: p.high_watermark,
            voters: p.current_voters.iter().map(replica).collect(),
            observers: p.observers.iter().map(replica).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_as_kafka_prints_them() {
        assert_eq!(topic_id_text(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        let mut one = [0; 16];
        one[15] = 1;
        assert_eq!(topic_id_text(&one), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(topic_id_text(&[0xff; 16]), "_____________________w");
    }
}
