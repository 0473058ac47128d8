//! Kafka security in force on real Apache Kafka 4.4 clusters (three JVM nodes each) made by
//! the console, with clients nobody here wrote: confluent-kafka (`tests/kafka/client.py`), a
//! raw protocol client that finishes SCRAM with a wrong proof (`tests/kafka/raw_scram.py`) and
//! `openssl s_client`; and certificate renewal by a rolling restart. Needs Kafka's jars
//! (scripts/setup.sh). Ports 21100-21599, 48 per instance, one range per test; each test runs
//! at most one cluster at a time, so the binary (two tests at a time) runs at most two.

mod common;

use app::server::kafka::{KafkaSettings, Listener};
use app::server::{Config, ProvisionerChoice};
use byoc_engine::admin::{AdminClient, AdminConfig, ConfigResource, TlsIdentity};
use byoc_engine::host::local::KafkaInstall;
use common::{instance_form, spawn_app_with, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
const RAW_SCRAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/raw_scram.py");
/// A JVM start and the quorum's election, with two clusters on two shared cores.
const CREATE_LIMIT: Duration = Duration::from_secs(300);

async fn spawn_kafka_app(ports: (u16, u16), public: Option<Listener>) -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports,
            aku_kib_per_second: 30 * 1024,
            private: Listener::loopback(),
            public,
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn create_running(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    changes: &[(&'static str, &str)],
) -> (i64, String) {
    let started = Instant::now();
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
    wait_until("running", CREATE_LIMIT, || {
        let pool = pool.clone();
        async move {
            let (state, reason): (String, Option<String>) =
                sqlx::query_as("SELECT state, state_reason FROM instances WHERE id = ?")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_ne!(state, "abnormal", "{reason:?}");
            state == "running"
        }
    })
    .await;
    println!(
        "{name}: running {} s after create",
        started.elapsed().as_secs()
    );
    (id, bootstrap_of(app, id).await)
}

async fn bootstrap_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// client.py with `args`: its exit code and output (stdout; stderr too when it failed).
async fn client(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("timeout")
            .args(["500", "python3", CLIENT])
            .args(&args)
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

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `steady`'s report: sent, acknowledged, failed, the longest gap between acknowledgements.
fn steady_report(out: &str) -> (u64, u64, u64, u64) {
    let figures: Vec<u64> = out
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(u64::MAX))
        .collect();
    assert_eq!(figures.len(), 4, "{out}");
    (figures[0], figures[1], figures[2], figures[3])
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
    // A new user may do nothing: these tests' users produce and consume every topic.
    for (preset, extra) in [
        ("produce", None),
        ("consume", Some(("group", "*"))),
        ("manage_topics", None),
    ] {
        let mut form = vec![
            ("id", id.to_string()),
            ("username", username.to_string()),
            ("preset", preset.to_string()),
            ("topic", "*".to_string()),
        ];
        form.extend(extra.map(|(k, v)| (k, v.to_string())));
        let granted = admin_post(app, admin, "/api/kafka_acl_preset", &form).await;
        assert!(granted.contains("written to the cluster"), "{granted}");
    }
    let properties = dir.join(format!("{username}.properties"));
    std::fs::write(&properties, user["client_properties"].as_str().unwrap()).unwrap();
    KafkaLogin {
        password: user["password"].as_str().unwrap().to_string(),
        properties,
    }
}

/// A form posted as the signed-in admin: the answer's body (200 asserted).
async fn admin_post(
    app: &TestApp,
    admin: &reqwest::Client,
    path: &str,
    form: &[(&str, String)],
) -> String {
    let response = app.post(admin, path, form).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
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

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT COALESCE(detail, '') FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn create_topic(app: &TestApp, admin: &reqwest::Client, id: i64, topic: &str, hours: &str) {
    let form = [
        ("id", id.to_string()),
        ("topic", topic.to_string()),
        ("partitions", "3".to_string()),
        ("retention_hours", hours.to_string()),
    ];
    let created = app.post(admin, "/api/topic_create", &form).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
}

fn instance_dir(app: &TestApp, id: i64) -> PathBuf {
    app.dir.path().join(format!("data/kafka/instance-{id}"))
}

/// Kafka's Admin API as a super user reaches it: the internal listeners, with the console's
/// client certificate (what an operator of this host with the instance's files could do).
fn super_admin(dir: &Path, ca: &Path) -> AdminClient {
    let first: u16 = std::fs::read_to_string(dir.join("ports"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pair = std::fs::read_to_string(dir.join("console-identity.pem")).unwrap();
    let identity = TlsIdentity {
        ca_pem: std::fs::read_to_string(ca).unwrap(),
        cert_chain_pem: pair.clone(),
        key_pem: pair,
    };
    let internal = (0..3).map(|n| format!("127.0.0.1:{}", first + 4 * n + 1));
    AdminClient::new(AdminConfig::new(internal, Some(identity))).unwrap()
}

/// What `openssl s_client` says of the TLS server at `address`, verified against `ca`, for the
/// name or address `name`.
fn s_client(address: &str, ca: &Path, name: &str) -> String {
    let check = if name.parse::<std::net::IpAddr>().is_ok() {
        "-verify_ip"
    } else {
        "-verify_hostname"
    };
    let out = Command::new("timeout")
        .args(["20", "openssl", "s_client", "-connect", address, "-CAfile"])
        .arg(ca)
        .args(["-verify_return_error", check, name, "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn internet_endpoints_need_a_public_address_and_unenforceable_settings_are_refused() {
    let app = spawn_kafka_app((21100, 21147), None).await;
    let admin = app.activated_admin_client().await;
    let form = instance_form("public", 3, &[("endpoint_exposure", "internet")]);
    let refused = app.post(&admin, "/api/instance_create", &form).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "endpoint_exposure", "{body}");
    // Mutual TLS is offered with TLS only: without it, refused naming the field.
    let form = instance_form(
        "nope",
        3,
        &[("client_auth", "mtls"), ("transit_encryption", "plaintext")],
    );
    let response = app.post(&admin, "/api/instance_create", &form).await;
    assert_eq!(response.status(), 422, "mutual TLS without TLS");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "transit_encryption", "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secured_internet_instance_serves_its_users_over_tls_and_refuses_everyone_else() {
    let test = Instant::now();
    // 127.0.0.2 stands for the public address (a loopback alias on Linux).
    let public = Listener {
        bind: "127.0.0.2".parse().unwrap(),
        host: "127.0.0.2".into(),
    };
    let app = spawn_kafka_app((21150, 21197), Some(public)).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    // Anonymous is refused for the internet.
    let open = instance_form(
        "open",
        3,
        &[
            ("endpoint_exposure", "internet"),
            ("client_auth", "anonymous"),
        ],
    );
    let refused = app.post(&admin, "/api/instance_create", &open).await;
    assert_eq!(refused.status(), 422);
    let (id, bootstrap) =
        create_running(&app, &admin, "secure", &[("endpoint_exposure", "internet")]).await;
    let nodes: Vec<&str> = bootstrap.split(',').collect();
    assert_eq!(nodes.len(), 3, "{bootstrap}");
    assert!(
        nodes.iter().all(|n| n.starts_with("127.0.0.2:")),
        "{bootstrap}"
    );
    // The public listener binds its own address and nothing else.
    for node in &nodes {
        let port = node.rsplit_once(':').unwrap().1;
        let reach = |addr: &str| {
            std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(500))
                .is_ok()
        };
        assert!(reach(node), "{node}");
        assert!(
            !reach(&format!("127.0.0.1:{port}")),
            "bound beyond 127.0.0.2"
        );
    }
    let ca = download_ca(&app, &admin, files.path()).await;
    let ca_arg = ca.display().to_string();

    // One user per mechanism; each produces and consumes with exactly the settings given.
    let alice = create_user(&app, &admin, id, "alice", "SCRAM-SHA-512", files.path()).await;
    let bob = create_user(&app, &admin, id, "bob", "SCRAM-SHA-256", files.path()).await;
    let text = std::fs::read_to_string(&alice.properties).unwrap();
    assert!(text.contains("security.protocol=SASL_SSL"), "{text}");
    assert!(text.contains("sasl.mechanism=SCRAM-SHA-512"), "{text}");
    assert!(
        text.contains(&format!("bootstrap.servers={bootstrap}")),
        "{text}"
    );
    assert!(text.contains("ssl.ca.location=byoc-ca.pem"), "{text}");
    create_topic(&app, &admin, id, "orders", "").await;
    for login in [&alice, &bob] {
        let args = [
            "--properties",
            &props(login),
            "produce",
            "-",
            "orders",
            "200",
        ];
        let (code, out) = client(strings(&args)).await;
        assert_eq!((code, out.as_str()), (0, "200"), "{out}");
    }
    for (login, group) in [(&alice, "g-alice"), (&bob, "g-bob")] {
        let args = [
            "--properties",
            &props(login),
            "consume",
            "-",
            "orders",
            group,
            "200",
        ];
        let (code, out) = client(strings(&args)).await;
        assert_eq!((code, out.as_str()), (0, "200 exact"), "{out}");
    }

    // Refused: no credentials, TLS without SASL, a wrong password, the wrong mechanism for
    // the user, SASL_PLAINTEXT on the TLS port.
    let sasl = |protocol: &str, mechanism: &str, password: &str| {
        let mut args = strings(&["--security-protocol", protocol]);
        if protocol == "SASL_SSL" {
            args.extend(strings(&["--ca", &ca_arg]));
        }
        args.extend(strings(&[
            "--mechanism",
            mechanism,
            "--username",
            "alice",
            "--password",
            password,
            "auth",
            &bootstrap,
        ]));
        args
    };
    let refusals = vec![
        strings(&["auth", &bootstrap]),
        strings(&[
            "--security-protocol",
            "SSL",
            "--ca",
            &ca_arg,
            "auth",
            &bootstrap,
        ]),
        sasl("SASL_SSL", "SCRAM-SHA-512", "not-her-password"),
        sasl("SASL_SSL", "SCRAM-SHA-256", &alice.password),
        sasl("SASL_PLAINTEXT", "SCRAM-SHA-512", &alice.password),
    ];
    for args in refusals {
        let (code, out) = client(args.clone()).await;
        assert_eq!(code, 3, "{args:?} was not refused: {out}");
    }
    // The same check passes with the right settings (so the refusals mean something).
    let (code, out) = client(sasl("SASL_SSL", "SCRAM-SHA-512", &alice.password)).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // A client that finishes SCRAM with a wrong proof and goes on is not served.
    for (mechanism, user) in [("SCRAM-SHA-512", "alice"), ("SCRAM-SHA-256", "bob")] {
        let out = Command::new("timeout")
            .args(["60", "python3", RAW_SCRAM, "--ca", &ca_arg, "--mechanism"])
            .args([mechanism, nodes[0], user])
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
        ])
        .args([alice.password.as_str(), nodes[0], "alice"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&right.stdout);
    assert_eq!(right.status.code(), Some(0), "{said}");

    // openssl verifies the chain and the address of every node against the downloaded CA.
    for node in &nodes {
        let said = s_client(node, &ca, "127.0.0.2");
        assert!(said.contains("Verification: OK"), "{said}");
        let wrong = s_client(node, &ca, "127.0.0.1");
        assert!(!wrong.contains("Verification: OK"), "{wrong}");
    }

    // A deleted user's open session ends at its next re-authentication, without a restart.
    create_topic(&app, &admin, id, "bob-ticks", "").await;
    let stop = files.path().join("stop-bob");
    let session = tokio::spawn(client(strings(&[
        "--properties",
        &props(&bob),
        "steady",
        "-",
        "bob-ticks",
        "150",
        stop.to_str().unwrap(),
    ])));
    let panel_offsets = |topic: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let panel: Value = app
                .post(admin, "/api/instance_kafka", &[("id", id.to_string())])
                .await
                .json()
                .await
                .unwrap();
            panel["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["name"] == topic)
                .flat_map(|t| t["partitions"].as_array().cloned().unwrap_or_default())
                .map(|p| p["latest_offset"].as_i64().unwrap_or(0))
                .sum::<i64>()
        }
    };
    wait_until(
        "bob's producer logged in",
        Duration::from_secs(60),
        || async { panel_offsets("bob-ticks").await > 0 },
    )
    .await;
    let deleted = app
        .post(
            &admin,
            "/api/kafka_user_delete",
            &[("id", id.to_string()), ("username", "bob".into())],
        )
        .await;
    assert_eq!(deleted.status(), 200);
    let deleted_at = Instant::now();
    // A new login is refused at once.
    let (code, out) = client(strings(&["--properties", &props(&bob), "auth", "-"])).await;
    assert_eq!(code, 3, "{out}");

    // Meanwhile: a SCRAM user added behind the console's back, through Kafka's Admin API as a
    // super user would, is removed by the control loop and audited.
    let dir = instance_dir(&app, id);
    let kafka = super_admin(&dir, &ca);
    let intruder = byoc_engine::admin::ScramUpsert {
        user: "intruder".into(),
        mechanism: byoc_engine::admin::ScramMechanism::Sha512,
        iterations: 8192,
        salt: vec![7; 16],
        salted_password: vec![9; 64],
    };
    let added = kafka
        .alter_user_scram_credentials(&[intruder], &[])
        .await
        .unwrap();
    assert!(added.values().all(Result::is_ok), "{added:?}");
    let users = || async {
        let seen = kafka.describe_user_scram_credentials(None).await.unwrap();
        seen.into_iter()
            .filter(|(_, c)| c.as_ref().is_ok_and(|c| !c.is_empty()))
            .map(|(u, _)| u)
            .collect::<Vec<_>>()
    };
    // Removed and audited by a pass of the control loop (every 2 s): the audit entry is
    // written only when the loop found the user on the cluster and deleted it.
    let removed = wait_until(
        "the intruder removed and audited",
        Duration::from_secs(30),
        || async {
            audit_details(&app, "kafka_users_restore")
                .await
                .iter()
                .any(|d| d.contains("removed intruder"))
        },
    )
    .await;
    println!(
        "a user added behind the console's back removed and audited after {} ms",
        removed.as_millis()
    );
    wait_until(
        "only alice on the cluster",
        Duration::from_secs(10),
        || async { users().await == ["alice"] },
    )
    .await;

    // A topic's retention set in the console is what Kafka reports.
    create_topic(&app, &admin, id, "hourly", "1").await;
    // Asked of any node: one that has not yet heard of a new topic or setting answers
    // UNKNOWN_TOPIC_OR_PARTITION or the old value for a moment.
    let retention_is = |topic: &'static str, wanted: &'static str| {
        let kafka = &kafka;
        async move {
            let limit = Duration::from_secs(30);
            let waited = wait_until("the retention Kafka reports", limit, || async {
                let resource = ConfigResource::Topic(topic.to_string());
                let entry = kafka.describe_config(&resource, "retention.ms").await;
                entry.ok().flatten().and_then(|e| e.value).as_deref() == Some(wanted)
            })
            .await;
            println!(
                "{topic}: Kafka reports retention.ms {wanted} after {} ms",
                waited.as_millis()
            );
        }
    };
    retention_is("hourly", "3600000").await;
    let set = app
        .post(
            &admin,
            "/api/topic_retention",
            &[
                ("id", id.to_string()),
                ("topic", "hourly".into()),
                ("retention_hours", "forever".into()),
            ],
        )
        .await;
    assert_eq!(set.status(), 200);
    retention_is("hourly", "-1").await;
    // Kafka's default (7 days) where the console set none.
    retention_is("orders", "604800000").await;
    assert_eq!(audit_details(&app, "topic_retention").await.len(), 1);

    // Bob's session, logged in before the delete, is cut at its re-authentication.
    let (code, out) = session.await.unwrap();
    let cut_after = deleted_at.elapsed();
    let _ = std::fs::write(&stop, "");
    let reauth = Duration::from_millis(byoc_engine::config::REAUTH_MS);
    println!(
        "a deleted user's open session ended {} ms after the delete (connections.max.reauth.ms \
         {} ms): {code} {}",
        cut_after.as_millis(),
        reauth.as_millis(),
        out.lines().last().unwrap_or("")
    );
    assert_eq!(code, 3, "the session went on as a deleted user: {out}");
    assert!(
        cut_after < reauth + Duration::from_secs(15),
        "{cut_after:?}"
    );
    // Alice still gets in, and no node was restarted for any of it.
    let (code, _) = client(strings(&["--properties", &props(&alice), "auth", "-"])).await;
    assert_eq!(code, 0);
    assert!(audit_details(&app, "node_roll").await.is_empty());
    assert!(audit_details(&app, "broker_restart").await.is_empty());
    println!("secured instance test: {} s", test.elapsed().as_secs());
}

/// The serial numbers of the certificates in a key store file.
fn serial_of(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn node_pids(dir: &Path) -> Vec<Option<i32>> {
    (0..3)
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(format!("node-{n}/node.pid"))).ok()?;
            text.trim().parse().ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_near_their_end_are_renewed_by_a_roll_under_a_producer_that_loses_nothing() {
    let test = Instant::now();
    let app = spawn_kafka_app((21200, 21247), None).await;
    // The instance is made 61 days ago (by the console's clock), so that its certificates
    // (90 days) are within their last 30 days once the clock comes to today; today's date, so
    // that the renewed ones are valid for clients and nodes, which read the real clock.
    let today = time::OffsetDateTime::now_utc();
    let made = today - time::Duration::days(61);
    app.clock.set(made);
    let admin = app.admin_client().await;
    let key = common::product_key(&app, |key| {
        key.issued_at = made - time::Duration::days(1);
        key.starts_at = made - time::Duration::days(1);
        key.expires_at = today + time::Duration::days(300);
    });
    assert_eq!(app.apply_key(&admin, &key).await.status(), 200);
    let files = tempfile::tempdir().unwrap();
    let (id, bootstrap) = create_running(&app, &admin, "renewed", &[]).await;
    download_ca(&app, &admin, files.path()).await;
    let login = create_user(&app, &admin, id, "steady", "SCRAM-SHA-512", files.path()).await;
    create_topic(&app, &admin, id, "ticks", "").await;
    let dir = instance_dir(&app, id);
    let before: Vec<String> = ["node.pem", "client-listener.pem", "console-identity.pem"]
        .iter()
        .map(|f| serial_of(&dir.join(f)))
        .collect();
    let pids_before = node_pids(&dir);
    let stop = files.path().join("stop");
    let producer = tokio::spawn(client(strings(&[
        "--properties",
        &props(&login),
        "steady",
        "-",
        "ticks",
        "400",
        stop.to_str().unwrap(),
    ])));
    wait_until("the producer running", Duration::from_secs(60), || async {
        produced(&app, &admin, id, "ticks").await > 100
    })
    .await;
    // Nothing was due before the clock moved: no renewal, no roll.
    assert!(audit_details(&app, "certificate_renew").await.is_empty());
    assert!(audit_details(&app, "node_roll").await.is_empty());
    let rolled = Instant::now();
    app.clock.set(today);
    wait_until("renewed and rolled", Duration::from_secs(400), || async {
        audit_details(&app, "node_roll")
            .await
            .iter()
            .any(|d| d.starts_with("roll done"))
    })
    .await;
    let roll_took = rolled.elapsed();
    std::fs::write(&stop, "").unwrap();
    let (code, out) = producer.await.unwrap();
    assert_eq!(code, 0, "{out}");
    let (sent, acked, failed, gap) = steady_report(&out);
    println!(
        "renewal roll under an acks=all producer: {} s; sent {sent}, acknowledged {acked}, \
         failed {failed}; longest gap between acknowledgements {gap} ms",
        roll_took.as_secs()
    );
    assert!(sent > 1000, "{out}");
    assert_eq!((acked, failed), (sent, 0), "{out}");
    let args = [
        "--properties",
        &props(&login),
        "consume",
        "-",
        "ticks",
        "check",
    ];
    let mut args = strings(&args);
    args.push(sent.to_string());
    let (code, read) = client(args).await;
    assert_eq!((code, read.clone()), (0, format!("{sent} exact")), "{read}");

    // Every certificate is new; every node was restarted once, one at a time.
    let after: Vec<String> = ["node.pem", "client-listener.pem", "console-identity.pem"]
        .iter()
        .map(|f| serial_of(&dir.join(f)))
        .collect();
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old, new);
    }
    let renewals = audit_details(&app, "certificate_renew").await;
    assert_eq!(renewals.len(), 1, "{renewals:?}");
    for what in ["nodes'", "client listener's", "console's"] {
        assert!(renewals[0].contains(what), "{}", renewals[0]);
    }
    assert!(
        renewals[0].contains("renewal before expiry"),
        "{}",
        renewals[0]
    );
    let rolls = audit_details(&app, "node_roll").await;
    println!("{}", rolls.join("\n"));
    assert_eq!(rolls.len(), 4, "three nodes and the end: {rolls:?}");
    let pids_after = node_pids(&dir);
    for (old, new) in pids_before.iter().zip(&pids_after) {
        assert_ne!(old, new, "{pids_before:?} {pids_after:?}");
    }
    // The node's served certificate is the new one (checked against the CA).
    let ca = files.path().join("byoc-ca.pem");
    let first = bootstrap.split(',').next().unwrap();
    let said = s_client(first, &ca, "127.0.0.1");
    assert!(said.contains("Verification: OK"), "{said}");
    assert_eq!(bootstrap_of(&app, id).await, bootstrap);
    println!("renewal test: {} s", test.elapsed().as_secs());
}

/// Messages in `topic` (the partitions' latest offsets), as the console's panel shows them.
async fn produced(app: &TestApp, admin: &reqwest::Client, id: i64, topic: &str) -> i64 {
    let panel: Value = app
        .post(admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    panel["topics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["name"] == topic)
        .flat_map(|t| t["partitions"].as_array().cloned().unwrap_or_default())
        .map(|p| p["latest_offset"].as_i64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_facing_host_gets_a_new_certificate_and_bootstrap_after_a_roll_that_survives_a_console_kill(
) {
    use common::console_process::{activated, detail, kafka_flags, post};
    let test = Instant::now();
    let flags = kafka_flags("21250-21297");
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
        assert_ne!(d["summary"]["state"], "abnormal", "{d}");
        assert!(started.elapsed() < CREATE_LIMIT, "{d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(before.starts_with("127.0.0.1:"), "{before}");
    let wanted = before.replace("127.0.0.1:", "localhost:");
    let dir = console.instance_dir(&id);
    let pids_before = node_pids(&dir);
    let db = console.data.join("console.db");
    let rolls = move || {
        let db = db.clone();
        async move {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db)
                .read_only(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            let details: Vec<(String, String)> = sqlx::query_as(
                "SELECT action, COALESCE(detail, '') FROM audit_log WHERE action IN \
                 ('node_roll', 'certificate_renew', 'instance_endpoint') ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            details
        }
    };

    // The administrator gives clients a name for this host.
    console.stop_gracefully();
    let mut renamed = flags.clone();
    renamed.extend(["--broker-host".to_string(), "localhost".to_string()]);
    console.restart(&renamed).await;
    let changed = Instant::now();
    // Killed once the first node has rolled: the next console finishes the roll.
    wait_until("the first node rolled", Duration::from_secs(120), || {
        let rolls = rolls.clone();
        async move { rolls().await.iter().any(|(a, _)| a == "node_roll") }
    })
    .await;
    console.kill();
    let after_kill = rolls().await;
    let rolled_before_kill = after_kill.iter().filter(|(a, _)| a == "node_roll").count();
    console.restart(&renamed).await;
    let started = Instant::now();
    loop {
        let d = detail(&client, &base, &id).await;
        if bootstrap(&d) == wanted && d["summary"]["state"] == "running" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "new host: bootstrap {wanted} recorded {} s after the console came up on it \
         ({rolled_before_kill} node(s) rolled before the console was killed)",
        changed.elapsed().as_secs()
    );
    let log = rolls().await;
    for (action, detail) in &log {
        println!("{action}: {detail}");
    }
    let restarts = log
        .iter()
        .filter(|(a, d)| a == "node_roll" && d.starts_with("roll: node"))
        .count();
    assert_eq!(
        restarts, 3,
        "each node restarted once across the two consoles: {log:?}"
    );
    assert!(log
        .iter()
        .any(|(a, d)| a == "certificate_renew" && d.contains("the endpoint's addresses changed")));
    assert!(log
        .iter()
        .any(|(a, d)| a == "instance_endpoint" && d.contains(&wanted)));
    let pids_after = node_pids(&dir);
    for (old, new) in pids_before.iter().zip(&pids_after) {
        assert_ne!(old, new, "{pids_before:?} {pids_after:?}");
    }

    // The certificate names the new host; every node advertises it.
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
    for node in wanted.split(',') {
        let said = s_client(node, &ca, "localhost");
        assert!(said.contains("Verification: OK"), "{node}: {said}");
    }
    for n in 0..3 {
        let properties =
            std::fs::read_to_string(dir.join(format!("node-{n}/server.properties"))).unwrap();
        assert!(
            properties.contains("advertised.listeners=CLIENT://localhost:"),
            "{properties}"
        );
    }
    console.stop_gracefully();
    println!("host change test: {} s", test.elapsed().as_secs());
}
