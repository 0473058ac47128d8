//! AKU in force on real Kafka clusters (#32), with clients nobody here wrote: Kafka's own
//! ProducerPerformance and confluent-kafka. The console runs as a real process with
//! `--kafka-aku-mib-per-second 0.25` (an AKU buys 256 KiB/s of produce here: two shared cores,
//! busy with other builds, carried 3.4 MiB/s from one ProducerPerformance with no quota in
//! force), its clusters on ports 24000-24999.
//!
//! - Throughput: an instance admits what its AKU buy (within 15 %), twice the AKU twice as
//!   much, and two clients producing at once share the one quota.
//! - Scaling up then down under an acks=all producer: the new broker holds and leads
//!   partitions after the scale up, none after the scale down; nothing acknowledged is lost;
//!   a consumer group keeps its committed offsets; a client's topic of replication factor 4
//!   with `min.insync.replicas` 4 has it lowered to 3 before the scale down moves its replicas.
//! - The console SIGKILLed in the middle of a reassignment: the scale resumes and finishes.

mod common;

use common::console_process::*;
use common::instance_form;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const PLAIN: [(&str, &str); 3] = [
    ("client_auth", "anonymous"),
    ("transit_encryption", "plaintext"),
    ("deployment", "single_zone"),
];
/// MiB/s of produce one AKU buys in these tests.
const UNIT: f64 = 0.25;
const MIB: f64 = 1024.0 * 1024.0;

/// [`UNIT`], or `BYOC_TEST_AKU_UNIT` (to see what the host carries without the quota: 30).
fn unit() -> f64 {
    std::env::var("BYOC_TEST_AKU_UNIT")
        .ok()
        .and_then(|u| u.parse().ok())
        .unwrap_or(UNIT)
}

/// What `aku` buy here: MiB/s of produce, and the bytes per second of the quota file.
fn bought(aku: u32) -> (f64, u64) {
    let kib = (unit() * 1024.0).round() as u64;
    (
        aku as f64 * kib as f64 / 1024.0,
        u64::from(aku) * kib * 1024,
    )
}

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn flags(ports: &str) -> Vec<String> {
    let mut flags = kafka_flags(ports);
    flags.extend(["--kafka-aku-mib-per-second".into(), unit().to_string()]);
    flags
}

fn libs() -> String {
    byoc_engine::host::local::KafkaInstall::default_libs()
        .display()
        .to_string()
}

async fn create(console: &Activated, name: &str, aku: u32) -> String {
    let mut form = instance_form(name, aku, &[]);
    for (key, value) in PLAIN {
        form.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.into();
    }
    for (key, value) in form.iter_mut() {
        if matches!(*key, "subnet_2" | "subnet_3") {
            value.clear();
        }
    }
    let response = post(
        &console.client,
        format!("{}/api/instance_create", console.base),
        &form,
    )
    .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    settle(console, &body, Duration::from_secs(300)).await;
    body
}

/// Waits until the instance is running (no operation), failing on abnormal; its detail.
async fn settle(console: &Activated, id: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let d = detail(&console.client, &console.base, id).await;
        let state = d["summary"]["state"].as_str().unwrap_or("").to_string();
        assert_ne!(state, "abnormal", "{d}");
        if state == "running" {
            return d;
        }
        assert!(
            started.elapsed() < within,
            "not running within {within:?}: {d}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn bootstrap(d: &Value) -> String {
    d["summary"]["bootstrap"]
        .as_str()
        .expect("a bootstrap address")
        .to_string()
}

async fn topic(console: &Activated, id: &str, name: &str, partitions: u32) {
    let form = [
        ("id", id.to_string()),
        ("topic", name.to_string()),
        ("partitions", partitions.to_string()),
        ("retention_hours", String::new()),
    ];
    let response = post(
        &console.client,
        format!("{}/api/topic_create", console.base),
        &form,
    )
    .await;
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
}

async fn scale(console: &Activated, id: &str, aku: u32) {
    let form = [("id", id.to_string()), ("size_aku", aku.to_string())];
    let response = post(
        &console.client,
        format!("{}/api/instance_scale", console.base),
        &form,
    )
    .await;
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
}

/// Kafka's ProducerPerformance: `records` records of 1,000 bytes as fast as the instance
/// admits, acks=all, as client `client_id`; the payload MiB/s it reports.
async fn producer_performance(bootstrap: &str, topic: &str, records: u32, client_id: &str) -> f64 {
    let mut cmd = tokio::process::Command::new("java");
    cmd.args(["-Xmx256m", "-cp", &format!("{}/*", libs())])
        .arg("org.apache.kafka.tools.ProducerPerformance")
        .args(["--topic", topic, "--num-records", &records.to_string()])
        .args(["--record-size", "1000", "--throughput", "-1"])
        .arg("--producer-props")
        .arg(format!("bootstrap.servers={bootstrap}"))
        .arg("acks=all")
        .arg(format!("client.id={client_id}"));
    let out = cmd.output().await.expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.contains(&format!("{records} records sent")))
        .unwrap_or_else(|| {
            panic!(
                "ProducerPerformance: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // "N records sent, R records/sec (M MB/sec), ..."
    let per_sec: f64 = last
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {last}"));
    eprintln!("ProducerPerformance {client_id}: {last}");
    per_sec * 1000.0 / MIB
}

/// Every partition of `topic`, as confluent-kafka's AdminClient sees it: (leader, replicas),
/// and the brokers listed.
fn partitions(bootstrap: &str, topic: &str) -> (Vec<(i64, Vec<i64>)>, Vec<i64>) {
    let script = r#"
import json, sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=20)
t = md.topics[sys.argv[2]]
print(json.dumps({"partitions": [[p.leader, list(p.replicas)] for _, p in sorted(t.partitions.items())],
                  "brokers": sorted(md.brokers.keys())}))
"#;
    let out =
        stdout_of(std::process::Command::new("python3").args(["-c", script, bootstrap, topic]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let parts = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let replicas = p[1].as_array().unwrap().iter().map(|r| r.as_i64().unwrap());
            (p[0].as_i64().unwrap(), replicas.collect())
        })
        .collect();
    let brokers = v["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_i64().unwrap())
        .collect();
    (parts, brokers)
}

/// The acks=all producer of the engine's tests (confluent-kafka, idempotent), until `stop`.
fn start_producer(bootstrap: &str, topic: &str, dir: &Path) -> std::process::Child {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    std::process::Command::new("python3")
        .args([script, "produce", bootstrap, topic])
        .arg(dir.join("stop"))
        .arg(dir.join("acked"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs")
}

fn stop_producer(child: std::process::Child, dir: &Path) -> Value {
    std::fs::write(dir.join("stop"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).expect("producer figures")
}

fn consume_all(bootstrap: &str, topic: &str, dir: &Path) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    let out = stdout_of(std::process::Command::new("python3").args([
        script,
        "consume",
        bootstrap,
        topic,
        dir.join("acked").to_str().unwrap(),
        "120",
    ]));
    serde_json::from_str(&out).unwrap()
}

/// Runs confluent-kafka's AdminClient (a client, not the console) on `bootstrap`: `code` sees
/// `admin`, `name` and `arg`, and prints its answer.
fn admin_py(code: &str, bootstrap: &str, name: &str, arg: &str) -> String {
    let script = format!(
        "import sys\nfrom confluent_kafka.admin import AdminClient, NewTopic, ConfigResource\n\
         admin = AdminClient({{'bootstrap.servers': sys.argv[1]}})\n\
         name, arg = sys.argv[2], sys.argv[3]\n{code}"
    );
    stdout_of(std::process::Command::new("python3").args(["-c", &script, bootstrap, name, arg]))
}

/// A topic a client makes as wide as the brokers: `partitions` of replication factor
/// `factor`, with `min.insync.replicas` = `factor` (every replica must acknowledge).
fn wide_topic(bootstrap: &str, topic: &str, partitions: u32, factor: u32) {
    let code = format!(
        "t = NewTopic(name, num_partitions={partitions}, replication_factor={factor}, \
         config={{'min.insync.replicas': '{factor}'}})\n\
         admin.create_topics([t])[name].result(30)\nprint('ok')"
    );
    assert_eq!(admin_py(&code, bootstrap, topic, "").trim(), "ok");
}

/// A topic's `min.insync.replicas`, as Kafka describes it to a client.
fn min_insync_of(bootstrap: &str, topic: &str) -> String {
    let code = "r = ConfigResource('topic', name)\n\
                print(admin.describe_configs([r])[r].result(30)['min.insync.replicas'].value)";
    admin_py(code, bootstrap, topic, "").trim().to_string()
}

/// `n` messages to `topic` with acks=all (confluent-kafka): how many were acknowledged.
fn produce_n(bootstrap: &str, topic: &str, n: u32) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    let out = stdout_of(std::process::Command::new("python3").args([
        script,
        "produce-n",
        bootstrap,
        topic,
        &n.to_string(),
        "m",
    ]));
    serde_json::from_str(&out).unwrap()
}

/// A consumer group's committed offsets ("topic-partition" -> offset), through
/// confluent-kafka's AdminClient.
fn group_offsets(bootstrap: &str, group: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    let out = stdout_of(std::process::Command::new("python3").args([
        script,
        "group-offsets",
        bootstrap,
        group,
    ]));
    serde_json::from_str(&out).unwrap()
}

fn step_of<'a>(d: &'a Value, label_starts: &str) -> &'a Value {
    d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"].as_str().unwrap().starts_with(label_starts))
        .unwrap_or_else(|| panic!("no step {label_starts}: {d}"))
}

fn within(measured: f64, bought: f64, share: f64) -> bool {
    (measured - bought).abs() <= bought * share
}

/// Not above what the AKU buy by more than 15 % (the quota is in force), and not below by more
/// than 30 %: a quota only caps, and below the cap is the host's share of two cores among three
/// JVMs and the producer tool (measured 0.59 to 0.70 of 0.75 MiB/s under load; docs/instances.md).
fn admitted(measured: f64, bought: f64) -> bool {
    measured <= bought * 1.15 && measured >= bought * 0.70
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_admits_what_its_aku_buy_and_scales_under_load() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let mut console = activated(&flags("24000-24191"), 100).await;
    let say = |what: &str| eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());

    // 3 AKU: three nodes, 3 MiB/s of produce in all.
    let small = create(&console, "small", 3).await;
    let d = settle(&console, &small, Duration::from_secs(5)).await;
    let small_bootstrap = bootstrap(&d);
    let dir = console.instance_dir(&small);
    assert_eq!(nodes_in(&dir).len(), 3, "3 AKU are three nodes");
    let quota = std::fs::read_to_string(dir.join("node-0/quota.properties")).unwrap();
    assert!(
        quota.contains(&format!("produce.bytes.per.second={}\n", bought(3).1)),
        "{quota}"
    );
    say("3 AKU instance running");
    topic(&console, &small, "perf", 6).await;
    say(&format!(
        "perf's leaders: {:?}",
        partitions(&small_bootstrap, "perf").0
    ));
    // About 25 s at the quota.
    let records = (bought(3).0 * MIB * 25.0 / 1000.0) as u32;
    let one = producer_performance(&small_bootstrap, "perf", records, "alone").await;
    say(&format!("3 AKU: {one:.2} MiB/s"));
    assert!(
        admitted(one, bought(3).0),
        "3 AKU admitted {one:.2} MiB/s, not {:.2}",
        bought(3).0
    );
    // Two clients at once share the instance's quota (stock Kafka quotas are per client).
    // Their own rates do not add up to the instance's (one that finishes first leaves the
    // whole quota to the other), and the wall time includes two JVMs' start (seconds on a
    // busy host): what they carried together is their bytes over the longer of the times
    // each reports sending (its records over its rate), both starting together.
    let (a, b) = tokio::join!(
        producer_performance(&small_bootstrap, "perf", records / 2, "first"),
        producer_performance(&small_bootstrap, "perf", records / 2, "second"),
    );
    let sending = |mib_per_s: f64| f64::from(records / 2) * 1000.0 / MIB / mib_per_s;
    let both = f64::from(records / 2 * 2) * 1000.0 / MIB / sending(a).max(sending(b));
    say(&format!(
        "3 AKU, two clients: {a:.2} and {b:.2} MiB/s each while it ran, {both:.2} MiB/s together"
    ));
    assert!(
        admitted(both, bought(3).0),
        "two clients together {both:.2} MiB/s"
    );
    // Each got a part of it, not the full rate each (which stock quotas would give).
    assert!(
        a < bought(3).0 * 0.85 || b < bought(3).0 * 0.85,
        "{a:.2} {b:.2}"
    );

    // Twice the AKU, twice the throughput. The small instance goes first (two cores).
    let deleted = post(
        &console.client,
        format!("{}/api/instance_delete", console.base),
        &[("id", small.as_str()), ("confirm_name", "small")],
    )
    .await;
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    let double = create(&console, "double", 6).await;
    let d = settle(&console, &double, Duration::from_secs(5)).await;
    let bootstrap6 = bootstrap(&d);
    say("6 AKU instance running");
    topic(&console, &double, "perf", 6).await;
    let two = producer_performance(&bootstrap6, "perf", records * 2, "alone").await;
    say(&format!(
        "6 AKU: {two:.2} MiB/s ({:.2} times 3 AKU)",
        two / one
    ));
    assert!(
        admitted(two, bought(6).0),
        "6 AKU admitted {two:.2} MiB/s, not {:.2}",
        bought(6).0
    );
    assert!(within(two / one, 2.0, 0.25), "{two:.2} / {one:.2}");

    console.kill_nodes();
    console.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_up_then_down_under_load_moves_partitions_and_loses_nothing() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let mut console = activated(&flags("24400-24591"), 100).await;
    let say = |what: &str| eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
    let double = create(&console, "double", 6).await;
    let d = settle(&console, &double, Duration::from_secs(5)).await;
    let bootstrap6 = bootstrap(&d);
    say("6 AKU instance running");

    // Scale up (6 -> 10 AKU: a fourth node, broker 3) under an acks=all producer.
    topic(&console, &double, "orders", 6).await;
    let work = tempfile::tempdir().unwrap();
    let producer = start_producer(&bootstrap6, "orders", work.path());
    // Under way once it has acknowledgements.
    let waiting = Instant::now();
    while std::fs::read_to_string(work.path().join("acked"))
        .map_or(true, |a| a.lines().count() < 100)
    {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "no acknowledgement"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A consumer group reads 500 and commits; its offsets must survive both scales.
    let group_dir = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    let member = std::process::Command::new("python3")
        .args([
            script,
            "group-hold",
            &bootstrap6,
            "orders",
            "keeper",
            "classic",
            "500",
        ])
        .arg(group_dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let waiting = Instant::now();
    while !group_dir.path().join("ready").exists() {
        assert!(
            waiting.elapsed() < Duration::from_secs(150),
            "the group never committed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(group_dir.path().join("stop"), "").unwrap();
    let member = member.wait_with_output().unwrap();
    say(&format!(
        "group keeper: {}",
        String::from_utf8_lossy(&member.stdout).trim()
    ));
    let committed = group_offsets(&bootstrap6, "keeper");
    let total: i64 = committed
        .as_object()
        .unwrap()
        .values()
        .map(|o| o.as_i64().unwrap())
        .sum();
    assert_eq!(total, 500, "{committed}");
    let up = Instant::now();
    scale(&console, &double, 10).await;
    let mut progress_seen = Vec::new();
    let d = loop {
        let d = detail(&console.client, &console.base, &double).await;
        assert_ne!(d["summary"]["state"], "abnormal", "{d}");
        if let Some(text) = step_of(&d, "Rebalance")["detail"].as_str() {
            if !progress_seen.contains(&text.to_string()) {
                progress_seen.push(text.to_string());
            }
        }
        if d["summary"]["state"] == "running" {
            break d;
        }
        assert!(up.elapsed() < Duration::from_secs(600), "{d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    say(&format!(
        "scaled up in {:.1} s; rebalance said: {progress_seen:?}",
        up.elapsed().as_secs_f64()
    ));
    for step in d["steps"].as_array().unwrap() {
        eprintln!("  {}: {}", step["label"], step["detail"]);
    }
    assert_eq!(nodes_in(&dir_of(&console, &double)).len(), 4);
    let quota =
        std::fs::read_to_string(dir_of(&console, &double).join("node-3/quota.properties")).unwrap();
    assert!(
        quota.contains(&format!("produce.bytes.per.second={}\n", bought(10).1)),
        "{quota}"
    );
    let (parts, brokers) = partitions(&bootstrap6, "orders");
    assert_eq!(brokers, [0, 1, 2, 3]);
    assert!(parts.iter().any(|(_, r)| r.contains(&3)), "{parts:?}");
    assert!(
        parts.iter().any(|(l, _)| *l == 3),
        "broker 3 leads: {parts:?}"
    );
    assert!(parts.iter().all(|(_, r)| r.len() == 3), "{parts:?}");
    // Kafka's own topic of the group's offsets moved too, and kept its three replicas.
    let (offsets, _) = partitions(&bootstrap6, "__consumer_offsets");
    assert!(offsets.iter().all(|(_, r)| r.len() == 3), "{offsets:?}");
    assert!(offsets.iter().any(|(_, r)| r.contains(&3)), "{offsets:?}");
    // A client makes a topic as wide as the four brokers, every replica required.
    wide_topic(&bootstrap6, "wide", 2, 4);
    assert_eq!(min_insync_of(&bootstrap6, "wide"), "4");
    assert_eq!(produce_n(&bootstrap6, "wide", 50)["acked"], 50);

    // Scale down (10 -> 6 AKU): broker 3 goes.
    let down = Instant::now();
    scale(&console, &double, 6).await;
    let d = settle(&console, &double, Duration::from_secs(600)).await;
    say(&format!(
        "scaled down in {:.1} s",
        down.elapsed().as_secs_f64()
    ));
    for step in d["steps"].as_array().unwrap() {
        eprintln!("  {}: {}", step["label"], step["detail"]);
    }
    let figures = stop_producer(producer, work.path());
    say(&format!("producer: {figures}"));
    let (parts, brokers) = partitions(&bootstrap6, "orders");
    assert_eq!(brokers, [0, 1, 2], "broker 3 unregistered");
    assert!(
        parts.iter().all(|(l, r)| *l != 3 && !r.contains(&3)),
        "{parts:?}"
    );
    assert_eq!(nodes_in(&dir_of(&console, &double)).len(), 3);
    assert!(!dir_of(&console, &double).join("node-3").exists());
    // The wide topic kept three replicas, its min.insync.replicas lowered to 3 before its
    // replicas moved (stated), and acks=all writes still go through.
    let (wide, _) = partitions(&bootstrap6, "wide");
    assert!(
        wide.iter().all(|(_, r)| r.len() == 3 && !r.contains(&3)),
        "{wide:?}"
    );
    assert_eq!(min_insync_of(&bootstrap6, "wide"), "3");
    let rebalance = step_of(&d, "Rebalance")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        rebalance.contains("wide: min.insync.replicas lowered from 4 to 3"),
        "{rebalance}"
    );
    assert_eq!(produce_n(&bootstrap6, "wide", 50)["acked"], 50);
    let (offsets, _) = partitions(&bootstrap6, "__consumer_offsets");
    assert!(
        offsets.iter().all(|(_, r)| r.len() == 3 && !r.contains(&3)),
        "{offsets:?}"
    );
    // The consumer group kept its offsets through both scales.
    assert_eq!(group_offsets(&bootstrap6, "keeper"), committed);
    assert_eq!(figures["failed"], 0, "{figures}");
    let read = consume_all(&bootstrap6, "orders", work.path());
    say(&format!("consumer: {read}"));
    assert_eq!(read["missing"].as_array().map(Vec::len), Some(0), "{read}");
    assert_eq!(read["expected"], figures["acked"], "{read} {figures}");
    console.kill_nodes();
    console.kill();
}

fn dir_of(console: &Activated, id: &str) -> std::path::PathBuf {
    console.instance_dir(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_cut_off_mid_reassignment_by_kill_9_resumes_and_finishes() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let say = |what: &str| eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
    let mut console = activated(&flags("24200-24391"), 100).await;
    let id = create(&console, "moving", 6).await;
    let d = settle(&console, &id, Duration::from_secs(5)).await;
    let bootstrap = bootstrap(&d);
    topic(&console, &id, "data", 6).await;
    // Data to move: 30 MiB written at 6 AKU's 1.5 MiB/s (20 s); broker 3 copies a quarter of
    // the replicas, at most 10 MiB/s (the throttle).
    producer_performance(&bootstrap, "data", 30 * 1024 * 1024 / 1000, "loader").await;
    say("30 MiB written");
    scale(&console, &id, 10).await;
    // Killed once the rebalance step says partitions are still copying.
    let cut = Instant::now();
    loop {
        let d = detail(&console.client, &console.base, &id).await;
        let rebalance = step_of(&d, "Rebalance");
        if rebalance["detail"]
            .as_str()
            .is_some_and(|t| t.contains("still copying"))
        {
            say(&format!("killing the console: {}", rebalance["detail"]));
            break;
        }
        assert_eq!(d["summary"]["state"], "changing", "{d}");
        assert!(cut.elapsed() < Duration::from_secs(300), "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    console.kill();
    console.restart(&flags("24200-24391")).await;
    let d = settle(&console, &id, Duration::from_secs(600)).await;
    say("resumed and finished");
    for step in d["steps"].as_array().unwrap() {
        eprintln!(
            "  {}: {} (attempts {})",
            step["label"], step["detail"], step["attempts"]
        );
    }
    assert_eq!(step_of(&d, "Rebalance")["attempts"], 2, "{d}");
    // "N of M partitions reassigned": each partition counted once across both attempts.
    let said = step_of(&d, "Rebalance")["detail"]
        .as_str()
        .unwrap_or_default();
    let counts: Vec<usize> = said
        .split(" partitions reassigned")
        .next()
        .unwrap_or_default()
        .split(" of ")
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert!(counts.len() == 2 && counts[0] <= counts[1], "{said}");
    let (parts, brokers) = partitions(&bootstrap, "data");
    assert_eq!(brokers, [0, 1, 2, 3]);
    assert!(parts.iter().any(|(_, r)| r.contains(&3)), "{parts:?}");
    assert!(parts.iter().all(|(_, r)| r.len() == 3), "{parts:?}");
    console.kill_nodes();
    console.kill();
}
