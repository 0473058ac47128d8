//! The nisshi 0.8.1 fixture moved onto a real Kafka cluster (three JVM nodes) through the
//! console process, which is SIGKILLed in the middle of the copy and started again: the move
//! goes on where it stopped. Then confluent-kafka (tests/kafka/dump.py, a client nobody here
//! wrote) reads every message back (key, value, headers, CreateTime timestamp: each once, in
//! order) and every group's committed offset, and a consumer of each group resumes at the
//! message nisshi would have served next. The fixture file is never written. Needs Kafka's
//! jars; ports 27200-27399.

mod common;

use common::console_process::*;
use common::instance_form;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nisshi-0.8.1")
}

fn dump(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/dump.py");
    let out = stdout_of(
        std::process::Command::new("timeout")
            .args(["180", "python3"])
            .arg(script)
            .args(args),
    );
    serde_json::from_str(&out).expect("JSON from dump.py")
}

async fn moves(console: &Activated, id: &str) -> Vec<Value> {
    let response = post(
        &console.client,
        format!("{}/api/moves", console.base),
        &[("id", id)],
    )
    .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

/// Polls the instance's one move until `done` says so, within `limit`.
async fn wait_move(
    console: &Activated,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let all = moves(console, id).await;
        assert_eq!(all.len(), 1, "{all:?}");
        if done(&all[0]) {
            return all[0].clone();
        }
        assert!(started.elapsed() < limit, "within {limit:?}: {}", all[0]);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nisshi_fixture_moves_onto_kafka_across_a_kill_9() {
    let begun = Instant::now();
    let before = digest(&fixture().join("storage.db"));
    let mut flags = kafka_flags("27200-27399");
    // One message per Produce: 200 batches, so that the kill lands in the middle of the copy.
    flags.extend(["--move-batch-messages".into(), "1".into()]);
    flags.extend(["--import-dir".into(), fixture().display().to_string()]);
    let mut console = activated(&flags, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());

    // A file that is not there, and one outside the import directory, are refused by name.
    let form = instance_form(
        "orders",
        3,
        &[
            ("client_auth", "anonymous"),
            ("transit_encryption", "plaintext"),
        ],
    );
    let response = post(&client, format!("{base}/api/instance_create"), &form).await;
    assert_eq!(response.status(), 200);
    let id = response.text().await.unwrap();
    let started = Instant::now();
    let bootstrap = loop {
        let d = detail(&client, &base, &id).await;
        if d["summary"]["state"] == "running" {
            break d["summary"]["bootstrap"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(240), "{d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let cluster_up = begun.elapsed();
    for (path, want) in [
        ("missing.db", "missing.db"),
        ("../../../Cargo.toml", "is not a file inside"),
        ("README.md", "cannot be opened as a SQLite file"),
    ] {
        let response = post(
            &client,
            format!("{base}/api/move_start"),
            &[("id", id.as_str()), ("path", path)],
        )
        .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_ne!(status, 200, "{path}: {text}");
        assert!(
            text.contains("path") && text.contains(want),
            "{path}: {text}"
        );
    }

    let response = post(
        &client,
        format!("{base}/api/move_start"),
        &[("id", id.as_str()), ("path", "storage.db")],
    )
    .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let started: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(started["messages_total"], 200);
    assert_eq!(started["scram_users"], "billing-svc,orders-app");

    // Kill -9 once some messages, not all, are recorded as copied.
    let copying = wait_move(&console, &id, Duration::from_secs(120), |m| {
        m["messages_copied"].as_i64().unwrap() >= 30
    })
    .await;
    console.kill();
    let at_kill = copying["messages_copied"].as_i64().unwrap();
    assert!(
        copying["state"] == "copying" && at_kill < 200,
        "the copy was cut off midway: {copying}"
    );

    console.restart(&flags).await;
    let copy_started = Instant::now();
    let done = wait_move(&console, &id, Duration::from_secs(180), |m| {
        assert_ne!(m["state"], "failed", "{m}");
        m["state"] == "done"
    })
    .await;
    let resumed_in = copy_started.elapsed();
    assert_eq!(done["messages_copied"], 200, "{done}");
    assert_eq!(done["bytes_copied"], done["bytes_total"], "{done}");
    assert_eq!(done["groups_committed"], 3, "{done}");
    let (bytes, ms) = (
        done["bytes_copied"].as_f64().unwrap(),
        done["copy_ms"].as_f64().unwrap(),
    );
    eprintln!(
        "move: killed at {at_kill}/200 messages; after the restart done in {resumed_in:?}; \
         {bytes} bytes in {ms} ms of batches ({:.3} MiB/s, one message per Produce); cluster up \
         in {cluster_up:?}",
        bytes / 1_048_576.0 / (ms.max(1.0) / 1000.0)
    );

    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("expected.json")).unwrap()).unwrap();
    let topics: Vec<&str> = expected["topics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served = tokio::task::spawn_blocking({
        let (bootstrap, topics) = (bootstrap.clone(), topics.join(","));
        move || dump(&["messages", &bootstrap, &topics])
    })
    .await
    .unwrap();
    // Per partition, the fixture's messages in produce order: each served once, in order, at
    // offsets 0, 1, 2..., with its key, value, headers and CreateTime timestamp.
    let mut per_partition: BTreeMap<(String, u64), Vec<&Value>> = BTreeMap::new();
    for (topic, t) in expected["topics"].as_object().unwrap() {
        for m in t["messages"].as_array().unwrap() {
            let p = m["partition"].as_u64().unwrap();
            per_partition.entry((topic.clone(), p)).or_default().push(m);
        }
    }
    let mut total = 0;
    for ((topic, p), want) in &per_partition {
        let got = served[topic][p.to_string()].as_array().unwrap();
        assert_eq!(
            got.len(),
            want.len(),
            "{topic}-{p}: nothing missing or doubled"
        );
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let place = format!("{topic}-{p} offset {i}");
            assert_eq!(g["offset"], i, "{place}");
            assert_eq!(g["key"], w["key"], "{place}");
            assert_eq!(g["value_hex"], w["value_hex"], "{place}");
            assert_eq!(g["timestamp_ms"], w["timestamp_ms"], "{place}");
            assert_eq!(g["timestamp_type"], 1, "{place}: CreateTime");
            assert_eq!(g["headers"], w["headers"], "{place}");
        }
        total += got.len();
    }
    assert_eq!(total, 200);

    // Every group's offsets, and where a consumer of each group resumes: the fixture has no
    // deleted messages, so offset n stays n and a consumer gets the partition's message n
    // (nothing at the end of a partition).
    let groups: Vec<&str> = expected["groups"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let seen = tokio::task::spawn_blocking({
        let (bootstrap, groups, topics) = (bootstrap.clone(), groups.join(","), topics.join(","));
        move || dump(&["groups", &bootstrap, &groups, &topics])
    })
    .await
    .unwrap();
    for (group, want) in expected["groups"].as_object().unwrap() {
        for (tp, offset) in want.as_object().unwrap() {
            let committed = &seen["committed"][group][tp];
            assert_eq!(committed, offset, "{group} {tp}");
            let Some(o) = offset.as_i64().filter(|o| *o >= 0) else {
                continue;
            };
            let (topic, p) = tp.rsplit_once('/').unwrap();
            let msgs = &per_partition[&(topic.to_string(), p.parse().unwrap())];
            let resume = &seen["resumes"][group][tp];
            match msgs.get(o as usize) {
                Some(m) => {
                    assert_eq!(resume["offset"], o, "{group} {tp}: {resume}");
                    assert_eq!(resume["value_hex"], m["value_hex"], "{group} {tp}");
                }
                None => assert!(resume.is_null(), "{group} {tp} at the end: {resume}"),
            }
            eprintln!("group {group} {tp}: committed {o}, a consumer resumes at {resume}");
        }
    }

    // Throughput, and the offset rule on deleted messages: a copy of the fixture whose topics
    // are renamed bulk.*, with 20,000 messages of 1 KiB more on payments-0, orders-0's
    // messages 5..9 deleted (a gap) and orders-2's first five gone (low watermark 5). Moved
    // with full batches (500 messages, 512 KiB) by a console restarted without the knob.
    let bulk_dir = console.dir.path().join("bulk");
    std::fs::create_dir_all(&bulk_dir).unwrap();
    let bulk = bulk_dir.join("storage.db");
    std::fs::copy(fixture().join("storage.db"), &bulk).unwrap();
    let mut perms = std::fs::metadata(&bulk).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&bulk, perms).unwrap();
    // One connection, and the log folded back into the file before the console reads it.
    let rw = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&bulk))
        .await
        .unwrap();
    for change in [
        "UPDATE topic SET name = 'bulk.' || name",
        "WITH RECURSIVE n(i) AS (SELECT 40 UNION ALL SELECT i + 1 FROM n WHERE i < 20039) \
         INSERT INTO record (topition, offset_id, attributes, timestamp, k, v) \
         SELECT 4, i, 0, 1764550000000 + i, CAST('bulk-' || i AS BLOB), randomblob(1024) FROM n",
        "UPDATE watermark SET high = 20040 WHERE topition = 4",
        "DELETE FROM header WHERE topition = 1 AND offset_id BETWEEN 5 AND 9",
        "DELETE FROM record WHERE topition = 1 AND offset_id BETWEEN 5 AND 9",
        "DELETE FROM header WHERE topition = 3 AND offset_id < 5",
        "DELETE FROM record WHERE topition = 3 AND offset_id < 5",
        "UPDATE watermark SET low = 5 WHERE topition = 3",
        "PRAGMA wal_checkpoint(TRUNCATE)",
        "PRAGMA journal_mode = DELETE",
    ] {
        sqlx::query(change).execute(&rw).await.unwrap();
    }
    rw.close().await;
    let mut bulk_flags = kafka_flags("27200-27399");
    bulk_flags.extend(["--import-dir".into(), bulk_dir.display().to_string()]);
    console.kill();
    console.restart(&bulk_flags).await;
    let response = post(
        &client,
        format!("{base}/api/move_start"),
        &[("id", id.as_str()), ("path", "storage.db")],
    )
    .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let bulk_started = Instant::now();
    let bulk_done = loop {
        let all = moves(&console, &id).await;
        let m = all[0].clone();
        assert_ne!(m["state"], "failed", "{m}");
        if m["state"] == "done" {
            break m;
        }
        assert!(bulk_started.elapsed() < Duration::from_secs(300), "{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        bulk_done["messages_copied"],
        200 - 10 + 20_000,
        "{bulk_done}"
    );
    let (bytes, ms) = (
        bulk_done["bytes_copied"].as_f64().unwrap(),
        bulk_done["copy_ms"].as_f64().unwrap(),
    );
    eprintln!(
        "bulk move: {bytes} bytes, {} messages in {ms} ms of batches ({:.2} MiB/s), {:?} from \
         start to done",
        bulk_done["messages_copied"],
        bytes / 1_048_576.0 / (ms.max(1.0) / 1000.0),
        bulk_started.elapsed()
    );
    let (ends, seen) = tokio::task::spawn_blocking({
        let bootstrap = bootstrap.clone();
        move || {
            let topics = "bulk.orders,bulk.payments";
            (
                dump(&["ends", &bootstrap, topics]),
                dump(&["groups", &bootstrap, "billing,pay-svc", topics]),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(ends["bulk.payments/0"], serde_json::json!([0, 20_040]));
    assert_eq!(ends["bulk.orders/0"], serde_json::json!([0, 35]));
    assert_eq!(ends["bulk.orders/2"], serde_json::json!([0, 35]));
    // billing committed 10 on orders-0, whose 5..9 are gone: 5 kept messages lie below, so
    // 5, where the consumer gets nisshi's message 10 (value n = 30: orders' 31st message).
    assert_eq!(seen["committed"]["billing"]["bulk.orders/0"], 5, "{seen}");
    let orders0 = &per_partition[&("orders".to_string(), 0)];
    assert_eq!(
        seen["resumes"]["billing"]["bulk.orders/0"]["value_hex"],
        orders0[10]["value_hex"]
    );
    // billing committed 40 on orders-2 (its end), whose first five are gone: the end, 35.
    assert_eq!(seen["committed"]["billing"]["bulk.orders/2"], 35, "{seen}");
    assert!(
        seen["resumes"]["billing"]["bulk.orders/2"].is_null(),
        "{seen}"
    );
    assert_eq!(seen["committed"]["pay-svc"]["bulk.payments/0"], 7, "{seen}");
    eprintln!("bulk groups: {}", seen["committed"]);

    // Audited: the start (with the SCRAM users to give new passwords) and the end.
    console.kill();
    let db = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(console.data.join("console.db"))
            .read_only(true),
    )
    .await
    .unwrap();
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, COALESCE(detail, '') FROM audit_log WHERE action LIKE 'nisshi_move%' \
         ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "nisshi_move_start",
            "nisshi_move_done",
            "nisshi_move_start",
            "nisshi_move_done"
        ],
        "{audit:?}"
    );
    assert!(audit[0].1.contains("billing-svc, orders-app"), "{audit:?}");
    assert!(audit[1].1.contains("200 messages"), "{audit:?}");
    assert!(audit[3].1.contains("20190 messages"), "{audit:?}");
    assert_eq!(
        digest(&fixture().join("storage.db")),
        before,
        "the fixture is unchanged"
    );
    for stray in ["storage.db-shm", "storage.db-wal", "storage.db-journal"] {
        assert!(
            !fixture().join(stray).exists(),
            "{stray} beside the fixture"
        );
    }
    eprintln!("whole test: {:?}", begun.elapsed());
}
