//! A consumer group's offsets: committed (OffsetFetch), their lag against the partitions'
//! end offsets, and resets (a preview by the domain's rule, then OffsetCommit as the admin
//! commits: generation -1, no member, which Kafka accepts only while the group has none).
//! Every group request goes to the group's coordinator.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use byoc_domain::offset_reset::{self, LagTotal, PartitionOffsets, ResetPreview, ResetScope};
use byoc_domain::offset_reset::{ResetSpec, ResetTo};

use super::client::AdminClient;
use super::error::{check, code, AdminError, KafkaError};
use super::groups::{about, coordinator_error, group_id, GroupDescription};

/// One partition's lag in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The group's committed offset (`None`: no commit).
    pub committed: Option<i64>,
    /// The end offset (`None`: the topic is gone).
    pub end: Option<i64>,
    /// [`offset_reset::lag`] of the two.
    pub lag: Option<i64>,
    /// The member it is assigned to (its member id), if any.
    pub member: Option<String>,
}

/// A group's lag: every partition it commits to or is assigned, and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    /// Partitions by topic and index.
    pub partitions: Vec<PartitionLag>,
    /// [`offset_reset::total_lag`] of them.
    pub total: LagTotal,
}

impl AdminClient {
    /// The group's committed offsets (OffsetFetch of all its partitions), by topic and
    /// partition; partitions it has not committed to are absent. A group that does not exist
    /// has none.
    pub async fn committed_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<(String, i32), i64>, AdminError> {
        let build = |v: i16| match v >= 8 {
            true => {
                let one = OffsetFetchRequestGroup::default()
                    .with_group_id(group_id(group))
                    .with_topics(None);
                OffsetFetchRequest::default().with_groups(vec![one])
            }
            false => OffsetFetchRequest::default()
                .with_group_id(group_id(group))
                .with_topics(None),
        };
        let group_error = |r: &OffsetFetchResponse| match r.groups.first() {
            Some(g) => g.error_code,
            None => r.error_code,
        };
        let check_r = |r: &OffsetFetchResponse| coordinator_error(group_error(r), None);
        let r = self.request_coordinator(group, build, check_r).await?;
        check(group_error(&r), None).map_err(|e| about(e, group))?;
        let mut rows: Vec<(String, i32, i64, i16)> = Vec::new();
        match r.groups.first() {
            Some(g) => {
                for t in &g.topics {
                    let name = t.name.0.to_string();
                    let of = |p: &offset_fetch_response::OffsetFetchResponsePartitions| {
                        (
                            name.clone(),
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        )
                    };
                    rows.extend(t.partitions.iter().map(of));
                }
            }
            None => {
                for t in &r.topics {
                    let name = t.name.0.to_string();
                    let of = |p: &offset_fetch_response::OffsetFetchResponsePartition| {
                        (
                            name.clone(),
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        )
                    };
                    rows.extend(t.partitions.iter().map(of));
                }
            }
        }
        let mut out = BTreeMap::new();
        for (topic, partition, offset, error) in rows {
            check(error, None).map_err(|e| about(e, format!("{topic}-{partition}")))?;
            if offset >= 0 {
                out.insert((topic, partition), offset);
            }
        }
        Ok(out)
    }

    /// The lag of a described group: each partition it has committed to or is assigned, its
    /// committed and end offsets (ListOffsets of the topics that still exist), and the total,
    /// by the domain's rule ([`offset_reset::lag`]).
    pub async fn group_lag(&self, group: &GroupDescription) -> Result<GroupLag, AdminError> {
        let committed = self.committed_offsets(&group.group_id).await?;
        let mut owners: BTreeMap<(String, i32), Option<String>> =
            committed.keys().map(|k| (k.clone(), None)).collect();
        for m in &group.members {
            for (topic, partitions) in m.assignment.iter().flatten() {
                for p in partitions {
                    owners.insert((topic.clone(), *p), Some(m.member_id.clone()));
                }
            }
        }
        let topics: BTreeSet<&str> = owners.keys().map(|(t, _)| t.as_str()).collect();
        let ends: BTreeMap<(String, i32), i64> = self
            .offset_ranges(&topics)
            .await?
            .into_iter()
            .map(|r| ((r.topic, r.partition), r.latest))
            .collect();
        let partitions: Vec<PartitionLag> = owners
            .into_iter()
            .map(|(key, member)| {
                let (committed, end) = (committed.get(&key).copied(), ends.get(&key).copied());
                PartitionLag {
                    lag: offset_reset::lag(committed, end),
                    topic: key.0,
                    partition: key.1,
                    committed,
                    end,
                    member,
                }
            })
            .collect();
        let total = offset_reset::total_lag(partitions.iter().map(|p| (p.committed, p.end)));
        Ok(GroupLag { partitions, total })
    }

    /// ListOffsets' earliest and latest of those of `topics` Metadata knows (a topic deleted
    /// since a group committed to it is left out, not an error).
    async fn offset_ranges(
        &self,
        topics: &BTreeSet<&str>,
    ) -> Result<Vec<super::offsets::PartitionOffsets>, AdminError> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let asked: Vec<&str> = topics.iter().copied().collect();
        let metadata = self.metadata(Some(&asked)).await?;
        let known: Vec<&str> = metadata
            .topics
            .iter()
            .filter(|t| t.error.is_none())
            .filter_map(|t| topics.get(t.name.as_str()).copied())
            .collect();
        match known.is_empty() {
            true => Ok(Vec::new()),
            false => self.list_offsets(&known).await,
        }
    }

    /// What resetting `group`'s offsets by `spec` would do at `now_ms` (Unix ms): the group's
    /// committed offsets, the partitions' earliest and latest (and, for a time, the offsets
    /// at it), then the domain's rule ([`offset_reset::preview`]); its refusals are
    /// [`AdminError::Reset`]. Nothing is changed.
    pub async fn preview_offset_reset(
        &self,
        group: &str,
        spec: &ResetSpec,
        now_ms: i64,
    ) -> Result<ResetPreview, AdminError> {
        spec.validate(now_ms).map_err(AdminError::Reset)?;
        let committed = self.committed_offsets(group).await?;
        let topics: BTreeSet<&str> = match &spec.scope {
            ResetScope::AllTopics => committed.keys().map(|(t, _)| t.as_str()).collect(),
            ResetScope::Topic(t) => BTreeSet::from([t.as_str()]),
        };
        let ranges = self.offset_ranges(&topics).await?;
        let at = match spec.to {
            ResetTo::Timestamp(ts) if !ranges.is_empty() => {
                let names: BTreeSet<&str> = ranges.iter().map(|r| r.topic.as_str()).collect();
                let names: Vec<&str> = names.into_iter().collect();
                self.offsets_for_timestamp(&names, ts).await?
            }
            _ => BTreeMap::new(),
        };
        let mut inputs = Vec::with_capacity(ranges.len());
        for r in ranges {
            let key = (r.topic, r.partition);
            let current = committed.get(&key).copied();
            if spec.scope == ResetScope::AllTopics && current.is_none() {
                continue;
            }
            inputs.push(PartitionOffsets {
                at_timestamp: at.get(&key).copied().flatten(),
                topic: key.0,
                partition: key.1,
                committed: current,
                earliest: r.earliest,
                latest: r.latest,
            });
        }
        offset_reset::preview(spec, &inputs, now_ms).map_err(AdminError::Reset)
    }

    /// Commits a preview's new offsets, after checking the group has no member
    /// ([`AdminError::GroupNotEmpty`], as `kafka-consumer-groups --reset-offsets` refuses).
    pub async fn apply_offset_reset(
        &self,
        group: &str,
        preview: &ResetPreview,
    ) -> Result<(), AdminError> {
        match self.describe_group(group).await {
            Ok(d) if !d.members.is_empty() => return Err(not_empty(&d)),
            Err(e) if !e.is_code(code::GROUP_ID_NOT_FOUND) => return Err(e),
            _ => {}
        }
        let offsets = preview.partitions.iter();
        let offsets = offsets.map(|p| ((p.topic.clone(), p.partition), p.new));
        self.commit_group_offsets(group, &offsets.collect()).await
    }

    /// [`preview_offset_reset`](Self::preview_offset_reset), then
    /// [`apply_offset_reset`](Self::apply_offset_reset) of it; returns what was applied.
    pub async fn reset_group_offsets(
        &self,
        group: &str,
        spec: &ResetSpec,
        now_ms: i64,
    ) -> Result<ResetPreview, AdminError> {
        let preview = self.preview_offset_reset(group, spec, now_ms).await?;
        self.apply_offset_reset(group, &preview).await?;
        Ok(preview)
    }

    /// OffsetCommit of `offsets` for `group` as the admin commits them (generation -1, no
    /// member: Java's `alterConsumerGroupOffsets`). Kafka refuses it while the group has
    /// members (UNKNOWN_MEMBER_ID and the like): [`AdminError::GroupNotEmpty`].
    pub async fn commit_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), AdminError> {
        if let Some(((t, p), o)) = offsets.iter().find(|(_, o)| **o < 0) {
            return Err(AdminError::Config(format!(
                "offset {o} for {t}-{p}: 0 or more"
            )));
        }
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            by_topic.entry(topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(*offset),
            );
        }
        let build = |_v: i16| {
            let topics = by_topic.iter().map(|(name, partitions)| {
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string((*name).to_owned())))
                    .with_partitions(partitions.clone())
            });
            OffsetCommitRequest::default()
                .with_group_id(group_id(group))
                .with_topics(topics.collect())
        };
        let codes = |r: &OffsetCommitResponse| {
            let topics = r.topics.iter();
            let rows = topics.flat_map(|t| t.partitions.iter().map(move |p| (t, p)));
            rows.map(|(t, p)| (t.name.0.to_string(), p.partition_index, p.error_code))
                .collect::<Vec<_>>()
        };
        let check_r = |r: &OffsetCommitResponse| {
            codes(r)
                .into_iter()
                .try_for_each(|(_, _, c)| coordinator_error(c, None))
        };
        let r = self.request_coordinator(group, build, check_r).await?;
        for (topic, partition, error) in codes(&r) {
            let Some(e) = KafkaError::from_code(error, None) else {
                continue;
            };
            let refused = [
                code::UNKNOWN_MEMBER_ID,
                code::ILLEGAL_GENERATION,
                code::REBALANCE_IN_PROGRESS,
                code::STALE_MEMBER_EPOCH,
            ];
            if refused.contains(&e.code) {
                return Err(match self.describe_group(group).await {
                    Ok(d) => not_empty(&d),
                    Err(_) => AdminError::GroupNotEmpty {
                        group: group.to_owned(),
                        state: format!("unknown ({})", e.name),
                        members: 0,
                    },
                });
            }
            return Err(about(e, format!("{topic}-{partition}")));
        }
        Ok(())
    }
}

fn not_empty(d: &GroupDescription) -> AdminError {
    AdminError::GroupNotEmpty {
        group: d.group_id.clone(),
        state: d.state.clone(),
        members: d.members.len(),
    }
}
