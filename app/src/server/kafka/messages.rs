//! A page of a topic's messages, read as the console's super user: where each partition's
//! read starts (its newest, an offset, a time), at most 1 MiB of batches over all partitions,
//! the messages put in the page's order, then the filters.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::message_browse::{self, Browse, Start, READ_BYTES_MAX};
use crate::server::provisioner::{FieldRefusal, ProvisionError};
use crate::server::store::instances::InstanceRow;
use crate::wire::messages::{HeaderView, MessagePage, MessageView, PartitionRange};
use byoc_engine::admin::code;
use byoc_engine::admin::fetch::FetchedRecord;

fn refuse(field: &'static str, message: String) -> ProvisionError {
    FieldRefusal { field, message }.into()
}

/// Each partition's first offset to read (None: nothing to read there).
fn starts(
    browse: &Browse,
    ranges: &[PartitionRange],
    at_time: &std::collections::BTreeMap<(String, i32), Option<i64>>,
) -> Result<Vec<(i32, i64)>, ProvisionError> {
    let limit = i64::from(browse.limit);
    let mut out = Vec::new();
    for r in ranges {
        let start = match browse.start {
            Start::Newest => (r.end - limit).max(r.earliest),
            Start::Offset(o) if o > r.end => {
                return Err(refuse(
                    "at",
                    format!(
                        "Offset {o} is past the end of partition {}: its next message will be {}.",
                        r.partition, r.end
                    ),
                ))
            }
            Start::Offset(o) if o < r.earliest => {
                return Err(refuse(
                    "at",
                    format!(
                        "Offset {o} of partition {} is no longer kept: the earliest is {}.",
                        r.partition, r.earliest
                    ),
                ))
            }
            Start::Offset(o) => o,
            Start::Timestamp(_) => at_time
                .get(&(browse.topic.clone(), r.partition))
                .copied()
                .flatten()
                .unwrap_or(r.end),
        };
        if start < r.end {
            out.push((r.partition, start));
        }
    }
    Ok(out)
}

fn view(partition: i32, r: &FetchedRecord, browse: &Browse) -> MessageView {
    MessageView {
        partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: message_browse::show(r.key.as_deref(), browse.format),
        value: message_browse::show(r.value.as_deref(), browse.format),
        headers: r
            .headers
            .iter()
            .map(|(name, value)| HeaderView {
                name: name.clone(),
                value: message_browse::show(value.as_deref(), browse.format),
            })
            .collect(),
    }
}

impl KafkaProvisioner {
    pub(super) async fn messages_page(
        &self,
        instance: &InstanceRow,
        browse: &Browse,
    ) -> Result<MessagePage, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let topic = browse.topic.as_str();
        let offsets = match admin.list_offsets(&[topic]).await {
            Ok(offsets) => offsets,
            Err(byoc_engine::admin::AdminError::Kafka(e))
                if e.code == code::UNKNOWN_TOPIC_OR_PARTITION =>
            {
                return Err(refuse(
                    "topic",
                    format!("{} has no topic {topic}.", instance.name),
                ))
            }
            Err(e) => return Err(kafka_error(e)),
        };
        let mut ranges: Vec<PartitionRange> = offsets
            .iter()
            .map(|o| PartitionRange {
                partition: o.partition,
                earliest: o.earliest,
                end: o.latest,
            })
            .collect();
        ranges.sort_by_key(|r| r.partition);
        if let Some(p) = browse.partition {
            if !ranges.iter().any(|r| r.partition == p) {
                return Err(refuse(
                    "partition",
                    format!(
                        "{topic} has partitions 0 to {}; there is no partition {p}.",
                        ranges.len().saturating_sub(1)
                    ),
                ));
            }
        }
        let chosen: Vec<PartitionRange> = ranges
            .iter()
            .filter(|r| browse.partition.is_none_or(|p| p == r.partition))
            .cloned()
            .collect();
        let at_time = match browse.start {
            Start::Timestamp(ms) => admin
                .offsets_for_timestamp(&[topic], ms)
                .await
                .map_err(kafka_error)?,
            _ => Default::default(),
        };
        let starts = starts(browse, &chosen, &at_time)?;
        // The page's budget shared by the partitions read (at least 64 KiB each: a batch
        // larger than that still comes whole, as Kafka answers at least one).
        let share = (READ_BYTES_MAX / starts.len().max(1) as i32).max(64 * 1024);
        let mut read = Vec::new();
        let mut read_bytes = 0;
        for (partition, start) in starts {
            let fetched = admin
                .fetch(topic, partition, start, share)
                .await
                .map_err(kafka_error)?;
            let end = chosen
                .iter()
                .find(|r| r.partition == partition)
                .map_or(i64::MAX, |r| r.end);
            for r in fetched
                .records
                .into_iter()
                .filter(|r| r.offset < end)
                .take(browse.limit as usize)
            {
                read_bytes +=
                    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
                read.push((partition, r));
            }
        }
        match browse.start {
            // Newest first.
            Start::Newest => read.sort_by(|a, b| {
                (b.1.timestamp, b.1.offset, b.0).cmp(&(a.1.timestamp, a.1.offset, a.0))
            }),
            Start::Offset(_) => read.sort_by_key(|(p, r)| (*p, r.offset)),
            Start::Timestamp(_) => read.sort_by_key(|(p, r)| (r.timestamp, *p, r.offset)),
        }
        read.truncate(browse.limit as usize);
        let before = read.len();
        let messages: Vec<MessageView> = read
            .iter()
            .filter(|(_, r)| message_browse::passes(browse, r.key.as_deref(), r.value.as_deref()))
            .map(|(p, r)| view(*p, r, browse))
            .collect();
        Ok(MessagePage {
            browse: browse.clone(),
            filtered_out: before - messages.len(),
            messages,
            partitions: ranges,
            read_bytes,
        })
    }
}
