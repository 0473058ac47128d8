//! Consumer groups' offsets: the lag rule, and what resetting a group's offsets would do.
//!
//! **Lag.** A partition's lag is its end offset (the high watermark: the next offset to be
//! written) less the group's committed offset (the next offset the group will read), never
//! below 0 (a commit beyond the end, e.g. after a leader lost its last records, reads as 0,
//! not as a negative backlog). A partition the group has not committed to has *no* lag: it is
//! shown as "no commit", left out of the total and counted in [`LagTotal::without_commit`],
//! because where such a consumer starts depends on its own `auto.offset.reset`, which the
//! console cannot see. A partition whose end offset is unknown (its topic was deleted) has no
//! lag either.
//!
//! **Reset.** For each partition in scope the target is the earliest offset, the latest (end)
//! offset, the first offset whose record timestamp is at or after the given time (the end
//! offset when no record is that recent, as Kafka's `kafka-consumer-groups --to-datetime`
//! does), an absolute offset, or the committed offset shifted by N. The new offset is the
//! target clamped into `[earliest, latest]`: a consumer cannot read before the log start or
//! past its end, so asking for more moves it to the nearest end (and the preview says so,
//! [`PartitionReset::clamped`]). Shifting needs a committed offset to shift from. Compared
//! with the committed offset, the new one re-reads `current - new` messages (moving back) or
//! skips `new - current` (moving forward); a partition without a commit neither re-reads nor
//! skips. The scope is every partition the group has committed to, or every partition of one
//! topic. Pure: the caller brings the offsets (ListOffsets, OffsetFetch) and the time.

use crate::instance_spec::SpecError;

/// A refused reset: the field (`offset`, `timestamp`, `shift`, `topic`, `offsets`) and the
/// rule's words, the same shape as the instance settings' errors.
pub type ResetError = SpecError;

fn refuse(field: &'static str, message: impl Into<String>) -> ResetError {
    ResetError {
        field,
        message: message.into(),
    }
}

/// The lag of one partition (see the module's rule): `end - committed`, at least 0; `None`
/// without a commit or an end offset.
pub fn lag(committed: Option<i64>, end: Option<i64>) -> Option<i64> {
    let (committed, end) = (committed.filter(|c| *c >= 0)?, end.filter(|e| *e >= 0)?);
    Some(end.saturating_sub(committed).max(0))
}

/// A group's lag over its partitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LagTotal {
    /// The sum of the partitions' lags (those with one).
    pub total: i64,
    /// Partitions with a lag (a commit and an end offset).
    pub partitions: usize,
    /// Partitions left out: no commit, or no end offset.
    pub without_commit: usize,
}

/// The total of `(committed, end)` pairs, by [`lag`].
pub fn total_lag(partitions: impl IntoIterator<Item = (Option<i64>, Option<i64>)>) -> LagTotal {
    let mut sum = LagTotal::default();
    for (committed, end) in partitions {
        match lag(committed, end) {
            Some(l) => {
                sum.total = sum.total.saturating_add(l);
                sum.partitions += 1;
            }
            None => sum.without_commit += 1,
        }
    }
    sum
}

/// Where a reset moves the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    /// The log start offset.
    Earliest,
    /// The end offset: the group skips everything not yet read.
    Latest,
    /// The first record at or after this time (Unix milliseconds); the end if none.
    Timestamp(i64),
    /// This offset in every partition in scope (0 or more; clamped per partition).
    Offset(i64),
    /// The committed offset plus N (negative: back).
    Shift(i64),
}

/// Which of the group's partitions a reset moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetScope {
    /// Every partition the group has committed to.
    AllTopics,
    /// Every partition of this topic.
    Topic(String),
}

/// A reset as an operator asks for it: where to, which partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSpec {
    pub to: ResetTo,
    pub scope: ResetScope,
}

impl ResetSpec {
    /// The spec's own rules, before any offset is looked at: an offset is 0 or more; a
    /// timestamp is 0 or more and not after `now_ms`; a topic is named.
    pub fn validate(&self, now_ms: i64) -> Result<(), ResetError> {
        match self.to {
            ResetTo::Offset(n) if n < 0 => {
                return Err(refuse(
                    "offset",
                    format!("An offset is 0 or more; {n} is not."),
                ))
            }
            ResetTo::Timestamp(t) if t < 0 => {
                return Err(refuse(
                    "timestamp",
                    format!("A timestamp is milliseconds since 1970, 0 or more; {t} is not."),
                ))
            }
            ResetTo::Timestamp(t) if t > now_ms => {
                return Err(refuse(
                    "timestamp",
                    format!(
                        "The timestamp {t} is in the future (now is {now_ms}): no record is \
                         that recent yet."
                    ),
                ))
            }
            _ => {}
        }
        if let ResetScope::Topic(t) = &self.scope {
            if t.trim().is_empty() {
                return Err(refuse(
                    "topic",
                    "Name the topic to reset, or reset all topics.",
                ));
            }
        }
        Ok(())
    }

    /// Whether the reset moves partitions of `topic`.
    pub fn covers(&self, topic: &str) -> bool {
        match &self.scope {
            ResetScope::AllTopics => true,
            ResetScope::Topic(t) => t == topic,
        }
    }
}

/// One partition's offsets, as Kafka answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The group's committed offset; `None` if it has not committed to this partition.
    pub committed: Option<i64>,
    /// The log start offset.
    pub earliest: i64,
    /// The end offset (high watermark).
    pub latest: i64,
    /// For [`ResetTo::Timestamp`]: the first offset whose record is at or after the time;
    /// `None` when no record is (the reset then goes to the end). Ignored otherwise.
    pub at_timestamp: Option<i64>,
}

/// Which end a target was moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clamp {
    /// The target was before the log start: moved up to the earliest offset.
    ToEarliest,
    /// The target was past the end: moved down to the end offset.
    ToLatest,
}

/// What a reset does to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The committed offset now (`None`: no commit).
    pub current: Option<i64>,
    /// The offset the group will be at.
    pub new: i64,
    /// Set when the target fell outside `[earliest, latest]`.
    pub clamped: Option<Clamp>,
    /// Messages read again (`current - new` when moving back), else 0.
    pub rereads: i64,
    /// Messages skipped (`new - current` when moving forward), else 0.
    pub skips: i64,
}

/// What a reset does, partition by partition (sorted by topic and partition), with totals
/// of the messages read again and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetPreview {
    pub partitions: Vec<PartitionReset>,
    pub rereads: i64,
    pub skips: i64,
}

/// The preview of `spec` over `partitions` (the group's committed partitions, and for a
/// topic scope every partition of that topic), at `now_ms`. Refused, naming the field: a bad
/// spec ([`ResetSpec::validate`]), a topic with no partition here, nothing to reset, a shift
/// from a partition without a commit or beyond the range of an offset, offsets that make no
/// sense (negative, or the start after the end).
pub fn preview(
    spec: &ResetSpec,
    partitions: &[PartitionOffsets],
    now_ms: i64,
) -> Result<ResetPreview, ResetError> {
    spec.validate(now_ms)?;
    let mut rows: Vec<&PartitionOffsets> = partitions
        .iter()
        .filter(|p| spec.covers(&p.topic))
        .collect();
    if rows.is_empty() {
        return Err(match &spec.scope {
            ResetScope::Topic(t) => refuse(
                "topic",
                format!("The topic {t:?} does not exist, or has no partition to reset."),
            ),
            ResetScope::AllTopics => refuse(
                "topic",
                "The group has committed no offset: name the topic to reset.",
            ),
        });
    }
    rows.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    rows.dedup_by(|a, b| (&a.topic, a.partition) == (&b.topic, b.partition));
    let mut out = ResetPreview {
        partitions: Vec::with_capacity(rows.len()),
        rereads: 0,
        skips: 0,
    };
    for p in rows {
        let row = reset_one(spec.to, p)?;
        out.rereads = out.rereads.saturating_add(row.rereads);
        out.skips = out.skips.saturating_add(row.skips);
        out.partitions.push(row);
    }
    Ok(out)
}

fn reset_one(to: ResetTo, p: &PartitionOffsets) -> Result<PartitionReset, ResetError> {
    let name = format!("{}-{}", p.topic, p.partition);
    if p.earliest < 0 || p.latest < p.earliest {
        return Err(refuse(
            "offsets",
            format!(
                "Partition {name} answered earliest {} and latest {}: the start must be 0 or \
                 more and not after the end. Try again.",
                p.earliest, p.latest
            ),
        ));
    }
    let current = p.committed.filter(|c| *c >= 0);
    let target = match to {
        ResetTo::Earliest => p.earliest,
        ResetTo::Latest => p.latest,
        ResetTo::Timestamp(_) => p.at_timestamp.filter(|o| *o >= 0).unwrap_or(p.latest),
        ResetTo::Offset(n) => n,
        ResetTo::Shift(n) => {
            let from = current.ok_or_else(|| {
                refuse(
                    "shift",
                    format!(
                        "Partition {name} has no committed offset to shift from: reset it to \
                         an offset, a time, the earliest or the latest instead."
                    ),
                )
            })?;
            from.checked_add(n).ok_or_else(|| {
                refuse(
                    "shift",
                    format!("Shifting {from} by {n} (partition {name}) overflows an offset."),
                )
            })?
        }
    };
    let (new, clamped) = if target < p.earliest {
        (p.earliest, Some(Clamp::ToEarliest))
    } else if target > p.latest {
        (p.latest, Some(Clamp::ToLatest))
    } else {
        (target, None)
    };
    let (rereads, skips) = match current {
        Some(c) if new < c => (c - new, 0),
        Some(c) => (0, new - c),
        None => (0, 0),
    };
    Ok(PartitionReset {
        topic: p.topic.clone(),
        partition: p.partition,
        current,
        new,
        clamped,
        rereads,
        skips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn p(topic: &str, part: i32, committed: Option<i64>, range: (i64, i64)) -> PartitionOffsets {
        PartitionOffsets {
            topic: topic.into(),
            partition: part,
            committed,
            earliest: range.0,
            latest: range.1,
            at_timestamp: None,
        }
    }

    fn all(to: ResetTo) -> ResetSpec {
        ResetSpec {
            to,
            scope: ResetScope::AllTopics,
        }
    }

    fn news(preview: &ResetPreview) -> Vec<(i64, i64, i64)> {
        let row = |r: &PartitionReset| (r.new, r.rereads, r.skips);
        preview.partitions.iter().map(row).collect()
    }

    #[test]
    fn lag_is_end_less_committed_never_negative_none_without_commit() {
        assert_eq!(lag(Some(40), Some(100)), Some(60));
        assert_eq!(lag(Some(100), Some(100)), Some(0));
        assert_eq!(lag(Some(120), Some(100)), Some(0), "a commit past the end");
        assert_eq!(lag(None, Some(100)), None);
        assert_eq!(lag(Some(-1), Some(100)), None, "Kafka's -1: no commit");
        assert_eq!(lag(Some(5), None), None, "end unknown");
        assert_eq!(lag(Some(0), Some(i64::MAX)), Some(i64::MAX));
        let total = total_lag([
            (Some(10), Some(15)),
            (None, Some(7)),
            (Some(3), Some(3)),
            (Some(1), None),
        ]);
        let expected = (5, 2, 2);
        assert_eq!(
            (total.total, total.partitions, total.without_commit),
            expected
        );
        let huge = total_lag([(Some(0), Some(i64::MAX)), (Some(0), Some(i64::MAX))]);
        assert_eq!(huge.total, i64::MAX, "saturates");
    }

    #[test]
    fn earliest_latest_and_the_rereads_and_skips() {
        let parts = [
            p("t", 1, Some(50), (10, 100)),
            p("t", 0, Some(10), (10, 100)),
            p("u", 0, None, (0, 5)),
        ];
        let back = preview(&all(ResetTo::Earliest), &parts, NOW).unwrap();
        let first = &back.partitions[0];
        assert_eq!((first.topic.as_str(), first.partition), ("t", 0), "sorted");
        assert_eq!(news(&back), [(10, 0, 0), (10, 40, 0), (0, 0, 0)]);
        assert_eq!((back.rereads, back.skips), (40, 0));
        assert_eq!(back.partitions[2].current, None);
        let forward = preview(&all(ResetTo::Latest), &parts, NOW).unwrap();
        assert_eq!(news(&forward), [(100, 0, 90), (100, 0, 50), (5, 0, 0)]);
        assert_eq!((forward.rereads, forward.skips), (0, 140));
        assert!(forward.partitions.iter().all(|r| r.clamped.is_none()));
    }

    #[test]
    fn an_offset_is_clamped_into_the_partition_and_says_so() {
        let parts = [
            p("t", 0, Some(50), (10, 100)),
            p("t", 1, Some(50), (60, 70)),
        ];
        let r = preview(&all(ResetTo::Offset(80)), &parts, NOW).unwrap();
        assert_eq!(news(&r), [(80, 0, 30), (70, 0, 20)]);
        assert_eq!(r.partitions[0].clamped, None);
        assert_eq!(r.partitions[1].clamped, Some(Clamp::ToLatest));
        let r = preview(&all(ResetTo::Offset(0)), &parts, NOW).unwrap();
        assert_eq!(news(&r), [(10, 40, 0), (60, 0, 10)]);
        assert_eq!(r.partitions[0].clamped, Some(Clamp::ToEarliest));
        let err = preview(&all(ResetTo::Offset(-1)), &parts, NOW).unwrap_err();
        assert_eq!(err.field, "offset");
        assert!(err.message.contains("0 or more"), "{err}");
    }

    #[test]
    fn shift_moves_from_the_commit_clamps_and_refuses_overflow_or_no_commit() {
        let parts = [
            p("t", 0, Some(50), (10, 100)),
            p("t", 1, Some(95), (0, 100)),
        ];
        let r = preview(&all(ResetTo::Shift(-45)), &parts, NOW).unwrap();
        assert_eq!(news(&r), [(10, 40, 0), (50, 45, 0)]);
        assert_eq!(r.partitions[0].clamped, Some(Clamp::ToEarliest));
        let r = preview(&all(ResetTo::Shift(10)), &parts, NOW).unwrap();
        assert_eq!(news(&r), [(60, 0, 10), (100, 0, 5)]);
        let err = preview(&all(ResetTo::Shift(i64::MAX)), &parts, NOW).unwrap_err();
        assert_eq!(err.field, "shift");
        assert!(err.message.contains("overflows"), "{err}");
        let none = [p("t", 0, None, (0, 100))];
        let err = preview(&all(ResetTo::Shift(1)), &none, NOW).unwrap_err();
        assert_eq!(err.field, "shift");
        assert!(err.message.contains("t-0 has no committed offset"), "{err}");
    }

    #[test]
    fn timestamp_goes_to_the_looked_up_offset_or_the_end() {
        let mut a = p("t", 0, Some(90), (0, 100));
        a.at_timestamp = Some(40);
        let b = p("t", 1, Some(90), (0, 100)); // no record that recent
        let r = preview(&all(ResetTo::Timestamp(NOW - 60_000)), &[a, b], NOW).unwrap();
        assert_eq!(news(&r), [(40, 50, 0), (100, 0, 10)]);
        let err = preview(&all(ResetTo::Timestamp(NOW + 1)), &[], NOW).unwrap_err();
        assert_eq!(err.field, "timestamp");
        assert!(err.message.contains("in the future"), "{err}");
        let err = preview(&all(ResetTo::Timestamp(-5)), &[], NOW).unwrap_err();
        assert_eq!(err.field, "timestamp");
    }

    #[test]
    fn one_topic_or_all_and_an_unknown_topic_is_named() {
        let parts = [p("t", 0, Some(5), (0, 10)), p("u", 0, Some(5), (0, 10))];
        let one = ResetSpec {
            to: ResetTo::Earliest,
            scope: ResetScope::Topic("u".into()),
        };
        let r = preview(&one, &parts, NOW).unwrap();
        assert_eq!(r.partitions.len(), 1);
        assert_eq!(r.partitions[0].topic, "u");
        let missing = ResetSpec {
            scope: ResetScope::Topic("nope".into()),
            ..one.clone()
        };
        let err = preview(&missing, &parts, NOW).unwrap_err();
        assert_eq!(err.field, "topic");
        assert!(err.message.contains("\"nope\" does not exist"), "{err}");
        let blank = ResetSpec {
            scope: ResetScope::Topic(" ".into()),
            ..one
        };
        assert_eq!(preview(&blank, &parts, NOW).unwrap_err().field, "topic");
        let err = preview(&all(ResetTo::Earliest), &[], NOW).unwrap_err();
        assert_eq!(err.field, "topic");
    }

    #[test]
    fn offsets_that_make_no_sense_are_refused_not_trusted() {
        let backwards = [p("t", 0, Some(5), (10, 3))];
        let err = preview(&all(ResetTo::Latest), &backwards, NOW).unwrap_err();
        assert_eq!(err.field, "offsets");
        assert!(err.message.contains("t-0"), "{err}");
        let negative = [p("t", 0, Some(5), (-2, 3))];
        let err = preview(&all(ResetTo::Latest), &negative, NOW).unwrap_err();
        assert_eq!(err.field, "offsets");
    }

    #[test]
    fn the_new_offset_is_always_within_the_partition() {
        let specs = [
            ResetTo::Earliest,
            ResetTo::Latest,
            ResetTo::Timestamp(0),
            ResetTo::Offset(0),
            ResetTo::Offset(i64::MAX),
            ResetTo::Shift(i64::MIN / 2),
            ResetTo::Shift(7),
        ];
        for (earliest, latest, committed) in [(0, 0, 0), (3, 9, 5), (3, 9, 20), (5, 50, 1)] {
            let mut part = p("t", 0, Some(committed), (earliest, latest));
            part.at_timestamp = Some(latest + 3);
            for to in specs {
                let r = preview(&all(to), std::slice::from_ref(&part), NOW).unwrap();
                let row = &r.partitions[0];
                assert!((earliest..=latest).contains(&row.new), "{to:?}: {row:?}");
                assert_eq!(row.new - committed, row.skips - row.rereads, "{to:?}");
            }
        }
    }
}
