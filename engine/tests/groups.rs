//! Consumer groups against a real three-node Apache Kafka 4.4 KRaft cluster (the cluster of
//! `tests/admin.rs`), driven by a client nobody here wrote (confluent-kafka): a classic group
//! and a group of the consumer protocol (KIP-848) read part of a six-partition topic and
//! commit; the admin client lists and describes them (members, assigned partitions), computes
//! their lag (equal to the end offsets less what confluent-kafka's AdminClient says they
//! committed), is refused a reset while they have members, and once they are gone resets them
//! (earliest, a time, a shift; all topics or one) so that a new consumer of the group starts
//! at the previewed offsets; then deletes them. Needs Kafka's jars (see `common::kafka_libs`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use byoc_domain::offset_reset::{ResetPreview, ResetScope, ResetSpec, ResetTo};
use byoc_engine::admin::*;
use common::{eventually, Cluster};
use serde_json::Value;

const TOPIC: &str = "events";

fn step(started: Instant, what: &str) {
    eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kafka_client.py")
}

fn client(args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kafka_client.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from kafka_client.py")
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// A confluent-kafka consumer holding its group's membership (`group-hold`); killed if the
/// test fails before it is told to stop.
struct Member {
    child: Child,
    dir: PathBuf,
}

impl Member {
    fn start(dir: &Path, bootstrap: &str, group: &str, protocol: &str, count: u32) -> Member {
        let dir = dir.join(group);
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("python3")
            .arg(script())
            .args(["group-hold", bootstrap, TOPIC, group, protocol])
            .arg(count.to_string())
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        Member { child, dir }
    }

    fn ready(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.join("ready")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn stop(mut self) {
        std::fs::write(self.dir.join("stop"), b"").unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "group-hold ended with {status}");
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new consumer of `group`: the offset (and value) of the first message it reads from
/// each partition where the preview left something to read.
fn first_reads(
    bootstrap: &str,
    group: &str,
    protocol: &str,
    preview: &ResetPreview,
    ends: &BTreeMap<i32, i64>,
) -> BTreeMap<i32, (i64, String)> {
    let expected = preview.partitions.iter();
    let expected = expected.filter(|p| p.new < ends[&p.partition]);
    let expected: Vec<String> = expected.map(|p| p.partition.to_string()).collect();
    let args = [bootstrap, TOPIC, group, protocol, &expected.join(","), "60"];
    let first = client(&[&["group-first"][..], &args[..]].concat());
    let first = first.as_object().unwrap().iter().map(|(p, v)| {
        let offset = v[0].as_i64().unwrap();
        (
            p.parse().unwrap(),
            (offset, v[1].as_str().unwrap().to_owned()),
        )
    });
    first.collect()
}

/// The new consumer started each partition of the preview that had something left to read
/// at its new offset (others, without a commit, start where `auto.offset.reset` says).
fn starts_at_preview(
    first: &BTreeMap<i32, (i64, String)>,
    preview: &ResetPreview,
    ends: &BTreeMap<i32, i64>,
) {
    for p in preview
        .partitions
        .iter()
        .filter(|p| p.new < ends[&p.partition])
    {
        let read = first.get(&p.partition).map(|(offset, _)| *offset);
        assert_eq!(
            read,
            Some(p.new),
            "partition {}: {first:?} {preview:?}",
            p.partition
        );
    }
}

fn spec(to: ResetTo, scope: ResetScope) -> ResetSpec {
    ResetSpec { to, scope }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_lag_resets_and_deletion_against_a_real_cluster() {
    let _one_cluster = common::serial().await;
    let started = Instant::now();
    let cluster = Cluster::start().await;
    step(started, "cluster ready");
    let admin = cluster.admin();
    let bootstrap: Vec<String> = cluster.nodes.iter().map(|n| n.client_addr()).collect();
    let bootstrap = bootstrap.join(",");
    let work = tempfile::tempdir().unwrap();

    admin
        .create_topic(&NewTopic::new(TOPIC, 6, 3))
        .await
        .expect("create topic");
    eventually("the topic's leaders", Duration::from_secs(15), || async {
        let m = admin.metadata(Some(&[TOPIC])).await.ok()?;
        let t = m.topic(TOPIC)?;
        (t.partitions.len() == 6 && t.partitions.iter().all(|p| p.leader.is_some())).then_some(())
    })
    .await;
    let a = client(&["produce-n", &bootstrap, TOPIC, "600", "a"]);
    assert_eq!(a["acked"], 600);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let between = now_ms();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = client(&["produce-n", &bootstrap, TOPIC, "600", "b"]);
    assert_eq!(b["acked"], 600);
    let ends: BTreeMap<i32, i64> = admin
        .list_offsets(&[TOPIC])
        .await
        .unwrap()
        .iter()
        .map(|o| (o.partition, o.latest))
        .collect();
    assert_eq!(ends.values().sum::<i64>(), 1200, "{ends:?}");
    step(started, "1,200 messages in two batches, 3 s apart");

    // Two groups, one of each protocol, read 500 messages each and commit them, and stay.
    let groups = [("classic-g", "classic"), ("modern-g", "consumer")];
    let members: Vec<Member> = groups
        .iter()
        .map(|(g, protocol)| Member::start(work.path(), &bootstrap, g, protocol, 500))
        .collect();
    for m in &members {
        let ready = eventually(
            "a member read and committed",
            Duration::from_secs(90),
            || std::future::ready(m.ready()),
        )
        .await;
        assert_eq!(ready["consumed"], 500, "{ready}");
    }
    step(started, "both groups read 500 messages and committed");

    let listed = admin.list_groups().await.expect("list groups");
    for (g, kind) in groups {
        let one = listed.iter().find(|l| l.group_id == g).expect("listed");
        assert_eq!(one.group_type.as_deref(), Some(kind), "{one:?}");
        assert_eq!(one.protocol_type, "consumer", "{one:?}");
        assert!((0..3).contains(&one.coordinator));
    }
    for (g, protocol) in [
        ("classic-g", GroupProtocol::Classic),
        ("modern-g", GroupProtocol::Consumer),
    ] {
        let d = eventually(
            "a stable group with all six partitions assigned",
            Duration::from_secs(30),
            || async {
                let d = admin.describe_group(g).await.ok()?;
                let assigned = d.members.first()?.assignment.as_ref()?.get(TOPIC)?.len();
                (d.state == "Stable" && assigned == 6).then_some(d)
            },
        )
        .await;
        eprintln!("{g}: {d:?}");
        assert_eq!(d.protocol, protocol);
        assert_eq!(d.members.len(), 1);
        let member = &d.members[0];
        assert_eq!(member.client_id, format!("{g}-client"));
        assert!(member.host.contains("127.0.0.1"), "{member:?}");
        assert_eq!(
            member.assignment.as_ref().unwrap()[TOPIC],
            [0, 1, 2, 3, 4, 5]
        );
        assert!(!d.assignor.is_empty() && d.coordinator.is_some(), "{d:?}");

        // Lag: the end offset less what Kafka's own AdminClient (confluent-kafka) says the
        // group committed, partition by partition.
        let lag = admin.group_lag(&d).await.expect("lag");
        let theirs = client(&["group-offsets", &bootstrap, g]);
        let theirs = theirs.as_object().unwrap();
        let mut committed_sum = 0;
        for p in &lag.partitions {
            let key = format!("{}-{}", p.topic, p.partition);
            let committed = theirs.get(&key).and_then(Value::as_i64);
            assert_eq!(p.committed, committed, "{key}: {lag:?} {theirs:?}");
            assert_eq!(p.end, Some(ends[&p.partition]));
            assert_eq!(p.lag, committed.map(|c| ends[&p.partition] - c), "{key}");
            assert_eq!(p.member.as_ref(), Some(&member.member_id));
            committed_sum += committed.unwrap_or(0);
        }
        assert_eq!(lag.partitions.len(), 6);
        assert_eq!(committed_sum, 500, "the 500 messages read: {lag:?}");
        assert_eq!(lag.total.partitions + lag.total.without_commit, 6);
        let with_commit = lag.partitions.iter().filter(|p| p.committed.is_some());
        let expected: i64 = with_commit
            .map(|p| ends[&p.partition] - p.committed.unwrap())
            .sum();
        assert_eq!(lag.total.total, expected, "{lag:?}");
        eprintln!("{g}: total lag {:?}", lag.total);

        // While it has a member: the preview answers, the reset and deletion are refused.
        let earliest = spec(ResetTo::Earliest, ResetScope::AllTopics);
        let preview = admin
            .preview_offset_reset(g, &earliest, now_ms())
            .await
            .unwrap();
        assert_eq!(preview.rereads, 500);
        let t0 = Instant::now();
        let refused = admin.apply_offset_reset(g, &preview).await.unwrap_err();
        assert!(
            matches!(&refused, AdminError::GroupNotEmpty { members: 1, state, .. } if state == "Stable"),
            "{refused:?}"
        );
        eprintln!("{g}: {refused}");
        let direct: BTreeMap<(String, i32), i64> = [((TOPIC.to_owned(), 0), 0)].into();
        let refused = admin.commit_group_offsets(g, &direct).await.unwrap_err();
        assert!(
            matches!(&refused, AdminError::GroupNotEmpty { members: 1, .. }),
            "Kafka's own refusal, typed: {refused:?}"
        );
        let refused = admin.delete_group(g).await.unwrap_err();
        assert!(refused.is_code(code::NON_EMPTY_GROUP), "{refused}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "not retried: {:?}",
            t0.elapsed()
        );
        let unchanged = admin.committed_offsets(g).await.unwrap();
        assert_eq!(unchanged.values().sum::<i64>(), 500, "nothing changed");
    }
    step(
        started,
        "described, lag checked, resets refused while members run",
    );

    // Bad input is refused naming the field, before anything is sent.
    let bad = [
        (
            spec(ResetTo::Earliest, ResetScope::Topic("nope".into())),
            "topic",
        ),
        (
            spec(
                ResetTo::Timestamp(now_ms() + 3_600_000),
                ResetScope::AllTopics,
            ),
            "timestamp",
        ),
        (spec(ResetTo::Offset(-3), ResetScope::AllTopics), "offset"),
        (
            spec(ResetTo::Shift(i64::MAX), ResetScope::AllTopics),
            "shift",
        ),
    ];
    for (s, field) in bad {
        match admin.preview_offset_reset("classic-g", &s, now_ms()).await {
            Err(AdminError::Reset(e)) => assert_eq!(e.field, field, "{e}"),
            other => panic!("{s:?}: {other:?}"),
        }
    }

    for m in members {
        m.stop();
    }
    for (g, _) in groups {
        eventually("an empty group", Duration::from_secs(30), || async {
            let d = admin.describe_group(g).await.ok()?;
            (d.members.is_empty() && d.state == "Empty").then_some(())
        })
        .await;
    }
    step(started, "members gone, groups empty");

    // Classic group: to earliest, then to the time between the batches (all topics).
    let g = "classic-g";
    let before = admin.committed_offsets(g).await.unwrap();
    let to_earliest = spec(ResetTo::Earliest, ResetScope::AllTopics);
    let applied = admin
        .reset_group_offsets(g, &to_earliest, now_ms())
        .await
        .unwrap();
    assert_eq!(applied.partitions.len(), before.len());
    assert!(applied.partitions.iter().all(|p| p.new == 0));
    assert_eq!((applied.rereads, applied.skips), (500, 0));
    let after = admin.committed_offsets(g).await.unwrap();
    assert!(
        after.values().all(|o| *o == 0) && after.len() == before.len(),
        "{after:?}"
    );

    let to_time = spec(ResetTo::Timestamp(between), ResetScope::AllTopics);
    let applied = admin
        .reset_group_offsets(g, &to_time, now_ms())
        .await
        .unwrap();
    let at = admin
        .offsets_for_timestamp(&[TOPIC], between)
        .await
        .unwrap();
    for p in &applied.partitions {
        assert_eq!(Some(p.new), at[&(TOPIC.to_owned(), p.partition)], "{p:?}");
    }
    let first = first_reads(&bootstrap, g, "classic", &applied, &ends);
    starts_at_preview(&first, &applied, &ends);
    for p in applied
        .partitions
        .iter()
        .filter(|p| p.new < ends[&p.partition])
    {
        let (offset, value) = &first[&p.partition];
        let p = p.partition;
        assert!(
            value.starts_with('b'),
            "partition {p} at {offset}: the second batch: {value}"
        );
    }
    step(
        started,
        "classic group reset to earliest and to a time; a new consumer agrees",
    );

    // Consumer-protocol group: one topic to the time (every partition, committed or not),
    // then shifted back by 5 from there.
    let g = "modern-g";
    let topic = ResetScope::Topic(TOPIC.into());
    let applied = admin
        .reset_group_offsets(g, &spec(ResetTo::Timestamp(between), topic), now_ms())
        .await
        .unwrap();
    assert_eq!(applied.partitions.len(), 6, "the whole topic");
    let shifted = admin
        .reset_group_offsets(
            g,
            &spec(ResetTo::Shift(-5), ResetScope::AllTopics),
            now_ms(),
        )
        .await
        .unwrap();
    for (p, q) in applied.partitions.iter().zip(&shifted.partitions) {
        assert_eq!(q.new, (p.new - 5).max(0), "{p:?} {q:?}");
        assert_eq!(q.rereads, p.new - q.new);
    }
    let first = first_reads(&bootstrap, g, "consumer", &shifted, &ends);
    starts_at_preview(&first, &shifted, &ends);
    assert_eq!(
        first.len(),
        6,
        "every partition had something to read: {first:?}"
    );
    step(
        started,
        "consumer-protocol group reset by topic and shifted; a new consumer agrees",
    );

    for (g, _) in groups {
        admin.delete_group(g).await.expect("delete an empty group");
        let gone = admin.describe_group(g).await.unwrap_err();
        assert!(gone.is_code(code::GROUP_ID_NOT_FOUND), "{gone}");
        let again = admin.delete_group(g).await.unwrap_err();
        assert!(again.is_code(code::GROUP_ID_NOT_FOUND), "{again}");
    }
    let listed = admin.list_groups().await.unwrap();
    assert!(
        listed.iter().all(|l| !l.group_id.ends_with("-g")),
        "{listed:?}"
    );
    step(started, "groups deleted");
    drop(cluster);
    eprintln!("groups test: {:.1} s", started.elapsed().as_secs_f64());
}
