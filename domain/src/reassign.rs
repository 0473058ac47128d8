//! Where each partition's replicas go when an instance's brokers change (a scale up or down):
//! a plan of partition reassignments, as plain rules.
//!
//! - Every replica on a broker that goes is moved; nothing else moves unless it must for
//!   balance: the least data moved.
//! - Each partition keeps its replication factor, and on a multi-zone instance its replicas
//!   stay in different racks (zones) where the brokers allow it.
//! - Replicas are balanced: no broker holds more than its share, rounded up, while another
//!   holds less than its share, rounded down (so new brokers take their share).
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

    // Balance: while some broker holds at least two replicas more than another and one of
    // its replicas can move there (not already on it, racks kept distinct), move it: the
    // emptiest broker first, taking from the fullest that can give.
    let total: usize = load.values().sum();
    for _ in 0..total {
        let mut by_load: Vec<(usize, i32)> = load.iter().map(|(id, n)| (*n, *id)).collect();
        by_load.sort();
        let mut moved = false;
        'pairs: for &(least, to) in &by_load {
            for &(most, from) in by_load.iter().rev() {
                if most <= least + 1 {
                    break;
                }
                let movable = next.iter().position(|rs| {
                    rs.contains(&from) && !rs.contains(&to) && fits_rack(rs, to, Some(from))
                });
                if let Some(i) = movable {
                    let at = next[i].iter().position(|r| *r == from).expect("holds it");
                    next[i][at] = to;
                    *load.get_mut(&from).expect("a target") -= 1;
                    *load.get_mut(&to).expect("a target") += 1;
                    moved = true;
                    break 'pairs;
                }
            }
        }
        if !moved {
            break;
        }
    }

    // Leaders: each partition's first replica is the one that leads the fewest so far.
    // Ties go to the broker in the fewest partitions (it has the fewest chances to lead).
    let mut leads: BTreeMap<i32, usize> = ids.iter().map(|id| (*id, 0)).collect();
    for replicas in &mut next {
        if let Some((at, _)) = replicas
            .iter()
            .enumerate()
            .min_by_key(|(at, r)| (leads[*r], load[*r], *at))
        {
            let leader = replicas.remove(at);
            replicas.insert(0, leader);
            *leads.get_mut(&leader).expect("a target") += 1;
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
mod tests {
    use super::*;

    fn brokers(ids: &[i32]) -> Vec<Target> {
        ids.iter()
            .map(|id| Target {
                id: *id,
                rack: None,
            })
            .collect()
    }

    fn racked(ids: &[i32], racks: &[&str]) -> Vec<Target> {
        ids.iter()
            .map(|id| Target {
                id: *id,
                rack: Some(racks[*id as usize % racks.len()].to_string()),
            })
            .collect()
    }

    /// `n` partitions of one topic on three brokers, round robin, as Kafka places them.
    fn three_node_topic(n: i32) -> Vec<Placement> {
        (0..n)
            .map(|p| Placement {
                topic: "t".into(),
                partition: p,
                replicas: (0..3).map(|k| (p + k) % 3).collect(),
            })
            .collect()
    }

    fn apply(current: &[Placement], moves: &[Placement]) -> Vec<Placement> {
        current
            .iter()
            .map(|p| {
                moves
                    .iter()
                    .find(|m| m.topic == p.topic && m.partition == p.partition)
                    .cloned()
                    .unwrap_or_else(|| p.clone())
            })
            .collect()
    }

    fn count(placements: &[Placement], id: i32) -> (usize, usize) {
        let replicas = placements
            .iter()
            .filter(|p| p.replicas.contains(&id))
            .count();
        let leads = placements.iter().filter(|p| p.replicas[0] == id).count();
        (replicas, leads)
    }

    #[test]
    fn a_new_broker_takes_its_share_of_replicas_and_leaders() {
        let current = three_node_topic(12);
        let after = apply(&current, &plan(&current, &brokers(&[0, 1, 2, 3])));
        for id in 0..4 {
            assert_eq!(count(&after, id), (9, 3), "broker {id}");
        }
        for p in &after {
            let distinct: BTreeSet<_> = p.replicas.iter().collect();
            assert_eq!(distinct.len(), 3, "{p:?}");
        }
    }

    #[test]
    fn scale_up_moves_only_what_balance_needs() {
        let current = three_node_topic(12);
        let moves = plan(&current, &brokers(&[0, 1, 2, 3]));
        let after = apply(&current, &moves);
        let moved: usize = current
            .iter()
            .zip(&after)
            .map(|(a, b)| {
                b.replicas
                    .iter()
                    .filter(|r| !a.replicas.contains(r))
                    .count()
            })
            .sum();
        assert_eq!(moved, 9, "exactly broker 3's share of 36 replicas");
    }

    #[test]
    fn a_broker_that_goes_keeps_no_replica_and_the_factor_stays() {
        let current = apply(
            &three_node_topic(12),
            &plan(&three_node_topic(12), &brokers(&[0, 1, 2, 3, 4])),
        );
        assert!(count(&current, 4).0 > 0);
        let after = apply(&current, &plan(&current, &brokers(&[0, 1, 2])));
        assert_eq!(count(&after, 3), (0, 0));
        assert_eq!(count(&after, 4), (0, 0));
        for id in 0..3 {
            assert_eq!(count(&after, id), (12, 4));
        }
        assert!(after.iter().all(|p| p.replicas.len() == 3));
    }

    #[test]
    fn nothing_changes_when_balanced() {
        let current = three_node_topic(6);
        assert!(plan(&current, &brokers(&[0, 1, 2])).is_empty());
    }

    #[test]
    fn a_fourth_broker_in_a_zone_of_its_own_takes_what_its_zone_can_give() {
        // Node 3 is in zone a, with node 0: it can only take node 0's replicas.
        let current = three_node_topic(12);
        let targets = racked(&[0, 1, 2, 3], &["a", "b", "c"]);
        let after = apply(&current, &plan(&current, &targets));
        assert_eq!(count(&after, 0).0 + count(&after, 3).0, 12);
        assert_eq!(count(&after, 3).0, 6);
        // Leaders within two of each other (a greedy choice, in partition order).
        let leads: Vec<usize> = (0..4).map(|id| count(&after, id).1).collect();
        assert!(
            leads.iter().max().unwrap() - leads.iter().min().unwrap() <= 2,
            "{leads:?}"
        );
        assert!(leads[3] >= 2, "{leads:?}");
        for p in &after {
            let racks: BTreeSet<_> = p.replicas.iter().map(|r| r % 3).collect();
            assert_eq!(racks.len(), 3, "{p:?}");
        }
    }

    #[test]
    fn racks_stay_distinct_on_a_three_zone_instance() {
        let current = three_node_topic(12);
        let targets = racked(&[0, 1, 2, 3, 4, 5], &["a", "b", "c"]);
        let after = apply(&current, &plan(&current, &targets));
        for p in &after {
            let racks: BTreeSet<_> = p.replicas.iter().map(|r| r % 3).collect();
            assert_eq!(racks.len(), 3, "{p:?}");
        }
        for id in 0..6 {
            assert_eq!(count(&after, id).0, 6, "broker {id}");
        }
        let back = apply(&after, &plan(&after, &racked(&[0, 1, 2], &["a", "b", "c"])));
        assert_eq!(count(&back, 3), (0, 0));
        for p in &back {
            let racks: BTreeSet<_> = p.replicas.iter().map(|r| r % 3).collect();
            assert_eq!(racks.len(), 3, "{p:?}");
        }
    }
    /// A topic of replication factor 4 on brokers 0-3, `min.insync.replicas` as given.
    fn four_wide(n: i32) -> Vec<Placement> {
        (0..n)
            .map(|p| Placement {
                topic: "wide".into(),
                partition: p,
                replicas: (0..4).map(|k| (p + k) % 4).collect(),
            })
            .collect()
    }

    #[test]
    fn a_scale_down_below_a_topics_factor_lowers_its_min_insync_replicas_first() {
        let mut current = four_wide(4);
        current.extend(three_node_topic(3));
        let moves = plan(&current, &brokers(&[0, 1, 2]));
        // The wide topic loses a replica per partition; "t" (on 0-2 already) does not shrink.
        assert_eq!(
            shrinking(&current, &moves),
            BTreeSet::from(["wide".to_string()])
        );
        assert!(apply(&current, &moves)
            .iter()
            .all(|p| p.replicas.len() == 3 && !p.replicas.contains(&3)));
        // min.insync.replicas 4 would refuse every acks=all write on 3 replicas: lowered to 3.
        assert_eq!(min_insync_after(&current, &moves, "wide", 4), Some(3));
        // 3 or 2 still fit: left alone.
        assert_eq!(min_insync_after(&current, &moves, "wide", 3), None);
        assert_eq!(min_insync_after(&current, &moves, "wide", 2), None);
        assert_eq!(min_insync_after(&current, &moves, "t", 3), None);
        // A topic the cluster does not have: nothing to lower.
        assert_eq!(min_insync_after(&current, &moves, "absent", 9), None);
    }

    #[test]
    fn never_below_one_replica_and_a_scale_up_never_lowers() {
        let one = vec![Placement {
            topic: "solo".into(),
            partition: 0,
            replicas: vec![3],
        }];
        let moves = plan(&one, &brokers(&[0]));
        assert_eq!(moves[0].replicas, vec![0]);
        assert_eq!(min_insync_after(&one, &moves, "solo", 2), Some(1));
        let current = three_node_topic(6);
        let up = plan(&current, &brokers(&[0, 1, 2, 3]));
        assert!(shrinking(&current, &up).is_empty());
        assert_eq!(min_insync_after(&current, &up, "t", 3), None);
    }

    #[test]
    fn a_broker_is_held_while_it_has_any_replica() {
        let current = four_wide(2);
        assert_eq!(held_by(&current, &[3]), ["wide-0", "wide-1"]);
        let after = apply(&current, &plan(&current, &brokers(&[0, 1, 2])));
        assert!(held_by(&after, &[3]).is_empty());
        assert!(held_by(&[], &[3]).is_empty());
    }
    #[test]
    fn a_plan_applied_plans_nothing_more() {
        for n in [1, 6, 7, 12, 50] {
            for targets in [&[0, 1, 2, 3][..], &[0, 1, 2, 3, 4], &[0, 1, 2]] {
                let current = three_node_topic(n);
                let once = apply(&current, &plan(&current, &brokers(targets)));
                assert_eq!(plan(&once, &brokers(targets)), vec![], "{n} on {targets:?}");
            }
        }
    }
    #[test]
    fn a_plan_over_several_topics_applied_plans_nothing_more() {
        // As Kafka places topics on three brokers: round robin from a different start each.
        let topic = |name: &str, n: i32, start: i32| -> Vec<Placement> {
            (0..n)
                .map(|p| Placement {
                    topic: name.into(),
                    partition: p,
                    replicas: (0..3).map(|k| (p + start + k) % 3).collect(),
                })
                .collect()
        };
        let mut current = topic("perf", 6, 0);
        current.extend(topic("orders", 6, 2));
        current.extend(topic("__consumer_offsets", 50, 1));
        for targets in [&[0, 1, 2, 3][..], &[0, 1, 2, 3, 4]] {
            let once = apply(&current, &plan(&current, &brokers(targets)));
            assert_eq!(plan(&once, &brokers(targets)), vec![], "on {targets:?}");
            let back = apply(&once, &plan(&once, &brokers(&[0, 1, 2])));
            assert_eq!(
                plan(&back, &brokers(&[0, 1, 2])),
                vec![],
                "back from {targets:?}"
            );
        }
    }
}
