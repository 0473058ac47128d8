//! The broker-backed provisioner with the real `nisshi` broker and a real Kafka client that
//! nobody here wrote (confluent-kafka from PyPI, `tests/kafka/client.py`): create through
//! HTTP, topics through the console, 10,000 messages produced and consumed back, suspend and
//! resume keep them, a killed broker is noticed and restarted with its data, delete frees
//! the port and the directory. Needs `nisshi` (scripts/setup.sh installs it).

mod common;

use app::server::broker::{BrokerSettings, Listener, MAINTENANCE_EVERY};
use app::server::{Config, ProvisionerChoice};
use common::console_process::broker_bin;
use common::kafka::{consume, produce};
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

async fn spawn_broker_app(ports: (u16, u16)) -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Broker(BrokerSettings {
            bin: broker_bin(),
            ports,
            private: Listener::loopback(),
            public: None,
            maintenance_every: MAINTENANCE_EVERY,
        }),
        ..Config::default()
    })
    .await
}

const PLAIN: [(&str, &str); 2] = [
    ("client_auth", "anonymous"),
    ("transit_encryption", "plaintext"),
];

async fn state_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("instance")
}

async fn wait_for_state(app: &TestApp, id: i64, wanted: &str) {
    let started = Instant::now();
    loop {
        let state = state_of(app, id).await;
        if state == wanted {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "instance {id} is {state}, not {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn create_running(app: &TestApp, client: &reqwest::Client, name: &str) -> (i64, String) {
    let response = app
        .post(
            client,
            "/api/instance_create",
            &instance_form(name, 3, &PLAIN),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    wait_for_state(app, id, "running").await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, bootstrap)
}

async fn panel(app: &TestApp, client: &reqwest::Client, id: i64) -> Value {
    let response = app
        .post(client, "/api/instance_kafka", &[("id", &id.to_string())])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn answers(bootstrap: &str) -> bool {
    std::net::TcpStream::connect_timeout(
        &bootstrap.parse().expect("an address"),
        Duration::from_millis(300),
    )
    .is_ok()
}

fn instance_dir(app: &TestApp, id: i64) -> PathBuf {
    app.dir
        .path()
        .join("data")
        .join("brokers")
        .join(format!("instance-{id}"))
}

#[tokio::test]
async fn settings_the_broker_cannot_enforce_are_refused_at_creation() {
    let app = spawn_broker_app((19600, 19609)).await;
    let client = app.activated_admin_client().await;
    for (field, value) in [("client_auth", "sasl_plain")] {
        let mut changes = PLAIN.to_vec();
        changes.retain(|(k, _)| *k != field);
        changes.push((field, value));
        let response = app
            .post(
                &client,
                "/api/instance_create",
                &instance_form("secure", 3, &changes),
            )
            .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 422, "{field}={value}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["Invalid"]["field"], field, "{body}");
        assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);
    }
    // The form offers only what is in force.
    let form: Value = app
        .post_form(&client, "/api/instance_form", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        form["allowed_client_auth"],
        serde_json::json!(["anonymous", "sasl_scram"])
    );
    assert_eq!(
        form["allowed_transit_encryption"],
        serde_json::json!(["tls", "plaintext"])
    );
    assert_eq!(
        form["allowed_endpoint_exposure"],
        serde_json::json!(["vpc"])
    );
    let notes = form["security_notes"].to_string();
    assert!(
        notes.contains("SASL/PLAIN") && notes.contains("public address"),
        "{notes}"
    );
}

#[tokio::test]
async fn a_real_client_produces_and_consumes_through_the_console_s_instance() {
    let app = spawn_broker_app((19610, 19619)).await;
    let client = app.activated_admin_client().await;
    let (id, bootstrap) = create_running(&app, &client, "orders").await;
    assert!(bootstrap.starts_with("127.0.0.1:196"), "{bootstrap}");
    assert!(answers(&bootstrap));
    let dir = instance_dir(&app, id);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the broker's directory is owner-only");
    }

    // Topics through the console: bad input names the field and changes nothing.
    let topic = |name: &str, partitions: &str| {
        vec![
            ("id", id.to_string()),
            ("topic", name.to_string()),
            ("partitions", partitions.to_string()),
        ]
    };
    for (name, partitions, field) in [
        ("bad/name", "3", "topic"),
        ("__internal", "3", "topic"),
        ("orders", "0", "partitions"),
        ("orders", "many", "partitions"),
    ] {
        let response = app
            .post(&client, "/api/topic_create", &topic(name, partitions))
            .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 422, "{name} {partitions}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["Invalid"]["field"], field);
    }
    assert_eq!(
        panel(&app, &client, id).await["topics"],
        serde_json::json!([])
    );
    let created = app
        .post(&client, "/api/topic_create", &topic("events", "3"))
        .await;
    assert_eq!(created.status(), 200);
    let again = app
        .post(&client, "/api/topic_create", &topic("events", "3"))
        .await;
    assert_eq!(again.status(), 422);
    assert!(error_body(again).await["Invalid"]["message"]
        .as_str()
        .unwrap()
        .contains("exists already"));

    // 10,000 messages in and back out with confluent-kafka.
    let produced = produce(&bootstrap, "events", 10000).await;
    assert_eq!(produced, "10000");
    let consumed = consume(&bootstrap, "events", "first", 10000).await;
    assert_eq!(consumed, "10000 exact");

    // The console sees them: offsets through its Kafka client.
    let p = panel(&app, &client, id).await;
    assert_eq!(p["real"], true);
    assert_eq!(p["connect"]["bootstrap"], bootstrap.as_str());
    assert_eq!(p["connect"]["security_protocol"], "PLAINTEXT");
    let events = &p["topics"][0];
    assert_eq!(events["name"], "events");
    let partitions = events["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3);
    let total: i64 = partitions
        .iter()
        .map(|p| p["latest_offset"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 10_000);

    // A kill -9 of the broker: the instance turns abnormal with the reason, and the
    // control loop brings the broker back with its data.
    let pid: i32 = std::fs::read_to_string(dir.join("broker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        let reasons: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT h.state, i.state_reason FROM instance_history h JOIN instances i ON i.id = h.instance_id
             WHERE h.instance_id = ? ORDER BY h.id",
        )
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if reasons.iter().any(|(s, _)| s == "abnormal") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let audit = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'instance_abnormal' AND detail LIKE '%exited%'")
        .await;
    assert_eq!(audit, 1);
    wait_for_state(&app, id, "running").await;
    let new_pid: i32 = std::fs::read_to_string(dir.join("broker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_pid, pid);
    let consumed = consume(&bootstrap, "events", "after-crash", 10000).await;
    assert_eq!(consumed, "10000 exact");

    // The license lapses: the instance is suspended, the broker stops, the data stays.
    app.clock.advance(time::Duration::days(366 + 40));
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    wait_for_state(&app, id, "suspended").await;
    assert!(!answers(&bootstrap));
    assert!(dir.join("tansu.db").exists());
    // A new key resumes it: every message is still there.
    let key = product_key(&app, |p| {
        use time::macros::datetime;
        p.license_id = "LIC-TEST-2".into();
        p.issued_at = datetime!(2028-01-01 00:00 UTC);
        p.starts_at = datetime!(2027-12-01 00:00 UTC);
        p.expires_at = datetime!(2029-01-01 00:00 UTC);
    });
    // (The session ended with the year that passed: sign in again.)
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    let applied = app.apply_key(&client, &key).await;
    assert_eq!(applied.status(), 200, "{}", applied.text().await.unwrap());
    wait_for_state(&app, id, "running").await;
    assert!(answers(&bootstrap));
    let consumed = consume(&bootstrap, "events", "after-resume", 10000).await;
    assert_eq!(consumed, "10000 exact");

    // Delete: the broker stops, the port and the directory are freed.
    let deleted = app
        .post(
            &client,
            "/api/instance_delete",
            &[("id", id.to_string()), ("confirm_name", "orders".into())],
        )
        .await;
    assert_eq!(deleted.status(), 200);
    wait_for_state(&app, id, "deleted").await;
    assert!(!answers(&bootstrap));
    assert!(!dir.exists());
}

#[tokio::test]
async fn traffic_is_measured_from_the_broker_and_metered() {
    let app = spawn_broker_app((19620, 19629)).await;
    let client = app.activated_admin_client().await;
    let (id, bootstrap) = create_running(&app, &client, "metered").await;
    let topic = [
        ("id", id.to_string()),
        ("topic", "clicks".to_string()),
        ("partitions", "1".to_string()),
    ];
    assert_eq!(
        app.post(&client, "/api/topic_create", &topic)
            .await
            .status(),
        200
    );
    // The readings take the console's clock: move it on between them.
    let produced = produce(&bootstrap, "clicks", 2000).await;
    assert_eq!(produced, "2000");
    let consumed = consume(&bootstrap, "clicks", "readers", 2000).await;
    assert_eq!(consumed, "2000 exact");
    // Readings come every 5 s and take the console's clock: move it a minute on between
    // them, so that they are also stored for metering.
    let started = Instant::now();
    let traffic = loop {
        app.clock.advance(time::Duration::seconds(61));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let p = panel(&app, &client, id).await;
        let moved = p["traffic"]["points"]
            .as_array()
            .is_some_and(|points| points.iter().any(|p| p["bytes_in_s"].as_f64() > Some(0.0)));
        if p["traffic"]["messages_in_total"] == 2000
            && p["traffic"]["messages_out_total"] == 2000
            && moved
        {
            break p["traffic"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{p}");
    };
    // Counted: "message 000123" is 14 bytes of value; the keys "0".."1999" are 6,890 bytes.
    assert_eq!(traffic["bytes_in_total"], 2000 * 14 + 6890, "{traffic}");
    assert!(traffic["bytes_retained"].as_u64().unwrap() > 0);
    assert_eq!(traffic["write_capacity_bytes_s"], 3 * 30 * 1024 * 1024);
    assert!(!traffic["points"].as_array().unwrap().is_empty());

    // Metering reads the stored readings: the hour's data in is exactly those bytes.
    app.clock
        .set(time::macros::datetime!(2026-11-22 13:00:30 UTC));
    tokio::time::sleep(Duration::from_secs(6)).await; // a reading in the new hour
    app::server::metering::run_due(&app.state).await.unwrap();
    let data_in: String = sqlx::query_scalar(
        "SELECT quantity FROM usage_ledger WHERE instance_id = ? AND dimension = 'data_in_gib'
         AND hour_start = ?",
    )
    .bind(id)
    .bind(time::macros::datetime!(2026-11-22 12:00 UTC).unix_timestamp())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // 34,890 bytes = 0.0000325 GiB, to 6 places half-even.
    assert_eq!(data_in, "0.000032");

    // The examples on the Connect panel run as copied: ten more messages, then read back.
    let p = panel(&app, &client, id).await;
    let run = |code: String| async move {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3")
                .args(["-c", &code])
                .output()
                .expect("python3 runs")
        })
        .await
        .expect("example task")
    };
    let produced = run(p["connect"]["producer_example"].as_str().unwrap().into()).await;
    assert!(produced.status.success(), "{produced:?}");
    let consumed = run(p["connect"]["consumer_example"].as_str().unwrap().into()).await;
    assert!(consumed.status.success(), "{consumed:?}");
    let lines = String::from_utf8_lossy(&consumed.stdout).lines().count();
    assert_eq!(
        lines, 2010,
        "the example's group reads the topic from the start"
    );
}
