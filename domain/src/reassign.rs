//! Where each partition's replicas go when an instance's brokers change (a scale up or down):
//! a plan of partition reassignments, as plain rules.
//!
//! - Every replica on a broker that goes is moved; nothing else moves unless it must for
//!   balance: the least data moved.
//! - Each partition keeps its replication factor, and on a multi-zone instance its replicas
//!   stay in different racks (zones) where the brokers allow it.
//! - Replicas are balanced topic by topic: no broker holds more than its share of a topic,
//!   rounded up, while another holds less, rounded down (so new brokers take their share of
//!   every topic, not only of Kafka's many-partition `__consumer_offsets`).
//! - Leaders are balanced too: each partition's preferred leader (its first replica) is the
//!   replica that leads the fewest partitions so far (ties: the one in the fewest partitions),
//!   in order, so that after a preferred
//!   leader election new brokers lead partitions and brokers that go lead none.

use std::collections::{BTreeMap, BTreeSet};

/// A partition's replicas, the preferred leader first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
}

/// A broker that is to hold replicas: its id and rack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: i32,
    pub rack: Option<String>,
}

/// The placements that change to spread `current` over `brokers` (only those that differ, in
/// the order of `current`). Partitions whose replication factor is above the number of
/// brokers keep as many replicas as there are brokers.
pub fn plan(current: &[Placement], brokers: &[Target]) -> Vec<Placement> {
    let ids: BTreeSet<i32> = brokers.iter().map(|b| b.id).collect();
    let rack: BTreeMap<i32, Option<&str>> =
        brokers.iter().map(|b| (b.id, b.rack.as_deref())).collect();
    let racks_of = |replicas: &[i32], except: Option<i32>| -> BTreeSet<Option<&str>> {
        replicas
            .iter()
            .filter(|r| Some(**r) != except)
            .filter_map(|r| rack.get(r).copied().flatten().map(Some))
            .collect()
    };
    let fits_rack = |replicas: &[i32], candidate: i32, except: Option<i32>| -> bool {
        match rack.get(&candidate).copied().flatten() {
            None => true,
            Some(r) => !racks_of(replicas, except).contains(&Some(r)),
        }
    };

    // Replicas that stay: those on brokers that stay.
    let mut next: Vec<Vec<i32>> = current
        .iter()
        .map(|p| {
            p.replicas
                .iter()
                .copied()
                .filter(|r| ids.contains(r))
                .collect()
        })
        .collect();
    let mut load: BTreeMap<i32, usize> = ids.iter().map(|id| (*id, 0)).collect();
    for replicas in &next {
        for r in replicas {
            *load.entry(*r).or_default() += 1;
        }
    }

    // Replicas lost with the brokers that go are placed on the least-loaded brokers.
    for (i, p) in current.iter().enumerate() {
        let factor = p.replicas.len().min(ids.len());
        while next[i].len() < factor {
            let pick = |rack_aware: bool| {
                ids.iter()
                    .copied()
                    .filter(|b| !next[i].contains(b))
                    .filter(|b| !rack_aware || fits_rack(&next[i], *b, None))
                    .min_by_key(|b| (load[b], *b))
            };
            let Some(b) = pick(true).or_else(|| pick(false)) else {
                break;
            };
            next[i].push(b);
            *load.get_mut(&b).expect("a target") += 1;
        }
    }

    // Balance, topic by topic (a busy topic must spread onto new brokers, not only Kafka's
    // idle __consumer_offsets): while some broker holds at least two of the topic's replicas
    // more than another and one of them can move there (not already on it, racks kept
    // distinct), move it: the emptiest broker first, taking from the fullest that can give;
    // ties go by the brokers' replicas of every topic, so that the whole stays even too.
    let topics: BTreeSet<&str> = current.iter().map(|p| p.topic.as_str()).collect();
    for topic in &topics {
        let members: Vec<usize> = (0..current.len())
            .filter(|i| current[*i].topic == *topic)
            .collect();
        let mut tload: BTreeMap<i32, usize> = ids.iter().map(|id| (*id, 0)).collect();
        for i in &members {
            for r in &next[*i] {
                *tload.entry(*r).or_default() += 1;
            }
        }
        let total: usize = tload.values().sum();
        for _ in 0..total {
            let mut by_load: Vec<(usize, usize, i32)> =
                tload.iter().map(|(id, n)| (*n, load[id], *id)).collect();
            by_load.sort();
            let mut moved = false;
            'pairs: for &(least, _, to) in &by_load {
                for &(most, _, from) in by_load.iter().rev() {
                    if most <= least + 1 {
                        break;
                    }
                    let movable = members.iter().copied().find(|i| {
                        let rs = &next[*i];
                        rs.contains(&from) && !rs.contains(&to) && fits_rack(rs, to, Some(from))
                    });
                    if let Some(i) = movable {
                        let at = next[i].iter().position(|r| *r == from).expect("holds it");
                        next[i][at] = to;
                        for l in [&mut load, &mut tload] {
                            *l.get_mut(&from).expect("a target") -= 1;
                            *l.get_mut(&to).expect("a target") += 1;
                        }
                        moved = true;
                        break 'pairs;
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    // Leaders: each partition's first replica is the one that leads the fewest of its
    // topic's partitions so far, then the fewest of all. Ties go to the broker in the fewest
    // partitions (it has the fewest chances to lead).
    let mut leads: BTreeMap<i32, usize> = ids.iter().map(|id| (*id, 0)).collect();
    let mut topic_leads: BTreeMap<(&str, i32), usize> = BTreeMap::new();
    for (p, replicas) in current.iter().zip(next.iter_mut()) {
        if let Some((at, _)) = replicas.iter().enumerate().min_by_key(|(at, r)| {
            (
                topic_leads
                    .get(&(p.topic.as_str(), **r))
                    .copied()
                    .unwrap_or(0),
                leads[*r],
                load[*r],
                *at,
            )
        }) {
            let leader = replicas.remove(at);
            replicas.insert(0, leader);
            *leads.get_mut(&leader).expect("a target") += 1;
            *topic_leads.entry((p.topic.as_str(), leader)).or_default() += 1;
        }
    }

    current
        .iter()
        .zip(next)
        .filter(|(p, replicas)| p.replicas != *replicas)
        .map(|(p, replicas)| Placement {
            topic: p.topic.clone(),
            partition: p.partition,
            replicas,
        })
        .collect()
}

/// The topics whose partitions `moves` leave with fewer replicas than they have now (a scale
/// down to fewer brokers than a topic's replication factor): only their
/// `min.insync.replicas` may need lowering ([`min_insync_after`]).
pub fn shrinking(current: &[Placement], moves: &[Placement]) -> BTreeSet<String> {
    moves
        .iter()
        .filter(|m| {
            current.iter().any(|p| {
                p.topic == m.topic
                    && p.partition == m.partition
                    && m.replicas.len() < p.replicas.len()
            })
        })
        .map(|m| m.topic.clone())
        .collect()
}

/// What `topic`'s `min.insync.replicas` must be lowered to *before* `moves` are submitted,
/// when some partition of it would end with fewer replicas than `min_insync` (acks=all
/// producers would then be refused with NOT_ENOUGH_REPLICAS): the fewest replicas any of its
/// partitions keeps, at least 1. `None`: it may stay.
pub fn min_insync_after(
    current: &[Placement],
    moves: &[Placement],
    topic: &str,
    min_insync: u32,
) -> Option<u32> {
    let fewest = current
        .iter()
        .filter(|p| p.topic == topic)
        .map(|p| {
            moves
                .iter()
                .find(|m| m.topic == p.topic && m.partition == p.partition)
                .unwrap_or(p)
                .replicas
                .len()
        })
        .min()?;
    let fewest = u32::try_from(fewest).unwrap_or(u32::MAX).max(1);
    (min_insync > fewest).then_some(fewest)
}

/// The partitions (`topic-partition`) that still have a replica on a broker of `going`: a
/// broker is stopped only when this is empty, so no node holding a partition's only in-sync
/// replica (or any replica) is ever stopped.
pub fn held_by(current: &[Placement], going: &[i32]) -> Vec<String> {
    current
        .iter()
        .filter(|p| p.replicas.iter().any(|r| going.contains(r)))
        .map(|p| format!("{}-{}", p.topic, p.partition))
        .collect()
}

#[cfg(test)]
mod tests;
