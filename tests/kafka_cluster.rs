//! The Kafka-cluster provisioner (`--provisioner kafka`, a preview) end to end: an instance
//! created through the console is an Apache Kafka 4.4 cluster of three JVM nodes; every node
//! lists the same three brokers to a client nobody here wrote (confluent-kafka); topics go
//! through the console's Admin client; messages go in and out; a SIGKILLed node is started
//! again by the control loop (audited) while the cluster keeps serving; delete stops every
//! node and removes the directory. Needs Kafka's jars (scripts/setup.sh). One cluster.

mod common;

use app::server::broker::Listener;
use app::server::kafka::KafkaSettings;
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::KafkaInstall;
use common::kafka::{consume, produce};
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const PLAIN: [(&str, &str); 2] = [
    ("client_auth", "anonymous"),
    ("transit_encryption", "plaintext"),
];

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn state_of(app: &TestApp, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, state_reason FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Kafka node processes (pid) working under `dir`.
fn nodes_under(dir: &std::path::Path) -> Vec<i32> {
    let Ok(root) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    common::console_process::processes()
        .into_iter()
        .filter(|(cwd, _)| cwd.starts_with(&root))
        .filter(|(_, pid)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"kafka.Kafka"))
        })
        .map(|(_, pid)| pid)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_is_a_three_node_kafka_cluster_that_heals_a_killed_node() {
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (26000, 26095),
            private: Listener::loopback(),
            public: None,
        }),
        ..Config::default()
    })
    .await;
    let client = app.activated_admin_client().await;

    // SASL is refused on this provisioner, with the reason, before anything is made.
    let refused = app
        .post(
            &client,
            "/api/instance_create",
            &instance_form("secure", 3, &[("client_auth", "sasl_scram")]),
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_body(refused).await["Invalid"]["field"], "client_auth");

    let response = app
        .post(
            &client,
            "/api/instance_create",
            &instance_form("orders", 3, &PLAIN),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    wait_until("the instance runs", Duration::from_secs(240), async || {
        let (state, reason) = state_of(&app, id).await;
        assert_ne!(state, "abnormal", "{reason:?}");
        state == "running"
    })
    .await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(bootstrap.split(',').count(), 3, "{bootstrap}");
    let dir = app
        .dir
        .path()
        .join("data/kafka")
        .join(format!("instance-{id}"));
    let pids = nodes_under(&dir);
    assert_eq!(pids.len(), 3, "three JVMs for the instance");

    // Every node lists the same three brokers to confluent-kafka.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, "brokers", &bootstrap])
        .output()
        .unwrap();
    let seen: Value = serde_json::from_slice(&out.stdout).expect("brokers as JSON");
    for node in bootstrap.split(',') {
        assert_eq!(
            seen[node]["brokers"],
            serde_json::json!([0, 1, 2]),
            "{seen}"
        );
    }

    // A topic through the console (replication 3), messages in and out.
    let topic = [
        ("id", id.to_string()),
        ("topic", "events".to_string()),
        ("partitions", "6".to_string()),
        ("retention_hours", "".to_string()),
    ];
    let created = app.post(&client, "/api/topic_create", &topic).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let again = app.post(&client, "/api/topic_create", &topic).await;
    assert_eq!(again.status(), 422);
    assert_eq!(produce(&bootstrap, "events", 2000).await, "2000");
    assert_eq!(
        consume(&bootstrap, "events", "first", 2000).await,
        "2000 exact"
    );
    let panel: Value = app
        .post(&client, "/api/instance_kafka", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let topics = panel["topics"].as_array().expect("topics");
    assert_eq!(topics.len(), 1, "{panel}");
    let total: i64 = topics[0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["latest_offset"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2000);

    // SIGKILL one node: the instance keeps running, the control loop starts the node again
    // and says so in the audit log.
    std::process::Command::new("kill")
        .args(["-9", &pids[1].to_string()])
        .status()
        .unwrap();
    wait_until(
        "the node is started again",
        Duration::from_secs(120),
        async || nodes_under(&dir).len() == 3,
    )
    .await;
    assert_eq!(state_of(&app, id).await.0, "running");
    wait_until("the restart is audited", Duration::from_secs(30), async || {
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'system' AND detail LIKE '%had no process: started again%'",
        )
        .await
            >= 1
    })
    .await;
    assert_eq!(
        consume(&bootstrap, "events", "second", 2000).await,
        "2000 exact"
    );

    // Delete: every node stopped, the directory gone.
    let deleted = app
        .post(
            &client,
            "/api/instance_delete",
            &[
                ("id", id.to_string()),
                ("confirm_name", "orders".to_string()),
            ],
        )
        .await;
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    wait_until(
        "the instance is deleted",
        Duration::from_secs(120),
        async || state_of(&app, id).await.0 == "deleted",
    )
    .await;
    assert!(nodes_under(app.dir.path()).is_empty());
    assert!(!dir.exists());
}
