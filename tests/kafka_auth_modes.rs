//! The client authentication modes added for #33 on real Apache Kafka 4.4 clusters (three JVM
//! nodes each) made by the console, with a client nobody here wrote (confluent-kafka,
//! `tests/kafka/client.py`): SASL/PLAIN checked by the console's callback handler
//! (kafka/plugins/plain-auth, built by scripts/build_kafka_plugins.sh) with and without TLS.
//! Each client uses exactly the settings the console shows. Needs Kafka's jars and the plug-in
//! (scripts/setup.sh). Ports 23000-23999, 48 per instance, one range per test.

mod common;

use app::server::kafka::{KafkaSettings, Listener};
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::KafkaInstall;
use common::{instance_form, spawn_app_with, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
/// A JVM start and the quorum's election, with two clusters on two shared cores.
const CREATE_LIMIT: Duration = Duration::from_secs(300);

async fn spawn_kafka_app(ports: (u16, u16)) -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports,
            private: Listener::loopback(),
            public: None,
            aku_kib_per_second: 30 * 1024,
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
    let form = instance_form(name, 3, changes);
    let response = app.post(client, "/api/instance_create", &form).await;
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
    let bootstrap = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, bootstrap)
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

/// A Kafka user made through the console: the password shown once and its client.properties
/// (exactly as shown) written next to the CA.
struct KafkaLogin {
    password: String,
    properties: PathBuf,
}

fn props(login: &KafkaLogin) -> String {
    login.properties.display().to_string()
}

async fn user_call(
    app: &TestApp,
    admin: &reqwest::Client,
    path: &str,
    form: &[(&'static str, String)],
    file: &Path,
) -> KafkaLogin {
    let response = app.post(admin, path, form).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let user: Value = serde_json::from_str(&body).unwrap();
    std::fs::write(file, user["client_properties"].as_str().unwrap()).unwrap();
    KafkaLogin {
        password: user["password"].as_str().unwrap().to_string(),
        properties: file.to_path_buf(),
    }
}

/// A new user may do nothing (ACLs): these tests' users produce and consume every topic.
async fn grant_all(app: &TestApp, admin: &reqwest::Client, id: i64, username: &str) {
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
        let granted = app.post(admin, "/api/kafka_acl_preset", &form).await;
        let status = granted.status();
        let body = granted.text().await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

async fn create_user(
    app: &TestApp,
    admin: &reqwest::Client,
    id: i64,
    username: &str,
    mechanism: &str,
    dir: &Path,
) -> KafkaLogin {
    let form = [
        ("id", id.to_string()),
        ("username", username.to_string()),
        ("mechanism", mechanism.to_string()),
    ];
    let file = dir.join(format!("{username}.properties"));
    let login = user_call(app, admin, "/api/kafka_user_create", &form, &file).await;
    grant_all(app, admin, id, username).await;
    login
}

async fn download_ca(app: &TestApp, client: &reqwest::Client, dir: &Path) -> PathBuf {
    let response = client.get(app.url("/kafka/ca.pem")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let path = dir.join("byoc-ca.pem");
    std::fs::write(&path, response.text().await.unwrap()).unwrap();
    path
}

async fn create_topic(app: &TestApp, admin: &reqwest::Client, id: i64, topic: &str) {
    let form = [
        ("id", id.to_string()),
        ("topic", topic.to_string()),
        ("partitions", "3".to_string()),
        ("retention_hours", String::new()),
    ];
    let created = app.post(admin, "/api/topic_create", &form).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT COALESCE(detail, '') FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn instance_dir(app: &TestApp, id: i64) -> PathBuf {
    app.dir.path().join(format!("data/kafka/instance-{id}"))
}

/// Produces and consumes `count` messages on `topic` with the properties file.
async fn produce_and_consume(login: &KafkaLogin, topic: &str, group: &str, count: &str) {
    let args = ["--properties", &props(login), "produce", "-", topic, count];
    let (code, out) = client(strings(&args)).await;
    assert_eq!((code, out.as_str()), (0, count), "{out}");
    let args = [
        "--properties",
        &props(login),
        "consume",
        "-",
        topic,
        group,
        count,
    ];
    let (code, out) = client(strings(&args)).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{count} exact").as_str()),
        "{out}"
    );
}

/// PLAIN login flags against `bootstrap`, with TLS when `ca` is given.
fn plain_auth(bootstrap: &str, ca: Option<&str>, user: &str, password: &str) -> Vec<String> {
    let mut args = match ca {
        Some(ca) => strings(&["--security-protocol", "SASL_SSL", "--ca", ca]),
        None => strings(&["--security-protocol", "SASL_PLAINTEXT"]),
    };
    args.extend(strings(&[
        "--mechanism",
        "PLAIN",
        "--username",
        user,
        "--password",
        password,
        "auth",
        bootstrap,
    ]));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_with_tls_logs_in_through_the_hash_handler_and_refuses_everyone_else() {
    let test = Instant::now();
    let app = spawn_kafka_app((23000, 23047)).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, bootstrap) =
        create_running(&app, &admin, "plain-tls", &[("client_auth", "sasl_plain")]).await;
    let ca = download_ca(&app, &admin, files.path()).await;
    let ca_arg = ca.display().to_string();

    // A SCRAM mechanism is refused for a PLAIN instance, naming the field.
    let form = [
        ("id", id.to_string()),
        ("username", "wrong".to_string()),
        ("mechanism", "SCRAM-SHA-512".to_string()),
    ];
    let refused = app.post(&admin, "/api/kafka_user_create", &form).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "mechanism", "{body}");

    let alice = create_user(&app, &admin, id, "alice", "PLAIN", files.path()).await;
    let bob = create_user(&app, &admin, id, "bob", "PLAIN", files.path()).await;
    let text = std::fs::read_to_string(&alice.properties).unwrap();
    assert!(text.contains("security.protocol=SASL_SSL"), "{text}");
    assert!(text.contains("sasl.mechanism=PLAIN"), "{text}");
    assert!(text.contains("PlainLoginModule required"), "{text}");
    assert!(text.contains("ssl.ca.location=byoc-ca.pem"), "{text}");
    // The panel lists them as PLAIN users, and offers PLAIN only.
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(panel["user_mechanisms"], serde_json::json!(["PLAIN"]));
    assert_eq!(panel["users"][0]["mechanism"], "PLAIN", "{panel}");
    assert!(panel["connect"]["authentication"]
        .as_str()
        .unwrap()
        .contains("SASL/PLAIN"));

    // What the nodes hold: hashes in an owner-only file, never a password; the properties no
    // user_ entry.
    let dir = instance_dir(&app, id);
    for node in 0..3 {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("node-{node}/plain-users"));
        let held = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(held.contains("\nalice:pbkdf2-sha512:100000:"), "{held}");
        assert!(!held.contains(&alice.password) && !held.contains(&bob.password));
        let properties =
            std::fs::read_to_string(dir.join(format!("node-{node}/server.properties"))).unwrap();
        assert!(!properties.contains("user_"), "{properties}");
        assert!(!properties.contains(&alice.password));
    }

    create_topic(&app, &admin, id, "orders").await;
    produce_and_consume(&alice, "orders", "g-alice", "200").await;

    // Refused: anonymous against SASL (TLS only), a wrong password, another user's password,
    // an unknown user, PLAIN without TLS on the TLS port.
    let refusals = vec![
        (
            "anonymous",
            strings(&[
                "--security-protocol",
                "SSL",
                "--ca",
                &ca_arg,
                "auth",
                &bootstrap,
            ]),
        ),
        (
            "wrong password",
            plain_auth(&bootstrap, Some(&ca_arg), "alice", "not-her-password"),
        ),
        (
            "another user's password",
            plain_auth(&bootstrap, Some(&ca_arg), "alice", &bob.password),
        ),
        (
            "unknown user",
            plain_auth(&bootstrap, Some(&ca_arg), "carol", &alice.password),
        ),
        (
            "no TLS on the TLS port",
            plain_auth(&bootstrap, None, "alice", &alice.password),
        ),
    ];
    for (what, args) in refusals {
        let (code, out) = client(args.clone()).await;
        assert_eq!(code, 3, "{what}: {args:?} was not refused: {out}");
        println!("refused ({what}): {}", out.lines().last().unwrap_or(""));
    }
    let (code, out) = client(plain_auth(
        &bootstrap,
        Some(&ca_arg),
        "alice",
        &alice.password,
    ))
    .await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // A rotated password: the old one is refused at once, the new one logs in (no restart).
    let rotated = user_call(
        &app,
        &admin,
        "/api/kafka_user_rotate",
        &[("id", id.to_string()), ("username", "alice".into())],
        &files.path().join("alice-2.properties"),
    )
    .await;
    let (code, _) = client(plain_auth(
        &bootstrap,
        Some(&ca_arg),
        "alice",
        &alice.password,
    ))
    .await;
    assert_eq!(code, 3, "the old password still logs in");
    let (code, out) = client(strings(&["--properties", &props(&rotated), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // A deleted user's open session ends at its next re-authentication, without a restart.
    create_topic(&app, &admin, id, "bob-ticks").await;
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
    let offsets = || async {
        let panel: Value = app
            .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
            .await
            .json()
            .await
            .unwrap();
        panel["topics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["name"] == "bob-ticks")
            .flat_map(|t| t["partitions"].as_array().cloned().unwrap_or_default())
            .map(|p| p["latest_offset"].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    wait_until(
        "bob's producer logged in",
        Duration::from_secs(60),
        || async { offsets().await > 0 },
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
    let (code, out) = client(strings(&["--properties", &props(&bob), "auth", "-"])).await;
    assert_eq!(code, 3, "a new login of the deleted user: {out}");
    let (code, out) = session.await.unwrap();
    let cut_after = deleted_at.elapsed();
    let _ = std::fs::write(&stop, "");
    let reauth = Duration::from_millis(byoc_engine::config::REAUTH_MS);
    println!(
        "a deleted PLAIN user's open session ended {} ms after the delete \
         (connections.max.reauth.ms {} ms): {code} {}",
        cut_after.as_millis(),
        reauth.as_millis(),
        out.lines().last().unwrap_or("")
    );
    assert_eq!(code, 3, "the session went on as a deleted user: {out}");
    assert!(
        cut_after < reauth + Duration::from_secs(15),
        "{cut_after:?}"
    );

    // A node's file removed by hand is put back by the control loop.
    let file = dir.join("node-1/plain-users");
    std::fs::remove_file(&file).unwrap();
    wait_until(
        "the users file put back",
        Duration::from_secs(30),
        || async { file.exists() },
    )
    .await;
    let (code, out) = client(strings(&["--properties", &props(&rotated), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // Each change audited; no node restarted for any of it.
    assert_eq!(audit_details(&app, "kafka_user_create").await.len(), 2);
    assert_eq!(audit_details(&app, "kafka_user_rotate").await.len(), 1);
    let deletes = audit_details(&app, "kafka_user_delete").await;
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].starts_with("bob and its "), "{deletes:?}");
    assert!(audit_details(&app, "node_roll").await.is_empty());
    println!("PLAIN with TLS: {} s", test.elapsed().as_secs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_without_tls_serves_its_users_and_refuses_wrong_passwords() {
    let app = spawn_kafka_app((23050, 23097)).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, bootstrap) = create_running(
        &app,
        &admin,
        "plain-clear",
        &[
            ("client_auth", "sasl_plain"),
            ("transit_encryption", "plaintext"),
        ],
    )
    .await;
    let dave = create_user(&app, &admin, id, "dave", "PLAIN", files.path()).await;
    let text = std::fs::read_to_string(&dave.properties).unwrap();
    assert!(text.contains("security.protocol=SASL_PLAINTEXT"), "{text}");
    assert!(text.contains("sasl.mechanism=PLAIN"), "{text}");
    assert!(!text.contains("ssl."), "{text}");
    create_topic(&app, &admin, id, "events").await;
    produce_and_consume(&dave, "events", "g-dave", "100").await;
    for (what, args) in [
        ("anonymous", strings(&["auth", &bootstrap])),
        (
            "wrong password",
            plain_auth(&bootstrap, None, "dave", "nope"),
        ),
        (
            "unknown user",
            plain_auth(&bootstrap, None, "erin", &dave.password),
        ),
    ] {
        let (code, out) = client(args).await;
        assert_eq!(code, 3, "{what} was not refused: {out}");
        println!(
            "refused PLAIN without TLS ({what}): {}",
            out.lines().last().unwrap_or("")
        );
    }
    // A user without rules logs in and may do nothing; no user gives itself rights or users.
    let form = [
        ("id", id.to_string()),
        ("username", "frank".to_string()),
        ("mechanism", "PLAIN".to_string()),
    ];
    let frank = user_call(
        &app,
        &admin,
        "/api/kafka_user_create",
        &form,
        &files.path().join("frank.properties"),
    )
    .await;
    let (code, out) = client(strings(&["--properties", &props(&frank), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");
    let (code, out) = client(strings(&[
        "--properties",
        &props(&frank),
        "produce",
        "-",
        "events",
        "5",
    ]))
    .await;
    assert_eq!((code, out.as_str()), (0, "0"), "frank without rules: {out}");
    println!("refused PLAIN (a user without an access rule): produce acknowledged {out} of 5");
    for (who, login) in [("dave", &dave), ("frank", &frank)] {
        let (code, out) = client(strings(&[
            "--properties",
            &props(login),
            "selfgrant",
            "-",
            who,
        ]))
        .await;
        assert_eq!(code, 0, "{out}");
        for attempt in ["create_acls", "create_user"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(attempt))
                .unwrap_or_default();
            assert!(
                line.starts_with(&format!("{attempt} refused: CLUSTER_AUTHORIZATION_FAILED"))
                    || line.starts_with(&format!("{attempt} refused: TOPIC_AUTHORIZATION_FAILED")),
                "{who} {attempt}: {out}"
            );
            println!("refused PLAIN ({who} {attempt} for itself): {line}");
        }
    }
}

/// `alice.properties` as the console showed it, pointed at another key and certificate file
/// (the same settings otherwise): what a client holding that file would use.
fn properties_with_pem(login: &KafkaLogin, user: &str, other: &str, pem: &str) -> KafkaLogin {
    let dir = login.properties.parent().unwrap();
    std::fs::write(dir.join(format!("{other}.pem")), pem).unwrap();
    let text = std::fs::read_to_string(&login.properties)
        .unwrap()
        .replace(&format!("{user}.pem"), &format!("{other}.pem"));
    let properties = dir.join(format!("{other}.properties"));
    std::fs::write(&properties, text).unwrap();
    KafkaLogin {
        password: String::new(),
        properties,
    }
}

/// A mutual TLS user made (or renewed) through the console: its key and certificate saved as
/// the page says (`USER.pem`), its properties beside it.
async fn certificate_call(
    app: &TestApp,
    admin: &reqwest::Client,
    path: &str,
    form: &[(&'static str, String)],
    dir: &Path,
    file: &str,
) -> (KafkaLogin, Value) {
    let response = app.post(admin, path, form).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let user: Value = serde_json::from_str(&body).unwrap();
    let username = user["username"].as_str().unwrap();
    let pem = user["certificate_pem"].as_str().unwrap();
    std::fs::write(dir.join(format!("{username}.pem")), pem).unwrap();
    let properties = dir.join(format!("{file}.properties"));
    std::fs::write(&properties, user["client_properties"].as_str().unwrap()).unwrap();
    (
        KafkaLogin {
            password: String::new(),
            properties,
        },
        user,
    )
}

/// A CA of its own (openssl) and a client certificate it signed with the subject the console
/// would give `user` on this instance: trusted by nobody here.
fn foreign_certificate(dir: &Path, subject: &str) -> String {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "foreign-ca.key",
        "-out",
        "foreign-ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=BYOC environment console CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "foreign.key",
        "-out",
        "foreign.csr",
        "-subj",
        subject,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "foreign.csr",
        "-CA",
        "foreign-ca.pem",
        "-CAkey",
        "foreign-ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        "foreign.crt",
    ]);
    let key = std::fs::read_to_string(dir.join("foreign.key")).unwrap();
    let cert = std::fs::read_to_string(dir.join("foreign.crt")).unwrap();
    format!("{key}{cert}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_maps_only_certificates_of_this_instance_to_its_users() {
    let test = Instant::now();
    let app = spawn_kafka_app((23100, 23147)).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    // Refused with the reason: mutual TLS without TLS.
    let form = instance_form(
        "no-tls",
        3,
        &[("client_auth", "mtls"), ("transit_encryption", "plaintext")],
    );
    let refused = app.post(&admin, "/api/instance_create", &form).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "transit_encryption", "{body}");

    let (id, bootstrap) = create_running(&app, &admin, "mtls", &[("client_auth", "mtls")]).await;
    let ca = download_ca(&app, &admin, files.path()).await;
    let ca_arg = ca.display().to_string();

    let form = [
        ("id", id.to_string()),
        ("username", "alice".to_string()),
        ("mechanism", "certificate".to_string()),
    ];
    let (alice, shown) = certificate_call(
        &app,
        &admin,
        "/api/kafka_user_create",
        &form,
        files.path(),
        "alice",
    )
    .await;
    grant_all(&app, &admin, id, "alice").await;
    let text = std::fs::read_to_string(&alice.properties).unwrap();
    assert!(text.contains("security.protocol=SSL\n"), "{text}");
    assert!(
        text.contains("ssl.certificate.location=alice.pem\n"),
        "{text}"
    );
    assert!(text.contains("ssl.key.location=alice.pem\n"), "{text}");
    assert!(!text.contains("sasl."), "{text}");
    assert_eq!(shown["password"], "");
    // 30 days, recorded by serial and dates only: no key anywhere in the database.
    let expires = shown["certificate_expires_at"].as_i64().unwrap();
    let serial = shown["certificate_serial"].as_str().unwrap().to_string();
    let recorded: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT serial, not_before, not_after FROM kafka_client_certificates \
         WHERE username = 'alice'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    // Valid from an hour back (clients a little behind) for 30 days.
    assert_eq!(
        recorded,
        [(serial.clone(), expires - 30 * 86_400 - 3600, expires)]
    );
    let pem = shown["certificate_pem"].as_str().unwrap();
    let key_line = pem.lines().nth(1).unwrap();
    // Nowhere in the console's data directory: neither its database (and journal) nor the
    // instance's files.
    assert!(
        !holds(app.dir.path(), key_line.as_bytes()),
        "the user's key is kept"
    );
    // The subject names the user and this instance; openssl reads it as Kafka maps it.
    let subject = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(files.path().join("alice.pem"))
        .output()
        .unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout).trim().to_string();
    assert_eq!(subject, format!("subject=CN=alice,OU=byoc-instance-{id}"));
    // The panel lists the user with the expiry.
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(panel["users"][0]["mechanism"], "certificate", "{panel}");
    assert_eq!(panel["users"][0]["certificate_expires_at"], expires);
    assert_eq!(panel["user_mechanisms"], serde_json::json!(["certificate"]));

    create_topic(&app, &admin, id, "orders").await;
    produce_and_consume(&alice, "orders", "g-alice", "200").await;

    // Renewed: a new certificate; the old one still logs in until it expires.
    let (renewed, again) = certificate_call(
        &app,
        &admin,
        "/api/kafka_user_rotate",
        &[("id", id.to_string()), ("username", "alice".into())],
        files.path(),
        "alice-renewed",
    )
    .await;
    assert_ne!(again["certificate_serial"].as_str().unwrap(), serial);
    let (code, out) = client(strings(&["--properties", &props(&renewed), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // The REST API issues one too (operators; 201), refuses a viewer (403), and it logs in.
    let token = |role: &'static str| {
        let admin = admin.clone();
        let url = app.url("/api/service_account_create");
        async move {
            let made: Value = admin
                .post(url)
                .form(&[("name", format!("{role}-bot")), ("role", role.to_string())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            made["token"].as_str().unwrap().to_string()
        }
    };
    let (operator, viewer) = (token("operator").await, token("viewer").await);
    let issue_url = app.url(&format!(
        "/api/v1/instances/{id}/kafka-users/alice/certificates"
    ));
    let rest = reqwest::Client::new();
    let refused = rest
        .post(&issue_url)
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let issued = rest
        .post(&issue_url)
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let by_rest: Value = issued.json().await.unwrap();
    let rest_pem = by_rest["certificate_pem"].as_str().unwrap();
    assert!(rest_pem.contains("PRIVATE KEY"), "{by_rest}");
    let by_rest_login = properties_with_pem(&alice, "alice", "alice-rest", rest_pem);
    let (code, out) = client(strings(&[
        "--properties",
        &props(&by_rest_login),
        "auth",
        "-",
    ]))
    .await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");
    let listed: Value = rest
        .get(&issue_url)
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");

    // Refused: no certificate; a certificate of another CA with the very subject; an expired
    // certificate of this CA; alice's certificate for another instance; the nodes' and the
    // console's own certificates (super users on the internal listener).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let authority = app::server::kafka::tls::Authority::load_or_create(&app.pool, now)
        .await
        .unwrap();
    let unit = format!("byoc-instance-{id}");
    let expired = authority
        .issue_user(&unit, "alice", now - 40 * 86_400)
        .unwrap();
    assert!(expired.not_after < now);
    let elsewhere = authority
        .issue_user(&format!("byoc-instance-{}", id + 1), "alice", now)
        .unwrap();
    let foreign = foreign_certificate(files.path(), &format!("/OU={unit}/CN=alice"));
    let dir = instance_dir(&app, id);
    let node_pem = std::fs::read_to_string(dir.join("node.pem")).unwrap();
    let console_pem = std::fs::read_to_string(dir.join("console-identity.pem")).unwrap();
    let refusals = [
        ("another CA", foreign),
        (
            "expired",
            format!("{}{}", expired.key_pem, expired.cert_pem),
        ),
        (
            "another instance",
            format!("{}{}", elsewhere.key_pem, elsewhere.cert_pem),
        ),
        ("the nodes' certificate", node_pem),
        ("the console's certificate", console_pem),
    ];
    let (code, out) = client(strings(&[
        "--security-protocol",
        "SSL",
        "--ca",
        &ca_arg,
        "auth",
        &bootstrap,
    ]))
    .await;
    assert_eq!(code, 3, "no certificate was not refused: {out}");
    println!(
        "refused (no certificate): {}",
        out.lines().last().unwrap_or("")
    );
    for (n, (what, pem)) in refusals.iter().enumerate() {
        let login = properties_with_pem(&alice, "alice", &format!("refused-{n}"), pem);
        let (code, out) = client(strings(&["--properties", &props(&login), "auth", "-"])).await;
        assert_eq!(code, 3, "{what} was not refused: {out}");
        println!("refused ({what}): {}", out.lines().last().unwrap_or(""));
    }
    // Still in: alice's own.
    let (code, out) = client(strings(&["--properties", &props(&alice), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");

    // A user without rules logs in and may do nothing; no user can give itself rights or a
    // user of its own.
    let (bob, _) = certificate_call(
        &app,
        &admin,
        "/api/kafka_user_create",
        &[
            ("id", id.to_string()),
            ("username", "bob".into()),
            ("mechanism", "certificate".into()),
        ],
        files.path(),
        "bob",
    )
    .await;
    let (code, out) = client(strings(&["--properties", &props(&bob), "auth", "-"])).await;
    assert_eq!((code, out.as_str()), (0, "ok"), "{out}");
    let (code, out) = client(strings(&[
        "--properties",
        &props(&bob),
        "produce",
        "-",
        "orders",
        "5",
    ]))
    .await;
    assert_eq!((code, out.as_str()), (0, "0"), "bob without rules: {out}");
    println!("refused (a user without an access rule): produce acknowledged {out} of 5");
    for (who, login) in [("alice", &renewed), ("bob", &bob)] {
        let (code, out) = client(strings(&[
            "--properties",
            &props(login),
            "selfgrant",
            "-",
            who,
        ]))
        .await;
        assert_eq!(code, 0, "{out}");
        for attempt in ["create_acls", "create_user"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(attempt))
                .unwrap_or_default();
            assert!(
                line.starts_with(&format!("{attempt} refused: CLUSTER_AUTHORIZATION_FAILED"))
                    || line.starts_with(&format!("{attempt} refused: TOPIC_AUTHORIZATION_FAILED")),
                "{who} {attempt}: {out}"
            );
            println!("refused ({who} {attempt} for itself): {line}");
        }
    }

    // Deleted while a session of it produces: its certificates cannot be revoked, so its
    // principal is denied everything until the last one expires, on the open session too.
    create_topic(&app, &admin, id, "alice-ticks").await;
    let stop = files.path().join("stop-alice");
    let session = tokio::spawn(client(strings(&[
        "--properties",
        &props(&renewed),
        "steady",
        "-",
        "alice-ticks",
        "240",
        stop.to_str().unwrap(),
    ])));
    let ticks = || async {
        let panel: Value = app
            .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
            .await
            .json()
            .await
            .unwrap();
        panel["topics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["name"] == "alice-ticks")
            .flat_map(|t| t["partitions"].as_array().cloned().unwrap_or_default())
            .map(|p| p["latest_offset"].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    wait_until(
        "alice's producer logged in",
        Duration::from_secs(60),
        || async { ticks().await > 0 },
    )
    .await;
    let deleted = app
        .post(
            &admin,
            "/api/kafka_user_delete",
            &[("id", id.to_string()), ("username", "alice".into())],
        )
        .await;
    let status = deleted.status();
    let said = deleted.text().await.unwrap();
    assert_eq!(status, 200, "{said}");
    let deleted_at = Instant::now();
    // The open session's writes stop being acknowledged: the topic's end stops moving (for
    // 5 s in a row, polled; within a deadline).
    let mut last = (ticks().await, Instant::now());
    loop {
        let now = ticks().await;
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(
            deleted_at.elapsed() < Duration::from_secs(90),
            "alice's open session still writes {:?} after the delete",
            deleted_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cut_after = last.1.duration_since(deleted_at);
    let (code, out) = client(strings(&[
        "--properties",
        &props(&renewed),
        "produce",
        "-",
        "orders",
        "5",
    ]))
    .await;
    assert_eq!(
        (code, out.as_str()),
        (0, "0"),
        "a new session of a deleted user: {out}"
    );
    std::fs::write(&stop, "").unwrap();
    let (code, out) = session.await.unwrap();
    println!(
        "a deleted mTLS user's open session: last write acknowledged {} ms after the delete; \
         its report (sent acked failed gap_ms): {code} {}",
        cut_after.as_millis(),
        out.lines().last().unwrap_or("")
    );
    let failed: u64 = out
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        code == 3 || failed > 0,
        "the open session went on: {code} {out}"
    );
    assert!(cut_after < Duration::from_secs(30), "{cut_after:?}");
    // The deny is kept until the last certificate expires, and said.
    let denies: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT resource_type, resource_name, permission, until FROM kafka_acls \
         WHERE username = 'alice' ORDER BY resource_type",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let until = by_rest["certificate_expires_at"].as_i64();
    assert_eq!(
        denies,
        [
            (
                "cluster".into(),
                "kafka-cluster".into(),
                "deny".into(),
                until
            ),
            ("group".into(), "*".into(), "deny".into(), until),
            ("topic".into(), "*".into(), "deny".into(), until),
            ("transactional_id".into(), "*".into(), "deny".into(), until),
        ]
    );
    assert!(
        said.contains("User:alice denied everything until"),
        "{said}"
    );
    // Neither the name given again nor the deny removed before then.
    let again_made = app
        .post(
            &admin,
            "/api/kafka_user_create",
            &[
                ("id", id.to_string()),
                ("username", "alice".into()),
                ("mechanism", "certificate".into()),
            ],
        )
        .await;
    assert_eq!(again_made.status(), 422);
    let body: Value = again_made.json().await.unwrap();
    assert_eq!(body["Invalid"]["field"], "username", "{body}");
    let deny_id: i64 =
        sqlx::query_scalar("SELECT id FROM kafka_acls WHERE username = 'alice' LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let kept = app
        .post(
            &admin,
            "/api/kafka_acl_delete",
            &[("id", id.to_string()), ("acl_id", deny_id.to_string())],
        )
        .await;
    assert_eq!(kept.status(), 409, "{}", kept.text().await.unwrap());
    let mut conn = app.pool.acquire().await.unwrap();
    let latest = app::server::store::kafka_client_certificates::latest_certificate_expiry(
        &mut conn, id, "alice",
    )
    .await
    .unwrap();
    assert_eq!(latest, by_rest["certificate_expires_at"].as_i64());
    assert_eq!(
        audit_details(&app, "kafka_user_create").await.len(),
        2,
        "two creates audited"
    );
    assert_eq!(audit_details(&app, "kafka_user_rotate").await.len(), 2);
    let deletes = audit_details(&app, "kafka_user_delete").await;
    assert_eq!(deletes.len(), 1);
    assert!(
        deletes[0].contains("User:alice denied everything until"),
        "{deletes:?}"
    );
    println!("mutual TLS: {} s", test.elapsed().as_secs());
}

/// Whether any file under `dir` contains `needle`.
fn holds(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let path = e.path();
            if path.is_dir() {
                holds(&path, needle)
            } else {
                std::fs::read(&path)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false)
            }
        })
}

/// Anonymous clients over TLS (no user: every client may use every topic; private exposure
/// only), with exactly the settings the Connect panel shows and the CA it offers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_with_tls_serves_the_panels_settings_and_refuses_plaintext() {
    let test = Instant::now();
    let app = spawn_kafka_app((23150, 23197)).await;
    let admin = app.activated_admin_client().await;
    let files = tempfile::tempdir().unwrap();
    let (id, bootstrap) = create_running(
        &app,
        &admin,
        "anon-tls",
        &[("client_auth", "anonymous"), ("transit_encryption", "tls")],
    )
    .await;
    download_ca(&app, &admin, files.path()).await;
    let panel: Value = app
        .post(&admin, "/api/instance_kafka", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let text = panel["connect"]["client_properties"]
        .as_str()
        .unwrap_or_else(|| panic!("no client.properties: {panel}"));
    assert!(text.contains("security.protocol=SSL\n"), "{text}");
    assert!(!text.contains("sasl."), "{text}");
    let properties = files.path().join("client.properties");
    std::fs::write(&properties, text).unwrap();
    let login = KafkaLogin {
        password: String::new(),
        properties,
    };
    create_topic(&app, &admin, id, "open").await;
    produce_and_consume(&login, "open", "g-open", "100").await;
    let (code, out) = client(strings(&["auth", &bootstrap])).await;
    assert_eq!(code, 3, "PLAINTEXT on the TLS port was not refused: {out}");
    println!(
        "refused anonymous TLS (PLAINTEXT on the TLS port): {}",
        out.lines().last().unwrap_or("")
    );
    println!("anonymous with TLS: {} s", test.elapsed().as_secs());
}
