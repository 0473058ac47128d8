//! Fetch: a partition's records from an offset, asked of its leader, as a consumer outside any
//! group reads them (read-uncommitted; no fetch session). Batches in any of Kafka's four
//! compression codecs are decoded.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::client::{AdminClient, Route};
use super::error::{check, code, AdminError, KafkaError};

/// One record as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedRecord {
    pub offset: i64,
    /// Milliseconds since the epoch (the producer's, or the log's append time).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In the order the producer gave them.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// What one Fetch of a partition answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    /// Records at or after the offset asked, in offset order (control records left out).
    pub records: Vec<FetchedRecord>,
    /// The offset after the last one consumers may read.
    pub high_watermark: i64,
    /// The first offset still kept.
    pub log_start: i64,
}

/// Fetch v13 and later name topics by id.
const TOPIC_IDS_FROM: i16 = 13;

fn topic_uuid(text: &str) -> Option<uuid::Uuid> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    Some(uuid::Uuid::from_bytes(bytes.try_into().ok()?))
}

fn fetch_request(
    v: i16,
    topic: &str,
    topic_id: uuid::Uuid,
    partition: i32,
    offset: i64,
    max_bytes: i32,
) -> FetchRequest {
    let mut t = FetchTopic::default().with_partitions(vec![FetchPartition::default()
        .with_partition(partition)
        .with_current_leader_epoch(-1)
        .with_fetch_offset(offset)
        .with_last_fetched_epoch(-1)
        .with_log_start_offset(-1)
        .with_partition_max_bytes(max_bytes)]);
    if v >= TOPIC_IDS_FROM {
        t = t.with_topic_id(topic_id);
    } else {
        t = t.with_topic(TopicName(StrBytes::from_string(topic.to_string())));
    }
    let mut r = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(max_bytes)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![t]);
    if v >= 15 {
        r = r.with_replica_state(ReplicaState::default().with_replica_id(BrokerId(-1)));
    } else {
        r = r.with_replica_id(BrokerId(-1));
    }
    r
}

/// The records in `data`: every whole batch (a response may end with part of one, cut at the
/// size asked), at or after `from`.
fn decode(mut data: Bytes, from: i64) -> Result<Vec<FetchedRecord>, AdminError> {
    let mut out = Vec::new();
    let mut batches = 0;
    while !data.is_empty() {
        match RecordBatchDecoder::decode(&mut data) {
            Ok(set) => {
                batches += 1;
                out.extend(
                    set.records
                        .into_iter()
                        .filter(|r| !r.control && r.offset >= from)
                        .map(|r| FetchedRecord {
                            offset: r.offset,
                            timestamp: r.timestamp,
                            key: r.key,
                            value: r.value,
                            headers: r
                                .headers
                                .into_iter()
                                .map(|(k, v)| (k.to_string(), v))
                                .collect(),
                        }),
                );
            }
            // The cut end of the answer.
            Err(_) if batches > 0 => break,
            Err(e) => {
                return Err(AdminError::protocol(
                    "the partition's leader",
                    format!("a record batch could not be read: {e}"),
                ))
            }
        }
    }
    Ok(out)
}

impl AdminClient {
    /// Records of `topic`'s `partition` from `offset`, at most about `max_bytes` of batches
    /// (at least one whole batch however large, as Kafka answers). An offset outside the
    /// partition's range answers OFFSET_OUT_OF_RANGE.
    pub async fn fetch(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: i32,
    ) -> Result<FetchedPartition, AdminError> {
        let metadata = self.metadata(Some(&[topic])).await?;
        let t = metadata
            .topic(topic)
            .ok_or_else(|| unknown(topic, partition))?;
        if let Some(e) = &t.error {
            return Err(AdminError::Kafka(KafkaError {
                message: Some(format!("topic {topic}")),
                ..e.clone()
            }));
        }
        let p = t
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .ok_or_else(|| unknown(topic, partition))?;
        let leader = p.leader.ok_or_else(|| {
            AdminError::Kafka(
                KafkaError::from_code(
                    code::LEADER_NOT_AVAILABLE,
                    Some("the partition has no leader"),
                )
                .expect("an error code"),
            )
        })?;
        let id = topic_uuid(&t.topic_id).unwrap_or_default();
        let build = |v: i16| fetch_request(v, topic, id, partition, offset, max_bytes);
        let r = self
            .request(Route::Node(leader), build, |r| check(r.error_code, None))
            .await?;
        let answer = r
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| {
                AdminError::protocol(
                    "the partition's leader",
                    format!("Fetch: no answer for {topic}-{partition}"),
                )
            })?;
        check(answer.error_code, None)?;
        Ok(FetchedPartition {
            records: decode(answer.records.unwrap_or_default(), offset)?,
            high_watermark: answer.high_watermark,
            log_start: answer.log_start_offset,
        })
    }
}

fn unknown(topic: &str, partition: i32) -> AdminError {
    AdminError::Kafka(
        KafkaError::from_code(
            code::UNKNOWN_TOPIC_OR_PARTITION,
            Some(&format!("{topic}-{partition}")),
        )
        .expect("an error code"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_read_back_from_kafkas_printed_form() {
        let id = topic_uuid("AAAAAAAAAAAAAAAAAAAAAQ").unwrap();
        assert_eq!(id.as_bytes()[15], 1);
        assert_eq!(
            super::super::cluster::topic_id_text(id.as_bytes()),
            "AAAAAAAAAAAAAAAAAAAAAQ"
        );
        assert!(topic_uuid("not base64!").is_none());
    }

    #[test]
    fn nothing_fetched_is_no_records() {
        assert_eq!(decode(Bytes::new(), 0).unwrap(), vec![]);
    }
}
