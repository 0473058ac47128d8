//! Consumer groups through the console on a real Kafka cluster (`--provisioner kafka`):
//! confluent-kafka consumers (engine/tests/clients/kafka_client.py) hold a group lagging on
//! purpose; the lag the console shows is the end offset less what confluent's own
//! AdminClient says the group committed; a reset is refused while the member runs; after it
//! leaves, the preview to earliest and its apply move the group, and a new consumer starts at
//! the previewed offsets; the empty group is deleted; each reset and delete is audited with
//! the preview's figures; a viewer reads but cannot reset (403, pages and REST);
//! `byoc_consumer_group_lag` follows on `/metrics`. Needs Kafka's jars. One cluster.

mod common;

use app::server::kafka::KafkaSettings;
use app::server::kafka::Listener;
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::KafkaInstall;
use common::*;
use reqwest::Client;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOPIC: &str = "events";
const GROUP: &str = "billing";
const MESSAGES: i64 = 300;
const CONSUMED: i64 = 100;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/clients/kafka_client.py")
}

fn client(args: &[&str]) -> Value {
    let out = Command::new("timeout")
        .arg("120")
        .arg("python3")
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

async fn client_async(args: Vec<String>) -> Value {
    tokio::task::spawn_blocking(move || {
        client(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("client task")
}

/// A confluent-kafka consumer holding the group (`group-hold`); killed if the test fails
/// before it is told to stop.
struct Member {
    child: Child,
    dir: PathBuf,
}

impl Member {
    fn start(dir: &Path, bootstrap: &str) -> Member {
        let dir = dir.join("member");
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("python3")
            .arg(script())
            .args(["group-hold", bootstrap, TOPIC, GROUP, "classic"])
            .arg(CONSUMED.to_string())
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        Member { child, dir }
    }

    fn ready(&self) -> bool {
        self.dir.join("ready").exists()
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

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn json_of(app: &TestApp, client: &Client, path: &str, form: &[(&str, String)]) -> Value {
    let response = app.post(client, path, form).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn reset_form(id: i64, to: &str) -> Vec<(&'static str, String)> {
    vec![
        ("id", id.to_string()),
        ("group", GROUP.into()),
        ("to", to.into()),
        ("value", String::new()),
        ("topic", String::new()),
    ]
}

async fn audit(app: &TestApp, like: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT action, outcome, COALESCE(detail, '') FROM audit_log WHERE action LIKE ? ORDER BY id",
    )
    .bind(like)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_lag_reset_and_delete_through_the_console() {
    let started = Instant::now();
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (22000, 22095),
            aku_kib_per_second: 30 * 1024,
            private: Listener::loopback(),
            public: None,
        }),
        ..Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let plain = [
        ("client_auth", "anonymous"),
        ("transit_encryption", "plaintext"),
    ];
    let response = app
        .post(
            &admin,
            "/api/instance_create",
            &instance_form("groups", 3, &plain),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    wait_until("the instance runs", Duration::from_secs(240), async || {
        let state: String = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_ne!(state, "abnormal");
        state == "running"
    })
    .await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let topic = [
        ("id", id.to_string()),
        ("topic", TOPIC.to_string()),
        ("partitions", "3".to_string()),
        ("retention_hours", String::new()),
    ];
    let created = app.post(&admin, "/api/topic_create", &topic).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let acked = client_async(vec![
        "produce-n".into(),
        bootstrap.clone(),
        TOPIC.into(),
        MESSAGES.to_string(),
        "m".into(),
    ])
    .await;
    assert_eq!(acked["acked"], MESSAGES, "{acked}");
    println!("cluster, topic and messages: {:?}", started.elapsed());

    // A member reads 100 of the 300 messages, commits, and stays in the group.
    let member = Member::start(app.dir.path(), &bootstrap);
    wait_until(
        "the member committed",
        Duration::from_secs(120),
        async || member.ready(),
    )
    .await;
    let id_form = [("id", id.to_string())];
    let panel = json_of(&app, &admin, "/api/consumer_groups", &id_form).await;
    let listed = panel["groups"].as_array().unwrap();
    let row = listed
        .iter()
        .find(|g| g["group"] == GROUP)
        .expect("the group is listed");
    assert_eq!(row["members"], 1, "{row}");
    assert_eq!(row["protocol"], "classic", "{row}");
    assert_eq!(row["state"], "Stable", "{row}");
    // Per partition: lag = end - committed, committed as confluent's AdminClient says; a
    // partition the member read nothing from has no commit and no lag (counted beside).
    let group_form = [("id", id.to_string()), ("group", GROUP.to_string())];
    let detail = json_of(&app, &admin, "/api/consumer_group", &group_form).await;
    let theirs = client_async(vec![
        "group-offsets".into(),
        bootstrap.clone(),
        GROUP.into(),
    ])
    .await;
    let mut ends = BTreeMap::new();
    let (mut lag, mut committed_sum, mut without) = (0, 0, 0);
    let partitions = detail["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3, "{detail}");
    for p in partitions {
        let end = p["end"].as_i64().unwrap();
        let key = format!("{}-{}", p["topic"].as_str().unwrap(), p["partition"]);
        assert_eq!(
            p["committed"].as_i64(),
            theirs[&key].as_i64(),
            "{key}: {theirs}"
        );
        match p["committed"].as_i64() {
            Some(committed) => {
                assert_eq!(p["lag"].as_i64(), Some(end - committed), "{p}");
                lag += end - committed;
                committed_sum += committed;
            }
            None => {
                assert!(p["lag"].is_null(), "{p}");
                without += 1;
            }
        }
        assert_eq!(p["member"], format!("{GROUP}-client"), "{p}");
        ends.insert(p["partition"].as_i64().unwrap(), end);
    }
    assert_eq!(ends.values().sum::<i64>(), MESSAGES);
    assert_eq!(committed_sum, CONSUMED, "the member committed what it read");
    assert_eq!(detail["total_lag"], lag, "{detail}");
    assert_eq!(row["total_lag"], lag, "{row}");
    assert_eq!(row["partitions_without_lag"], without, "{row}");
    println!("lag {lag}, {without} partition(s) without a commit");
    assert_eq!(detail["members"][0]["client_id"], format!("{GROUP}-client"));
    assert_eq!(
        detail["members"][0]["assigned"].as_array().unwrap().len(),
        3
    );

    // A viewer reads, but neither previews, resets nor deletes (403); nothing is audited.
    let viewer = app.user_client("vera", "viewer").await;
    json_of(&app, &viewer, "/api/consumer_group", &group_form).await;
    for path in ["/api/group_reset_preview", "/api/group_reset"] {
        let refused = app.post(&viewer, path, &reset_form(id, "earliest")).await;
        assert_eq!(refused.status(), 403, "{path}");
    }
    let mut delete_form = group_form.to_vec();
    delete_form.push(("confirm", GROUP.to_string()));
    let refused = app.post(&viewer, "/api/group_delete", &delete_form).await;
    assert_eq!(refused.status(), 403);

    // While the member runs, the reset is refused next to the group, with Kafka's reason.
    let refused = app
        .post(&admin, "/api/group_reset", &reset_form(id, "earliest"))
        .await;
    assert_eq!(refused.status(), 422);
    let body = error_body(refused).await;
    assert_eq!(body["Invalid"]["field"], "group", "{body}");
    let words = body["Invalid"]["message"].as_str().unwrap();
    assert!(words.contains("1 active member"), "{words}");
    let deleted = app.post(&admin, "/api/group_delete", &delete_form).await;
    assert_eq!(deleted.status(), 422);
    // Bad input names its field and asks Kafka nothing.
    let mut bad = reset_form(id, "offset");
    bad[3].1 = "-5".into();
    let refused = app.post(&admin, "/api/group_reset_preview", &bad).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_body(refused).await["Invalid"]["field"], "offset");

    member.stop();
    wait_until("the group is empty", Duration::from_secs(60), async || {
        let d = json_of(&app, &admin, "/api/consumer_group", &group_form).await;
        d["members"].as_array().unwrap().is_empty()
    })
    .await;

    // The preview to earliest of the topic (all its partitions, committed or not): every
    // partition to 0, re-reading what was committed.
    let mut to_earliest = reset_form(id, "earliest");
    to_earliest[4].1 = TOPIC.into();
    let preview = json_of(&app, &admin, "/api/group_reset_preview", &to_earliest).await;
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["rereads"], CONSUMED, "{preview}");
    assert_eq!(preview["skips"], 0);
    let rows = preview["partitions"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["new"] == 0), "{preview}");
    let applied = json_of(&app, &admin, "/api/group_reset", &to_earliest).await;
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["partitions"], preview["partitions"]);

    // A new consumer of the group starts at the previewed offsets.
    let wanted: Vec<String> = ends
        .iter()
        .filter(|(_, end)| **end > 0)
        .map(|(p, _)| p.to_string())
        .collect();
    let first = client_async(vec![
        "group-first".into(),
        bootstrap.clone(),
        TOPIC.into(),
        GROUP.into(),
        "classic".into(),
        wanted.join(","),
        "60".into(),
    ])
    .await;
    for p in &wanted {
        assert_eq!(
            first[p][0], 0,
            "partition {p} starts at the previewed 0: {first}"
        );
    }
    let detail = json_of(&app, &admin, "/api/consumer_group", &group_form).await;
    assert_eq!(detail["total_lag"], MESSAGES, "{detail}");

    // /metrics: the background sample (every 30 s) shows the lag after the reset.
    let series =
        format!("byoc_consumer_group_lag{{instance_name=\"groups\",group=\"{GROUP}\"}} {MESSAGES}");
    wait_until(
        "the lag on /metrics",
        Duration::from_secs(120),
        async || {
            let text = app
                .client()
                .get(app.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines().any(|l| l == series)
        },
    )
    .await;

    // REST: a viewer's token lists the groups; it cannot reset (403).
    let made = json_of(
        &app,
        &admin,
        "/api/service_account_create",
        &[
            ("name", "viewer-bot".to_string()),
            ("role", "viewer".to_string()),
        ],
    )
    .await;
    let token = made["token"].as_str().unwrap().to_string();
    let rest = Client::new();
    let listed = rest
        .get(app.url(&format!("/api/v1/instances/{id}/consumer-groups")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed[0]["group"], GROUP, "{listed}");
    let refused = rest
        .post(app.url(&format!(
            "/api/v1/instances/{id}/consumer-groups/{GROUP}/reset"
        )))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "to": "latest" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // The empty group is deleted; it is gone.
    let deleted = app.post(&admin, "/api/group_delete", &delete_form).await;
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    let gone = app.post(&admin, "/api/consumer_group", &group_form).await;
    assert_eq!(gone.status(), 404);

    // Audited: each attempt as requested, then its outcome, with the preview's figures.
    let entries = audit(&app, "group_%").await;
    let shape: Vec<(&str, &str)> = entries
        .iter()
        .map(|(a, o, _)| (a.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("group_offset_reset_requested", "success"),
            ("group_offset_reset", "failure"),
            ("group_delete_requested", "success"),
            ("group_delete", "failure"),
            ("group_offset_reset_requested", "success"),
            ("group_offset_reset", "success"),
            ("group_delete_requested", "success"),
            ("group_delete", "success"),
        ]
    );
    let figures = &entries[5].2;
    assert!(
        figures.contains(
            "to earliest, topic events: 3 partition(s), 100 message(s) re-read, 0 skipped"
        ),
        "{figures}"
    );
    assert!(entries[1].2.contains("active member"), "{}", entries[1].2);
    println!("whole test: {:?}", started.elapsed());
}
