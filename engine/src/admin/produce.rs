//! Produce: one uncompressed RecordBatch (magic 2) to one partition, `acks=all`, sent to the
//! partition's leader. No idempotent producer id: the caller writes each batch once and keeps
//! its own account of what landed (the move of a nisshi store reads the partition's end offset
//! after any failure, see `docs/moving-data.md`).
//!
//! A batch is sent again only when the leader said it did not append it (NOT_LEADER_OR_FOLLOWER,
//! LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION while a new topic's metadata spreads,
//! NOT_ENOUGH_REPLICAS: refused before the append). A lost connection or a timeout is the
//! call's error ([`AdminError::Io`]), never retried here: the batch may or may not be in the log.

use std::time::{Duration, Instant};

pub use bytes::Bytes;
use bytes::BytesMut;
use indexmap::IndexMap;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{MetadataRequest, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
};

use super::client::{AdminClient, Route};
use super::error::{check, code, AdminError, KafkaError};

/// One message to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRecord {
    /// Its key (`None`: a null key).
    pub key: Option<Bytes>,
    /// Its value (`None`: a null value, a tombstone).
    pub value: Option<Bytes>,
    /// Its headers in order; a key at most once (a RecordBatch could carry it twice, the
    /// encoder we use cannot: refused rather than merged).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Its timestamp (CreateTime, Unix ms).
    pub timestamp_ms: i64,
}

impl ProduceRecord {
    /// Bytes of key, value and headers (keys and values), the measure of a copy's progress.
    pub fn payload_bytes(&self) -> u64 {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        let headers: u64 = self
            .headers
            .iter()
            .map(|(k, v)| k.len() as u64 + len(v))
            .sum();
        len(&self.key) + len(&self.value) + headers
    }
}

/// Errors the leader answers without appending the batch: sending it again cannot duplicate.
const NOT_APPENDED: [i16; 4] = [
    code::NOT_LEADER_OR_FOLLOWER,
    code::LEADER_NOT_AVAILABLE,
    code::UNKNOWN_TOPIC_OR_PARTITION,
    19, // NOT_ENOUGH_REPLICAS (NOT_ENOUGH_REPLICAS_AFTER_APPEND, 20, is appended)
];

/// The RecordBatch (magic 2, no compression, no producer id) of `records`.
pub fn encode_batch(records: &[ProduceRecord]) -> Result<Bytes, AdminError> {
    let mut batch = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let mut headers = IndexMap::with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            let key = StrBytes::from_string(k.clone());
            if headers.insert(key, v.clone()).is_some() {
                return Err(AdminError::Config(format!(
                    "record {i}: header {k:?} appears twice; a batch is encoded with each header \
                     key once"
                )));
            }
        }
        batch.push(Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // No producer id: base sequence -1 as Java's producer sends; offset less sequence
            // the same for every record, so that they make one batch.
            sequence: (i as i32).wrapping_sub(1),
            timestamp: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers,
        });
    }
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &batch, &options)
        .map_err(|e| AdminError::Config(format!("cannot encode the batch: {e}")))?;
    Ok(buf.freeze())
}

impl AdminClient {
    /// Produces `records` as one batch to `topic`-`partition` (acks=all) and returns the
    /// offset Kafka gave the first. Sent again only after an answer saying it was not
    /// appended (see the module); any other failure is the call's error and the batch may
    /// be in the log: read the partition's end offset before writing again.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: &[ProduceRecord],
    ) -> Result<i64, AdminError> {
        if records.is_empty() {
            return Err(AdminError::Config("no record to produce".into()));
        }
        let batch = encode_batch(records)?;
        let started = Instant::now();
        let deadline = started + self.deadline();
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (leader, meta) = self.leader_of(topic, partition).await?;
            let topic_id = meta.topic_id;
            let timeout_ms = self.server_timeout_ms();
            let build = |_v: i16| {
                let data = PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch.clone()));
                let topic = TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                    .with_topic_id(topic_id)
                    .with_partition_data(vec![data]);
                ProduceRequest::default()
                    .with_acks(-1)
                    .with_timeout_ms(timeout_ms)
                    .with_topic_data(vec![topic])
            };
            let r: ProduceResponse = self.request_once(Route::Node(leader), build).await?;
            let p = r
                .responses
                .iter()
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == partition)
                .ok_or_else(|| AdminError::Protocol {
                    addr: format!("node {leader}"),
                    message: format!("Produce answered without {topic}-{partition}"),
                })?;
            let message = p.error_message.as_ref().map(|m| m.to_string());
            let Some(e) = KafkaError::from_code(p.error_code, message.as_deref()) else {
                return Ok(p.base_offset);
            };
            let e = KafkaError {
                message: Some(format!(
                    "{topic}-{partition}{}",
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                )),
                ..e
            };
            if !NOT_APPENDED.contains(&e.code) {
                return Err(AdminError::Kafka(e));
            }
            if Instant::now() + backoff >= deadline {
                return Err(AdminError::Deadline {
                    attempts,
                    elapsed: started.elapsed(),
                    last: Box::new(AdminError::Kafka(e)),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// The leader of `topic`-`partition` and the topic's id (Metadata, retried while the
    /// partition has no leader).
    async fn leader_of(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<(i32, MetadataResponseTopic), AdminError> {
        let started = Instant::now();
        let deadline = started + self.deadline();
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let build = |_v: i16| {
                let t = MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))));
                MetadataRequest::default()
                    .with_topics(Some(vec![t]))
                    .with_allow_auto_topic_creation(false)
            };
            let r = self
                .request(Route::Any, build, |r| check(r.error_code, None))
                .await?;
            let brokers = super::cluster::broker_addresses(&r);
            self.learn(brokers, r.controller_id.0);
            let t = r.topics.first();
            let err = match t.map(|t| (t, KafkaError::from_code(t.error_code, None))) {
                Some((t, None)) => {
                    let p = t.partitions.iter().find(|p| p.partition_index == partition);
                    match p {
                        Some(p) if p.leader_id.0 >= 0 => return Ok((p.leader_id.0, t.clone())),
                        Some(p) => KafkaError::from_code(code::LEADER_NOT_AVAILABLE, None)
                            .filter(|_| p.error_code == 0)
                            .or_else(|| KafkaError::from_code(p.error_code, None)),
                        None => KafkaError::from_code(code::UNKNOWN_TOPIC_OR_PARTITION, None),
                    }
                }
                Some((_, Some(e))) => Some(e),
                None => KafkaError::from_code(code::UNKNOWN_TOPIC_OR_PARTITION, None),
            }
            .expect("an error code");
            let e = KafkaError {
                message: Some(format!("{topic}-{partition}")),
                ..err
            };
            if !e.is_retriable() || Instant::now() + backoff >= deadline {
                return Err(AdminError::Deadline {
                    attempts,
                    elapsed: started.elapsed(),
                    last: Box::new(AdminError::Kafka(e)),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn one_batch_decodes_to_the_same_records() {
        let records: Vec<ProduceRecord> = (0..5)
            .map(|i| ProduceRecord {
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![0, 1, 0xfe, i as u8])),
                headers: match i % 3 {
                    0 => vec![("trace".into(), Some(Bytes::from("t"))), ("n".into(), None)],
                    _ => vec![],
                },
                timestamp_ms: 1_764_547_200_000 + i * 1000,
            })
            .collect();
        let mut bytes = encode_batch(&records).unwrap();
        let infos = RecordBatchDecoder::decode_batch_info(&mut bytes.clone()).unwrap();
        assert_eq!(infos.len(), 1, "one batch");
        assert_eq!(infos[0].record_count, 5);
        assert_eq!(infos[0].base_sequence, -1);
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        for (r, want) in set.records.iter().zip(&records) {
            assert_eq!(r.key, want.key);
            assert_eq!(r.value, want.value);
            assert_eq!(r.timestamp, want.timestamp_ms);
            let headers: Vec<(String, Option<Bytes>)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            assert_eq!(headers, want.headers);
        }
    }

    #[test]
    fn a_header_key_twice_is_refused() {
        let r = ProduceRecord {
            key: None,
            value: None,
            headers: vec![("a".into(), None), ("a".into(), None)],
            timestamp_ms: 0,
        };
        let err = encode_batch(&[r]).unwrap_err().to_string();
        assert!(err.contains("header \"a\" appears twice"), "{err}");
    }
}
