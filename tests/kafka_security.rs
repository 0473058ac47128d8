//! Kafka security in force, with the real `nisshi` broker and clients nobody here wrote:
//! confluent-kafka (`tests/kafka/client.py`), a raw protocol client that finishes SCRAM with
//! a wrong proof (`tests/kafka/raw_scram.py`), and `openssl s_client`. Ports 20300-20349.

mod common;

use app::server::broker::{BrokerSettings, Listener};
use app::server::Config;
use app::server::ProvisionerChoice;
use common::console_process::broker_bin;
use common::{instance_form, spawn_app_with, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
const RAW_SCRAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/raw_scram.py");

async fn spawn_secure_app(ports: (u16, u16), public: Option<Listener>) -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Broker(BrokerSettings {
            bin: broker_bin(),
            ports,
            private: Listener::loopback(),
            public,
            // Retention is applied every 2 s here, so that the test sees it.
            maintenance_every: Duration::from_secs(2),
        }),
        ..Config::default()
    })
    .await
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if done().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_running(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    changes: &[(&'static str, &str)],
) -> (i64, String) {
    let response = app
        .post(
            client,
            "/api/instance_create",
            &instance_form(name, 3, changes),
        )
        .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let id: i64 = body.parse().unwrap();
    let pool = app.pool.clone();
    wait_until("running", Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            let state: String = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
            state == "running"
        }
    })
    .await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, bootstrap)
}

/// client.py with `args`: its exit code and output.
async fn client(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("timeout")
            .args(["120", "python3", CLIENT])
            .args(&args)
            .output()
            .expect("python3 runs");
        // Its answer is stdout; stderr (notes, the reason of a refusal) only when it failed.
        let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            text.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A Kafka user made through the console: its client.properties written next to the CA.
struct KafkaLogin {
    password: String,
    properties: PathBuf,
}

async fn create_user(
    app: &TestApp,
    admin: &reqwest::Client,
    id: i64,
    username: &str,
    mechanism: &str,
    dir: &Path,
) -> KafkaLogin {
    let response = app
        .post(
            admin,
            "/api/kafka_user_create",
            &[
                ("id", id.to_string()),
                ("username", username.to_string()),
                ("mechanism", mechanism.to_string()),
            ],
        )
        .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let user: Value = serde_json::from_str(&body).unwrap();
    let properties = dir.join(format!("{username}.properties"));
    std::fs::write(&properties, user["client_properties"].as_str().unwrap()).unwrap();
    KafkaLogin {
        password: user["password"].as_str().unwrap().to_string(),
        properties,
    }
}

/// The CA certificate, downloaded as a signed-in user would, saved as the examples name it.
async fn download_ca(app: &TestApp, client: &reqwest::Client, dir: &Path) -> PathBuf {
    let response = client.get(app.url("/kafka/ca.pem")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let pem = response.text().await.unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let path = dir.join("byoc-ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

fn props(login: &KafkaLogin) -> String {
    login.properties.display().to_string()
}

/// The detail of the latest audit entry of `action`, if there is one.
async fn last_audit_detail(app: &TestApp, action: &str) -> Option<String> {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1")
        .bind(action)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

/// Creates a topic through the console (the broker's default retention).
async fn create_topic(
    app: &TestApp,
    admin: &reqwest::Client,
    id: i64,
    topic: &str,
    partitions: u32,
) {
    let form = [
        ("id", id.to_string()),
        ("topic", topic.to_string()),
        ("partitions", partitions.to_string()),
    ];
    let created = app.post(admin, "/api/topic_create", &form).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?")
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_secured_instance_serves_its_users_over_tls_and_refuses_everyone_else() {
    let app = spawn_secure_app((20300, 20309), None).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, bootstrap) = create_running(&app, &admin, "secure", &[]).await;
    let ca = download_ca(&app, &admin, files.path()).await;
    let ca_arg = ca.display().to_string();

    // The console's own user reads topics over SASL_SSL: the panel lists them.
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(panel["connect"]["security_protocol"], "SASL_SSL", "{panel}");
    assert_eq!(panel["topics_error"], Value::Null, "{panel}");
    let users = panel["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "byoc-console");
    assert_eq!(users[0]["internal"], true);

    // One user per mechanism; each produces and consumes with the settings it was given.
    let alice = create_user(&app, &admin, id, "alice", "SCRAM-SHA-512", files.path()).await;
    let bob = create_user(&app, &admin, id, "bob", "SCRAM-SHA-256", files.path()).await;
    let text = std::fs::read_to_string(&alice.properties).unwrap();
    assert!(text.contains("security.protocol=SASL_SSL"), "{text}");
    assert!(text.contains("sasl.mechanism=SCRAM-SHA-512"), "{text}");
    assert!(text.contains(&format!("sasl.password={}", alice.password)));
    assert!(text.contains("ssl.ca.location=byoc-ca.pem"), "{text}");
    // What the console keeps is no password: no column holds it.
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM kafka_users WHERE instance_id = ? AND (CAST(salt AS TEXT) = ?1 \
         OR CAST(stored_key AS TEXT) = ?2 OR CAST(server_key AS TEXT) = ?2)",
    )
    .bind(id)
    .bind(&alice.password)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);

    create_topic(&app, &admin, id, "orders", 2).await;
    for login in [&alice, &bob] {
        let (code, out) = client(strings(&[
            "--properties",
            &props(login),
            "produce",
            "-",
            "orders",
            "200",
        ]))
        .await;
        assert_eq!((code, out.as_str()), (0, "200"), "{out}");
    }
    // Each reads the topic (both wrote keys 0..199: 200 distinct).
    for (login, group) in [(&alice, "g-alice"), (&bob, "g-bob")] {
        let (code, out) = client(strings(&[
            "--properties",
            &props(login),
            "consume",
            "-",
            "orders",
            group,
            "200",
        ]))
        .await;
        assert_eq!((code, out.as_str()), (0, "200 exact"), "{out}");
    }

    // Refused: no credentials, plaintext on the TLS port, TLS without SASL, a wrong
    // password, a wrong mechanism for the user.
    let refusals: Vec<Vec<String>> = vec![
        strings(&["auth", &bootstrap]),
        strings(&[
            "--security-protocol",
            "SSL",
            "--ca",
            &ca_arg,
            "auth",
            &bootstrap,
        ]),
        strings(&[
            "--security-protocol",
            "SASL_SSL",
            "--ca",
            &ca_arg,
            "--mechanism",
            "SCRAM-SHA-512",
            "--username",
            "alice",
            "--password",
            "not-her-password",
            "auth",
            &bootstrap,
        ]),
        strings(&[
            "--security-protocol",
            "SASL_SSL",
            "--ca",
            &ca_arg,
            "--mechanism",
            "SCRAM-SHA-256",
            "--username",
            "alice",
            "--password",
            &alice.password,
            "auth",
            &bootstrap,
        ]),
        strings(&[
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--mechanism",
            "SCRAM-SHA-512",
            "--username",
            "alice",
            "--password",
            &alice.password,
            "auth",
            &bootstrap,
        ]),
    ];
    for args in refusals {
        let (code, out) = client(args.clone()).await;
        assert_eq!(code, 3, "{args:?} was not refused: {out}");
    }
    // The right settings pass the same check (so the refusals mean something).
    let (code, out) = client(strings(&["--properties", &props(&alice), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // The hole of tansu 0.6.0: a client that finishes SCRAM with a wrong proof and goes on.
    for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
        let out = Command::new("timeout")
            .args([
                "60",
                "python3",
                RAW_SCRAM,
                "--ca",
                &ca_arg,
                "--mechanism",
                mechanism,
            ])
            .args([
                bootstrap.as_str(),
                if mechanism == "SCRAM-SHA-512" {
                    "alice"
                } else {
                    "bob"
                },
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "served after a wrong proof: {said}"
        );
        assert!(said.contains("\"served\": false"), "{said}");
    }
    let right = Command::new("timeout")
        .args([
            "60",
            "python3",
            RAW_SCRAM,
            "--ca",
            &ca_arg,
            "--right-password",
            &alice.password,
        ])
        .args([&bootstrap, "alice"])
        .output()
        .unwrap();
    assert_eq!(
        right.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&right.stdout)
    );

    // openssl verifies the chain and the name against the downloaded CA.
    let out = Command::new("timeout")
        .args([
            "20", "openssl", "s_client", "-connect", &bootstrap, "-CAfile", &ca_arg,
        ])
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("Verification: OK"), "{said}");
    assert!(said.contains("TLSv1.3"), "{said}");

    // A user deleted in the console cannot log in within seconds; the audit log has it.
    let deleted = app
        .post(
            &admin,
            "/api/kafka_user_delete",
            &[("id", id.to_string()), ("username", "bob".into())],
        )
        .await;
    assert_eq!(deleted.status(), 200);
    let after = wait_until("bob refused", Duration::from_secs(15), || {
        let args = strings(&["--properties", &props(&bob), "auth", "-"]);
        async move { client(args).await.0 == 3 }
    })
    .await;
    println!(
        "a deleted user is refused {} ms after the delete answered",
        after.as_millis()
    );
    assert_eq!(audit_count(&app, "kafka_user_delete").await, 1);
    assert_eq!(audit_count(&app, "kafka_user_create").await, 2);
    // Alice still gets in.
    let (code, _) = client(strings(&["--properties", &props(&alice), "auth", "-"])).await;
    assert_eq!(code, 0);
    // The console's own user is not for clients to delete.
    let own = app
        .post(
            &admin,
            "/api/kafka_user_delete",
            &[("id", id.to_string()), ("username", "byoc-console".into())],
        )
        .await;
    assert_eq!(own.status(), 422);

    // A user added behind the console's back (as any authenticated client may) is removed
    // by the control loop, and audited.
    let storage = app
        .dir
        .path()
        .join(format!("data/brokers/instance-{id}/tansu.db"));
    let mut broker_db = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&storage)
        .busy_timeout(Duration::from_secs(5));
    broker_db = broker_db.create_if_missing(false);
    let broker_pool = sqlx::SqlitePool::connect_with(broker_db).await.unwrap();
    sqlx::query(
        "INSERT INTO scram_credential (cluster, username, mechanism, salt, iterations, \
         stored_key, server_key) SELECT c.id, 'intruder', 2, x'00', 4096, x'00', x'00' \
         FROM cluster c WHERE c.name = ?",
    )
    .bind(format!("byoc-{id}"))
    .execute(&broker_pool)
    .await
    .unwrap();
    let pool = broker_pool.clone();
    wait_until("the intruder removed", Duration::from_secs(15), || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM scram_credential WHERE username = 'intruder'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n == 0
        }
    })
    .await;
    broker_pool.close().await;
    // Audited once the loop is done (it also restarts the broker to cut any session of it).
    wait_until("the removal audited", Duration::from_secs(15), || async {
        last_audit_detail(&app, "kafka_users_restore")
            .await
            .is_some_and(|d| d.contains("intruder"))
    })
    .await;

    // Topics: deleting one leaves the other (typed confirmation first).
    create_topic(&app, &admin, id, "keep", 1).await;
    let wrong = app
        .post(
            &admin,
            "/api/topic_delete",
            &[
                ("id", id.to_string()),
                ("topic", "orders".into()),
                ("confirm", "order".into()),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let gone = app
        .post(
            &admin,
            "/api/topic_delete",
            &[
                ("id", id.to_string()),
                ("topic", "orders".into()),
                ("confirm", "orders".into()),
            ],
        )
        .await;
    assert_eq!(gone.status(), 200, "{}", gone.text().await.unwrap());
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = panel["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // (hole-probe: made by the raw client that logged in with the right password.)
    assert_eq!(names, vec!["hole-probe", "keep"], "{panel}");
}

#[tokio::test]
async fn certificate_renewal_restarts_the_broker_and_a_running_producer_loses_nothing() {
    let app = spawn_secure_app((20310, 20319), None).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, _) = create_running(&app, &admin, "renewed", &[]).await;
    download_ca(&app, &admin, files.path()).await;
    let login = create_user(&app, &admin, id, "steady", "SCRAM-SHA-512", files.path()).await;
    create_topic(&app, &admin, id, "ticks", 1).await;
    let serial = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT serial FROM instance_certificates WHERE instance_id = ?",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let first = serial().await;

    let producer = tokio::spawn(client(strings(&[
        "--properties",
        &props(&login),
        "steady",
        "-",
        "ticks",
        "10",
    ])));
    // Let the producer get going, then bring the certificate near its end.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = app.state.clock.unix();
    sqlx::query("UPDATE instance_certificates SET not_after = ? WHERE instance_id = ?")
        .bind(now + 86_400)
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let pool = app.pool.clone();
    wait_until("renewed", Duration::from_secs(15), || {
        let pool = pool.clone();
        let first = first.clone();
        async move {
            let serial: String = sqlx::query_scalar(
                "SELECT serial FROM instance_certificates WHERE instance_id = ?",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
            serial != first
        }
    })
    .await;
    let (code, out) = producer.await.unwrap();
    assert_eq!(code, 0, "{out}");
    let counts: Vec<u64> = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (sent, acked, failed) = (counts[0], counts[1], counts[2]);
    println!("renewal under a producer: sent {sent}, acknowledged {acked}, failed {failed}");
    assert!(sent > 500, "{out}");
    assert_eq!((acked, failed), (sent, 0), "{out}");
    let restart: String = last_audit_detail(&app, "broker_restart").await.unwrap();
    println!("{restart}");
    assert!(restart.contains("new certificate"), "{restart}");
    let issued: String = last_audit_detail(&app, "certificate_issue").await.unwrap();
    assert!(issued.starts_with("renewal before expiry"), "{issued}");
}

#[tokio::test]
async fn exposure_binds_its_own_address_and_internet_needs_one_configured() {
    // Without a public address, internet endpoints are refused with the reason.
    let app = spawn_secure_app((20320, 20329), None).await;
    let admin = app.activated_admin_client().await;
    let form = instance_form("public", 3, &[("endpoint_exposure", "internet")]);
    let refused = app.post(&admin, "/api/instance_create", &form).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "endpoint_exposure", "{body}");
    // Settings the broker cannot enforce are refused by the server too.
    for (field, value) in [("client_auth", "mtls"), ("client_auth", "sasl_plain")] {
        let form = instance_form("nope", 3, &[(field, value)]);
        let response = app.post(&admin, "/api/instance_create", &form).await;
        assert_eq!(response.status(), 422, "{field}={value}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);
    drop(app);

    // With one (127.0.0.2 stands for a public address here), an internet instance listens
    // there and nowhere else, while an inside-the-network one keeps the private address.
    let public = Listener {
        bind: "127.0.0.2".parse().unwrap(),
        host: "127.0.0.2".into(),
    };
    let app = spawn_secure_app((20330, 20339), Some(public)).await;
    let admin = app.activated_admin_client().await;
    let (_, internet) =
        create_running(&app, &admin, "public", &[("endpoint_exposure", "internet")]).await;
    let (_, inside) = create_running(&app, &admin, "inside", &[]).await;
    assert!(internet.starts_with("127.0.0.2:"), "{internet}");
    assert!(inside.starts_with("127.0.0.1:"), "{inside}");
    let port = internet.rsplit_once(':').unwrap().1;
    let reachable = |addr: String| {
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(500))
            .is_ok()
    };
    assert!(reachable(internet.clone()));
    assert!(
        !reachable(format!("127.0.0.1:{port}")),
        "bound beyond its address"
    );
    // Anonymous is refused for the internet.
    let form = instance_form(
        "open",
        3,
        &[
            ("endpoint_exposure", "internet"),
            ("client_auth", "anonymous"),
        ],
    );
    assert_eq!(
        app.post(&admin, "/api/instance_create", &form)
            .await
            .status(),
        422
    );
}

/// Records of `topic` in the broker's own storage (what its retention deletes).
async fn records_of(app: &TestApp, id: i64, topic: &str) -> i64 {
    let storage = app
        .dir
        .path()
        .join(format!("data/brokers/instance-{id}/tansu.db"));
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&storage)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM record r JOIN topition tp ON r.topition = tp.id \
         JOIN topic t ON tp.topic = t.id WHERE t.name = ?",
    )
    .bind(topic)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn a_topic_s_retention_is_set_in_the_console_and_honoured_by_the_broker() {
    let app = spawn_secure_app((20340, 20349), None).await;
    let admin = app.activated_admin_client().await;
    let plain = [
        ("client_auth", "anonymous"),
        ("transit_encryption", "plaintext"),
    ];
    let (id, bootstrap) = create_running(&app, &admin, "retained", &plain).await;
    let create = |topic: &str, retention: &str| {
        vec![
            ("id", id.to_string()),
            ("topic", topic.to_string()),
            ("partitions", "1".to_string()),
            ("retention_hours", retention.to_string()),
        ]
    };
    let bad = app
        .post(&admin, "/api/topic_create", &create("bad", "0"))
        .await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "retention_hours", "{body}");
    for (topic, retention) in [("short", "1"), ("long", "")] {
        let created = app
            .post(&admin, "/api/topic_create", &create(topic, retention))
            .await;
        assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
        // 50 events stamped two hours ago, as a producer replaying history would send them.
        let (code, out) = client(strings(&["aged", &bootstrap, topic, "50", "7200"])).await;
        assert_eq!((code, out.as_str()), (0, "50"), "{out}");
    }
    // The broker applies retention at its maintenance pass (every 2 s in this test): the
    // one-hour topic loses them, the topic on the default (7 days) keeps them.
    let took = wait_until(
        "the short topic emptied",
        Duration::from_secs(30),
        || async { records_of(&app, id, "short").await == 0 },
    )
    .await;
    println!(
        "retention applied {} ms after the last produce",
        took.as_millis()
    );
    assert_eq!(records_of(&app, id, "long").await, 50);

    let set = app
        .post(
            &admin,
            "/api/topic_retention",
            &[
                ("id", id.to_string()),
                ("topic", "long".into()),
                ("retention_hours", "forever".into()),
            ],
        )
        .await;
    assert_eq!(set.status(), 200);
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let retention = |name: &str| {
        panel["topics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["retention"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(retention("short"), "1 hour");
    assert_eq!(retention("long"), "forever");
    assert_eq!(audit_count(&app, "topic_retention").await, 1);
}

#[tokio::test]
async fn a_new_client_facing_host_gets_a_new_certificate_and_bootstrap_address() {
    use common::console_process::{activated, broker_flags, detail, post};
    let flags = broker_flags("20360-20369");
    let mut console = activated(&flags, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());
    let response = post(
        &client,
        format!("{base}/api/instance_create"),
        &instance_form("renamed", 3, &[]),
    )
    .await;
    assert_eq!(response.status(), 200);
    let id = response.text().await.unwrap();
    let bootstrap = |d: &Value| d["summary"]["bootstrap"].as_str().unwrap_or("").to_string();
    let started = Instant::now();
    let before = loop {
        let d = detail(&client, &base, &id).await;
        if d["summary"]["state"] == "running" {
            break bootstrap(&d);
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(before.starts_with("127.0.0.1:"), "{before}");
    let port = before.rsplit_once(':').unwrap().1.to_string();

    // The administrator gives clients a name for this host.
    console.stop_gracefully();
    let mut renamed = flags.clone();
    renamed.extend(["--broker-host".to_string(), "localhost".to_string()]);
    console.restart(&renamed).await;
    let wanted = format!("localhost:{port}");
    let started = Instant::now();
    loop {
        let d = detail(&client, &base, &id).await;
        if bootstrap(&d) == wanted && d["summary"]["state"] == "running" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The certificate names it: openssl verifies the host name against the CA.
    let files = tempfile::tempdir().unwrap();
    let pem = client
        .get(format!("{base}/kafka/ca.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ca = files.path().join("byoc-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let verified = wait_until(
        "a certificate for localhost",
        Duration::from_secs(15),
        || {
            let (ca, wanted) = (ca.clone(), wanted.clone());
            async move {
                let out = Command::new("timeout")
                    .args(["10", "openssl", "s_client", "-connect", &wanted, "-CAfile"])
                    .arg(&ca)
                    .args([
                        "-verify_return_error",
                        "-verify_hostname",
                        "localhost",
                        "-brief",
                    ])
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stderr).contains("Verification: OK")
            }
        },
    )
    .await;
    println!(
        "serving a certificate for the new name {} ms after the check began",
        verified.as_millis()
    );
    console.stop_gracefully();
}

#[tokio::test]
async fn connections_of_a_user_removed_behind_the_brokers_back_are_cut_by_the_control_loop() {
    let app = spawn_secure_app((20370, 20379), None).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, _) = create_running(&app, &admin, "cut", &[]).await;
    download_ca(&app, &admin, files.path()).await;
    let victim = create_user(&app, &admin, id, "victim", "SCRAM-SHA-512", files.path()).await;
    let keeper = create_user(&app, &admin, id, "keeper", "SCRAM-SHA-512", files.path()).await;
    create_topic(&app, &admin, id, "t", 1).await;
    // A producer logged in as the user, for 8 s.
    let producer = tokio::spawn(client(strings(&[
        "--properties",
        &props(&victim),
        "steady",
        "-",
        "t",
        "8",
    ])));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The user goes from the console's set without the broker being told (as when a change
    // could not be applied at once): the control loop finds it on the broker, removes it,
    // and must also cut the connection that is already logged in.
    sqlx::query("DELETE FROM kafka_users WHERE instance_id = ? AND username = 'victim'")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (code, out) = producer.await.unwrap();
    let cut = code != 0
        || out
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().nth(2))
            .is_some_and(|failed| failed != "0");
    assert!(cut, "the producer went on as a removed user: {code} {out}");
    let restart: String = last_audit_detail(&app, "broker_restart").await.unwrap();
    assert!(restart.contains("cut the connections"), "{restart}");
    // Once the restarted broker lets a user it still has in, the removed one is refused for
    // its login (not because nothing answers).
    wait_until("the broker back", Duration::from_secs(30), || {
        let args = strings(&["--properties", &props(&keeper), "auth", "-"]);
        async move { client(args).await.0 == 0 }
    })
    .await;
    let (code, out) = client(strings(&["--properties", &props(&victim), "auth", "-"])).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("_AUTHENTICATION"), "{out}");
}
