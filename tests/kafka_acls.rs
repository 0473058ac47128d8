//! Access rules (ACLs) in force on a real Apache Kafka 4.4 cluster made by the console, with
//! a client nobody here wrote (confluent-kafka, `tests/kafka/client.py`): a new user may do
//! nothing; presets give exactly what they say; a client cannot grant itself rights, create a
//! user or change a setting; a rule made behind the console's back is removed and audited; a
//! removed rule and a deleted user's rules leave the cluster. Needs Kafka's jars
//! (scripts/setup.sh). Ports 25000-25047 (one cluster).

mod common;

use app::server::kafka::{KafkaSettings, Listener};
use app::server::{Config, ProvisionerChoice};
use byoc_engine::admin::{AclBinding, AdminClient, AdminConfig, TlsIdentity};
use byoc_engine::host::local::KafkaInstall;
use common::{error_body, instance_form, spawn_app_with, TestApp};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");

async fn post(
    app: &TestApp,
    admin: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let response = app.post(admin, path, &form).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// client.py as `user` (SASL_PLAINTEXT, SCRAM-SHA-512): its exit code and output.
async fn as_user(bootstrap: &str, user: &str, password: &str, args: &[&str]) -> (i32, String) {
    let mut all: Vec<String> = [
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
    all.push(args[0].to_string());
    all.push(bootstrap.to_string());
    all.extend(args[1..].iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let out = Command::new("timeout")
            .args(["300", "python3", CLIENT])
            .args(&all)
            .output()
            .expect("python3 runs");
        let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            text.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

/// Kafka's Admin API as a super user reaches it: the internal listeners, with the console's
/// client certificate (what an operator of this host with the instance's files could do).
fn super_admin(dir: &Path, ca_pem: &str) -> AdminClient {
    let first: u16 = std::fs::read_to_string(dir.join("ports"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pair = std::fs::read_to_string(dir.join("console-identity.pem")).unwrap();
    let identity = TlsIdentity {
        ca_pem: ca_pem.to_string(),
        cert_chain_pem: pair.clone(),
        key_pem: pair,
    };
    let internal = (0..3).map(|n| format!("127.0.0.1:{}", first + 4 * n + 1));
    AdminClient::new(AdminConfig::new(internal, Some(identity))).unwrap()
}

async fn rules_of(cluster: &AdminClient, principal: &str) -> Vec<AclBinding> {
    let mut rules: Vec<AclBinding> = cluster
        .describe_acls()
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.principal == principal)
        .collect();
    rules.sort();
    rules
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    started.elapsed()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_may_do_only_what_its_rules_allow_and_no_client_can_grant_itself_more() {
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (25000, 25047),
            private: Listener::loopback(),
            public: None,
            aku_kib_per_second: 30 * 1024,
        }),
        ..Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let form = instance_form(
        "guarded",
        3,
        &[
            ("client_auth", "sasl_scram"),
            ("transit_encryption", "plaintext"),
        ],
    );
    let response = app.post(&admin, "/api/instance_create", &form).await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    let id_s = id.to_string();
    let id_s = id_s.as_str();
    wait_for("the instance runs", Duration::from_secs(240), || async {
        let (state, reason): (String, Option<String>) =
            sqlx::query_as("SELECT state, state_reason FROM instances WHERE id = ?")
                .bind(id)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_ne!(state, "abnormal", "{reason:?}");
        state == "running"
    })
    .await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for topic in ["orders.eu", "payments"] {
        let (status, body) = post(
            &app,
            &admin,
            "/api/topic_create",
            &[("id", id_s), ("topic", topic), ("partitions", "3")],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut passwords = std::collections::HashMap::new();
    for user in ["alice", "mallory"] {
        let (status, body) = post(
            &app,
            &admin,
            "/api/kafka_user_create",
            &[
                ("id", id_s),
                ("username", user),
                ("mechanism", "SCRAM-SHA-512"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let made: Value = serde_json::from_str(&body).unwrap();
        passwords.insert(user, made["password"].as_str().unwrap().to_string());
    }
    let alice = passwords["alice"].as_str();

    // A new user: logged in, allowed nothing. The panel says it has no rules.
    let (status, body) = post(&app, &admin, "/api/instance_kafka", &[("id", id_s)]).await;
    assert_eq!(status, 200, "{body}");
    let panel: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(panel["acls"], serde_json::json!([]), "{panel}");
    let (code, out) = as_user(&bootstrap, "alice", alice, &["produce", "orders.eu", "5"]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, "0"),
        "refused, nothing acknowledged: {out}"
    );

    // Bad rules: refused naming the field, nothing kept.
    type Fields<'a> = &'a [(&'a str, &'a str)];
    let refusals: [(Fields, u16, &str); 4] = [
        (
            &[("resource_type", "cluster"), ("operation", "alter")],
            422,
            "operation",
        ),
        (
            &[
                ("resource_type", "group"),
                ("resource_name", "g"),
                ("operation", "write"),
            ],
            422,
            "operation",
        ),
        (
            &[
                ("resource_type", "topic"),
                ("resource_name", "a b"),
                ("operation", "read"),
            ],
            422,
            "resource_name",
        ),
        (
            &[
                ("resource_type", "topic"),
                ("resource_name", "t"),
                ("operation", "read"),
                ("host", "10.0.0.0/8"),
            ],
            422,
            "host",
        ),
    ];
    for (fields, status, field) in refusals {
        let mut form = vec![("id", id_s), ("username", "alice")];
        form.extend_from_slice(fields);
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let refused = app.post(&admin, "/api/kafka_acl_create", &form).await;
        assert_eq!(refused.status(), status, "{fields:?}");
        assert_eq!(
            error_body(refused).await["Invalid"]["field"],
            field,
            "{fields:?}"
        );
    }
    let (status, body) = post(
        &app,
        &admin,
        "/api/kafka_acl_preset",
        &[
            ("id", id_s),
            ("username", "nobody"),
            ("preset", "produce"),
            ("topic", "t"),
        ],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM kafka_acls").await, 0);

    // Produce to the topics starting with "orders.": exactly those.
    let (status, body) = post(
        &app,
        &admin,
        "/api/kafka_acl_preset",
        &[
            ("id", id_s),
            ("username", "alice"),
            ("preset", "produce"),
            ("topic", "orders."),
            ("topic_pattern", "prefixed"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let change: Value = serde_json::from_str(&body).unwrap();
    assert!(
        change["applied"]
            .as_str()
            .unwrap()
            .contains("2 access rule(s) in force"),
        "{change}"
    );
    let (code, out) = as_user(&bootstrap, "alice", alice, &["produce", "orders.eu", "100"]).await;
    assert_eq!((code, out.as_str()), (0, "100"), "{out}");
    let (code, out) = as_user(&bootstrap, "alice", alice, &["produce", "payments", "5"]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, "0"),
        "another topic stays closed: {out}"
    );

    // Consume them as the group "billing".
    let (status, body) = post(
        &app,
        &admin,
        "/api/kafka_acl_preset",
        &[
            ("id", id_s),
            ("username", "alice"),
            ("preset", "consume"),
            ("topic", "orders."),
            ("topic_pattern", "prefixed"),
            ("group", "billing"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (code, out) = as_user(
        &bootstrap,
        "alice",
        alice,
        &["consume", "orders.eu", "billing", "100"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("100"), "every message read: {out}");

    // A client that tries to give itself rights, a user of its own, or a broker setting is
    // refused by the cluster itself.
    let (code, out) = as_user(&bootstrap, "alice", alice, &["selfgrant", "alice"]).await;
    assert_eq!(code, 0, "{out}");
    for attempt in ["create_acls", "create_user", "alter_configs"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(attempt))
            .unwrap_or_default();
        assert!(
            line.starts_with(&format!("{attempt} refused: CLUSTER_AUTHORIZATION_FAILED"))
                || line.starts_with(&format!("{attempt} refused: TOPIC_AUTHORIZATION_FAILED")),
            "{attempt}: {out}"
        );
    }

    // A rule made behind the console's back (by a super user: the only ones who can) is
    // removed at the control loop's next pass, and audited.
    let ca_pem = admin
        .get(app.url("/kafka/ca.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cluster = super_admin(
        &app.dir.path().join(format!("data/kafka/instance-{id}")),
        &ca_pem,
    );
    let sneaky = AclBinding {
        resource_type: 2,
        resource_name: "*".into(),
        pattern_type: 3,
        principal: "User:mallory".into(),
        host: "*".into(),
        operation: 2,
        permission: 3,
    };
    cluster.create_acls(&[sneaky]).await.unwrap();
    let took = wait_for("the sneaky rule removed", Duration::from_secs(30), || async {
        rules_of(&cluster, "User:mallory").await.is_empty()
            && count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'kafka_acls_restore' AND detail LIKE '%User:mallory%'").await == 1
    })
    .await;
    println!("a rule made behind the console's back removed and audited after {took:?}");

    // Removing a rule closes what it opened.
    let write_rule: i64 = sqlx::query_scalar(
        "SELECT id FROM kafka_acls WHERE username = 'alice' AND operation = 'write'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (status, body) = post(
        &app,
        &admin,
        "/api/kafka_acl_delete",
        &[("id", id_s), ("acl_id", &write_rule.to_string())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (code, out) = as_user(&bootstrap, "alice", alice, &["produce", "orders.eu", "5"]).await;
    assert_eq!((code, out.as_str()), (0, "0"), "{out}");

    // Deleting the user deletes its rules, here and on the cluster.
    assert_eq!(rules_of(&cluster, "User:alice").await.len(), 3);
    let (status, body) = post(
        &app,
        &admin,
        "/api/kafka_user_delete",
        &[("id", id_s), ("username", "alice")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM kafka_acls WHERE username = 'alice'"
        )
        .await,
        0
    );
    wait_for(
        "alice's rules gone from the cluster",
        Duration::from_secs(10),
        || async { rules_of(&cluster, "User:alice").await.is_empty() },
    )
    .await;
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action || ': ' || COALESCE(detail, '') FROM audit_log \
         WHERE action IN ('kafka_acl_create', 'kafka_acl_delete', 'kafka_user_delete') ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            "kafka_acl_create: alice: allow write on topics starting with orders. from any host; \
             allow describe on topics starting with orders. from any host",
            "kafka_acl_create: alice: allow read on topics starting with orders. from any host; \
             allow read on consumer group billing from any host",
            "kafka_acl_delete: alice: allow write on topics starting with orders. from any host",
            "kafka_user_delete: alice and its 3 access rule(s)",
        ]
    );
}
