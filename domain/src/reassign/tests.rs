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
#[test]
fn every_topic_spreads_onto_a_new_broker_not_only_the_biggest() {
    let topic = |name: &str, n: i32, start: i32| -> Vec<Placement> {
        (0..n)
            .map(|p| Placement {
                topic: name.into(),
                partition: p,
                replicas: (0..3).map(|k| (p + start + k) % 3).collect(),
            })
            .collect()
    };
    let mut current = topic("__consumer_offsets", 50, 1);
    current.extend(topic("orders", 6, 0));
    let after = apply(&current, &plan(&current, &brokers(&[0, 1, 2, 3])));
    let orders: Vec<Placement> = after
        .iter()
        .filter(|p| p.topic == "orders")
        .cloned()
        .collect();
    // 18 replicas of orders over four brokers: 4 or 5 each; broker 3 leads 1 or 2.
    for id in 0..4 {
        let (replicas, leads) = count(&orders, id);
        assert!((4..=5).contains(&replicas), "broker {id}: {orders:?}");
        assert!((1..=2).contains(&leads), "broker {id}: {orders:?}");
    }
    let (all, _) = count(&after, 3);
    assert!((41..=43).contains(&all), "{all} of 168");
}
