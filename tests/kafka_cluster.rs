//! The Kafka-cluster provisioner (`--provisioner kafka`, a preview) end to end: an instance
//! created through the console is an Apache Kafka 4.4 cluster of three JVM nodes; every node
//! lists the same three brokers to a client nobody here wrote (confluent-kafka); topics go
//! through the console's Admin client; messages go in and out; a SIGKILLed node is started
//! again by the control loop (audited) while the cluster keeps serving; delete stops every
//! node and removes the directory. Needs Kafka's jars (scripts/setup.sh). One cluster.

mod common;

use app::server::kafka::KafkaSettings;
use app::server::kafka::Listener;
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::{KafkaInstall, PID_FILE};
use byoc_engine::layout::NodePorts;
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

/// The node of the cluster whose ports start at `first` that is the quorum's active
/// controller, as its own metrics say (`ActiveControllerCount` 1).
async fn active_controller(first: u16) -> Option<u32> {
    for node in 0..3u32 {
        let port = NodePorts::in_block(first, node).metrics;
        let Ok(answer) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
            continue;
        };
        let text = answer.text().await.unwrap_or_default();
        if text
            .lines()
            .any(|l| l == "kafka_controller_kafkacontroller_activecontrollercount 1.0")
        {
            return Some(node);
        }
    }
    None
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
            aku_kib_per_second: 30 * 1024,
            private: Listener::loopback(),
            public: None,
        }),
        ..Config::default()
    })
    .await;
    let client = app.activated_admin_client().await;

    // Mutual TLS without TLS is refused, with the reason, before anything is made.
    let refused = app
        .post(
            &client,
            "/api/instance_create",
            &instance_form(
                "secure",
                3,
                &[("client_auth", "mtls"), ("transit_encryption", "plaintext")],
            ),
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        error_body(refused).await["Invalid"]["field"],
        "transit_encryption"
    );

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

    // A client cannot make itself a SCRAM user (cluster-level changes are the super users').
    let out = std::process::Command::new("python3")
        .args([script, "alter-user", &bootstrap, "mallory"])
        .output()
        .unwrap();
    let tried: Value = serde_json::from_slice(&out.stdout).expect("alter-user as JSON");
    assert_eq!(tried["ok"], false, "{tried}");
    assert!(
        tried["error"]
            .as_str()
            .unwrap()
            .contains("CLUSTER_AUTHORIZATION_FAILED"),
        "{tried}"
    );

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
    // Each topic request is audited before Kafka is asked, and its outcome after.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, outcome, detail FROM audit_log
         WHERE action IN ('topic_create_requested', 'topic_create') ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let shape: Vec<(&str, &str)> = rows
        .iter()
        .map(|(action, outcome, _)| (action.as_str(), outcome.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("topic_create_requested", "success"),
            ("topic_create", "success"),
            ("topic_create_requested", "success"),
            ("topic_create", "failure"),
        ]
    );
    assert!(rows[3].2.starts_with("events: A topic named"), "{rows:?}");
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
    // Every message is still there once the node has rejoined (all three list the brokers
    // again); read with a deadline, not an idle timeout: the restarted node may still be
    // loading the group coordinator's partitions.
    wait_until(
        "every node lists three brokers",
        Duration::from_secs(120),
        async || {
            let out = std::process::Command::new("python3")
                .args([script, "brokers", &bootstrap])
                .output()
                .unwrap();
            serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|seen| {
                bootstrap
                    .split(',')
                    .all(|node| seen[node]["brokers"] == serde_json::json!([0, 1, 2]))
            })
        },
    )
    .await;
    let keys = app.dir.path().join("keys");
    let all: String = (0..2000).map(|i| format!("{i}\n")).collect();
    std::fs::write(&keys, all).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            script,
            "consume",
            &bootstrap,
            "events",
            keys.to_str().unwrap(),
            "120",
        ])
        .output()
        .unwrap();
    let read: Value = serde_json::from_slice(&out.stdout).expect("consume as JSON");
    assert_eq!(read["missing"], serde_json::json!([]), "{read}");
    assert_eq!(read["seen"], 2000, "{read}");

    // The active controller SIGKILLed under a producer (acks=all): the quorum elects another
    // controller, the node's partitions get new leaders, the control loop starts the node
    // again, and every acknowledged message is read back. The stall is printed.
    let first: u16 = std::fs::read_to_string(dir.join("ports"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let controller = active_controller(first)
        .await
        .expect("one node is the active controller");
    let pid_of = |node: u32| -> i32 {
        std::fs::read_to_string(dir.join(format!("node-{node}")).join(PID_FILE))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let victim = pid_of(controller);
    let (stop, acked) = (app.dir.path().join("stop"), app.dir.path().join("acked"));
    let producer = std::process::Command::new("python3")
        .args([script, "produce", &bootstrap, "events"])
        .args([&stop, &acked])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let acked_count = || {
        std::fs::read_to_string(&acked)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    wait_until(
        "the producer is acknowledged",
        Duration::from_secs(60),
        async || acked_count() >= 200,
    )
    .await;
    std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    let killed_at = Instant::now();
    wait_until(
        "the controller's node is started again",
        Duration::from_secs(120),
        async || {
            let now = nodes_under(&dir);
            now.len() == 3 && !now.contains(&victim)
        },
    )
    .await;
    let restarted_after = killed_at.elapsed();
    let after_kill = acked_count();
    wait_until(
        "acknowledgements go on after the controller's death",
        Duration::from_secs(120),
        async || acked_count() >= after_kill + 500,
    )
    .await;
    std::fs::write(&stop, "").unwrap();
    let out = producer.wait_with_output().unwrap();
    let figures: Value = serde_json::from_slice(&out.stdout).expect("producer figures");
    println!(
        "active controller (node {controller}) SIGKILLed under a producer: started again by the \
         control loop after {restarted_after:?}; the producer: {figures} (longest_gap_ms: the \
         longest stretch without an acknowledgement)"
    );
    assert_eq!(figures["failed"], 0, "{figures}");
    assert!(
        active_controller(first)
            .await
            .is_some_and(|now| now != controller || pid_of(now) != victim),
        "another controller is active"
    );
    let out = std::process::Command::new("python3")
        .args([script, "consume", &bootstrap, "events"])
        .arg(&acked)
        .arg("120")
        .output()
        .unwrap();
    let read: Value = serde_json::from_slice(&out.stdout).expect("consume as JSON");
    assert_eq!(read["missing"], serde_json::json!([]), "{read}");

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

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");

/// tests/kafka/client.py with `args`: its exit code and output.
async fn client(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("timeout")
            .args(["120", "python3", CLIENT])
            .args(&args)
            .output()
            .expect("python3 runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

fn scram_args(bootstrap: &str, user: &str, password: &str, rest: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--security-protocol",
        "SASL_PLAINTEXT",
        "--mechanism",
        "SCRAM-SHA-512",
        "--username",
        user,
        "--password",
        password,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(rest.iter().map(|s| s.to_string()));
    args.insert(args.len() - rest.len() + 1, bootstrap.to_string());
    args
}

async fn kafka_user(
    app: &TestApp,
    admin: &reqwest::Client,
    endpoint: &str,
    id: i64,
    user: &str,
) -> Value {
    let mut form = vec![("id", id.to_string()), ("username", user.to_string())];
    if endpoint == "/api/kafka_user_create" {
        form.push(("mechanism", "SCRAM-SHA-512".to_string()));
    }
    let response = app.post(admin, endpoint, &form).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{endpoint}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// SASL/SCRAM users on a Kafka cluster: written once through AlterUserScramCredentials (the
/// salted password, never kept), right credentials served, a wrong password and anonymous
/// clients refused, a rotated password replaces the old one, a deleted user is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_are_written_to_the_cluster_and_enforced() {
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (26100, 26195),
            aku_kib_per_second: 30 * 1024,
            private: Listener::loopback(),
            public: None,
        }),
        ..Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let form = instance_form(
        "secure",
        3,
        &[
            ("client_auth", "sasl_scram"),
            ("transit_encryption", "plaintext"),
        ],
    );
    let response = app.post(&admin, "/api/instance_create", &form).await;
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

    // The names of the cluster's own principals are not for clients: a SCRAM user named
    // `broker` would be the super user `User:broker`.
    for reserved in ["broker", "Broker", "ANONYMOUS", "byoc-console"] {
        let refused = app
            .post(
                &admin,
                "/api/kafka_user_create",
                &[
                    ("id", id.to_string()),
                    ("username", reserved.to_string()),
                    ("mechanism", "SCRAM-SHA-512".to_string()),
                ],
            )
            .await;
        assert_eq!(refused.status(), 422, "{reserved}");
        assert_eq!(error_body(refused).await["Invalid"]["field"], "username");
    }
    let alice = kafka_user(&app, &admin, "/api/kafka_user_create", id, "alice").await;
    let password = alice["password"].as_str().unwrap().to_string();
    assert!(
        alice["applied"]
            .as_str()
            .unwrap()
            .contains("1 user(s) in force"),
        "{alice}"
    );
    // Logged in, a new user may do nothing yet: its produce is refused by the authorizer.
    let (code, out) = client(scram_args(
        &bootstrap,
        "alice",
        &password,
        &["produce", "events", "5"],
    ))
    .await;
    // Nothing acknowledged; each refusal is the authorizer's (on stderr).
    assert_eq!((code, out.lines().next()), (0, Some("0")), "{out}");
    assert!(out.contains("TOPIC_AUTHORIZATION_FAILED"), "{out}");
    for (preset, extra) in [
        ("produce", None),
        ("consume", Some(("group", "*"))),
        ("manage_topics", None),
    ] {
        let mut form = vec![
            ("id", id.to_string()),
            ("username", "alice".to_string()),
            ("preset", preset.to_string()),
            ("topic", "*".to_string()),
        ];
        form.extend(extra.map(|(k, v)| (k, v.to_string())));
        let granted = app.post(&admin, "/api/kafka_acl_preset", &form).await;
        assert_eq!(granted.status(), 200, "{}", granted.text().await.unwrap());
    }
    let (code, out) = client(scram_args(
        &bootstrap,
        "alice",
        &password,
        &["produce", "events", "100"],
    ))
    .await;
    assert_eq!((code, out.trim()), (0, "100"), "{out}");
    let (code, out) = client(scram_args(
        &bootstrap,
        "alice",
        "not-her-password",
        &["auth"],
    ))
    .await;
    assert_eq!(code, 3, "a wrong password is refused: {out}");
    let (code, out) = client(vec!["auth".into(), bootstrap.clone()]).await;
    assert_ne!(code, 0, "an anonymous client is refused: {out}");

    // Alice cannot make another user, nor change her own credentials behind the console.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/engine/tests/clients/kafka_client.py"
    );
    for new_user in ["mallory", "alice"] {
        let out = std::process::Command::new("python3")
            .args([
                script,
                "alter-user",
                &bootstrap,
                new_user,
                "alice",
                &password,
            ])
            .output()
            .unwrap();
        let tried: Value = serde_json::from_slice(&out.stdout).expect("alter-user as JSON");
        assert_eq!(tried["ok"], false, "{new_user}: {tried}");
        assert!(
            tried["error"]
                .as_str()
                .unwrap()
                .contains("CLUSTER_AUTHORIZATION_FAILED"),
            "{tried}"
        );
    }

    // A new password: the old one no longer logs in, the new one does.
    let rotated = kafka_user(&app, &admin, "/api/kafka_user_rotate", id, "alice").await;
    let new_password = rotated["password"].as_str().unwrap().to_string();
    let (code, out) = client(scram_args(&bootstrap, "alice", &new_password, &["auth"])).await;
    assert_eq!(code, 0, "{out}");
    // Each broker applies the metadata log's change on its own, within moments.
    wait_until(
        "the old password is refused",
        Duration::from_secs(20),
        async || {
            client(scram_args(&bootstrap, "alice", &password, &["auth"]))
                .await
                .0
                == 3
        },
    )
    .await;

    // Deleted: refused from then on.
    kafka_user(&app, &admin, "/api/kafka_user_delete", id, "alice").await;
    wait_until(
        "a deleted user is refused",
        Duration::from_secs(20),
        async || {
            client(scram_args(&bootstrap, "alice", &new_password, &["auth"]))
                .await
                .0
                == 3
        },
    )
    .await;
    let audited = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action IN ('kafka_user_create', 'kafka_user_rotate', 'kafka_user_delete')")
        .await;
    assert_eq!(audited, 3);
}
