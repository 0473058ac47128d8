//! Prometheus metrics at /metrics: the text passes `promtool check metrics` (Debian's
//! prometheus package), creating and scaling an instance moves the figures, and a real Kafka
//! cluster (three JVM nodes, ports 20600-20699) fed by confluent-kafka
//! (`tests/kafka/client.py`) moves the per-instance traffic series. A binary of its own: the
//! metrics recorder is one per process.

mod common;

use app::server::kafka::{KafkaSettings, Listener};
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::KafkaInstall;
use common::kafka::{consume, produce};
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tests of this binary take turns. The recorder is one per process, so every console of
/// this binary renders the same registry, and a scrape sets the state gauges
/// (`byoc_instances{state}`, `byoc_aku_in_use`, the license's) from its own console's database
/// and then renders: a concurrent scrape of another test's console between the two would show
/// that console's figures, and the absolute assertions (0, then 1 instance running; 0, then 6
/// AKU in use; exactly one more refused sign-in) would fail now and then. In turn, each
/// scrape sets every one of those gauges before rendering, so what the other test left behind
/// does not matter; only its per-instance series stay (under their own labels).
static ONE_CONSOLE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    response.text().await.expect("text")
}

/// The value of the series `name{labels}` exactly as written (labels in the rendered order).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/setup.sh installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn metrics_pass_promtool_and_follow_creates_and_scales() {
    let _turn = ONE_CONSOLE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let before = scrape(&app).await;
    promtool_accepts(&before);
    assert_eq!(
        value(&before, "byoc_instances{state=\"running\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(&before, "byoc_license_phase{phase=\"active\"}"),
        Some(1.0)
    );
    assert_eq!(value(&before, "byoc_aku_in_use"), Some(0.0));
    assert!(value(&before, "byoc_license_remaining_seconds").is_some_and(|s| s > 0.0));

    // A refused sign-in counts.
    let failures = value(&before, "byoc_sign_in_failures_total").unwrap_or(0.0);
    app.client()
        .post(app.url("/api/login"))
        .form(&[("username", "admin"), ("password", "wrong-password-here")])
        .send()
        .await
        .unwrap();

    let response = admin
        .post(app.url("/api/instance_create"))
        .form(&instance_form("orders", 3, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    while app
        .count("SELECT COUNT(*) FROM instances WHERE state = 'running'")
        .await
        < 1
    {
        assert!(started.elapsed() < Duration::from_secs(20), "never running");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = admin
        .post(app.url("/api/instance_scale"))
        .form(&[("id", "1"), ("size_aku", "6")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    while app
        .count("SELECT COUNT(*) FROM instances WHERE state = 'running' AND size_aku = 6")
        .await
        < 1
    {
        assert!(started.elapsed() < Duration::from_secs(20), "never scaled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let after = scrape(&app).await;
    promtool_accepts(&after);
    assert_eq!(
        value(&after, "byoc_instances{state=\"running\"}"),
        Some(1.0)
    );
    assert_eq!(value(&after, "byoc_aku_in_use"), Some(6.0));
    assert_eq!(value(&after, "byoc_aku_licensed"), Some(100.0), "{after}");
    assert!(value(&after, "byoc_operations_started_total{kind=\"create\"}") >= Some(1.0));
    assert!(value(&after, "byoc_operations_started_total{kind=\"scale\"}") >= Some(1.0));
    assert!(after
        .contains("byoc_operation_duration_seconds_bucket{kind=\"scale\",outcome=\"succeeded\""));
    assert_eq!(
        value(&after, "byoc_sign_in_failures_total"),
        Some(failures + 1.0)
    );
    assert!(value(
        &after,
        "byoc_http_requests_total{route=\"/api/instance_create\",method=\"POST\",status=\"200\"}"
    )
    .is_some_and(|n| n >= 1.0), "{after}");
    // Ids are not labels: the page of instance 1 counts under its route's pattern.
    assert!(!after.contains("route=\"/instances/1\""));
    assert!(value(&after, "process_resident_memory_bytes").is_some_and(|b| b > 0.0));
}

/// A plaintext instance on a real Kafka cluster: confluent-kafka produces to it and reads it
/// back, its per-instance series follow the nodes' own counters within a reading (every 5 s;
/// the in-memory reading, not the stored one a minute apart), and they go when the instance is
/// deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_instance_traffic_follows_a_real_kafka_cluster() {
    const MESSAGES: u32 = 500;

    let _turn = ONE_CONSOLE_AT_A_TIME.lock().await;
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (20600, 20699),
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
            &instance_form("clickstream", 3, &plain),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    let started = Instant::now();
    let running = format!("SELECT COUNT(*) FROM instances WHERE id = {id} AND state = 'running'");
    while app.count(&running).await < 1 {
        // A cluster's first start: three JVMs and a quorum election.
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "never running"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Three nodes, each advertising its own client port.
    assert_eq!(bootstrap.split(',').count(), 3, "{bootstrap}");
    assert!(bootstrap.starts_with("127.0.0.1:206"), "{bootstrap}");
    let topic = [
        ("id", id.to_string()),
        ("topic", "clicks".to_string()),
        ("partitions", "1".to_string()),
    ];
    assert_eq!(
        app.post(&admin, "/api/topic_create", &topic).await.status(),
        200
    );

    let labels = format!("{{instance_name=\"clickstream\",instance_id=\"{id}\"}}");
    let messages_in = format!("byoc_instance_messages_in_total{labels}");
    let received = format!("byoc_instance_received_bytes_total{labels}");
    let retained = format!("byoc_instance_retained_bytes{labels}");
    let before = scrape(&app).await;
    promtool_accepts(&before);
    // Nothing produced yet: no reading stored, or one of nothing.
    assert!(
        matches!(value(&before, &messages_in), None | Some(0.0)),
        "{before}"
    );
    assert!(
        matches!(value(&before, &received), None | Some(0.0)),
        "{before}"
    );

    assert_eq!(
        produce(&bootstrap, "clicks", MESSAGES).await,
        MESSAGES.to_string()
    );

    // Scrape until a reading has every message (the nodes are read every 5 s).
    let started = Instant::now();
    let after = loop {
        let text = scrape(&app).await;
        let reached = value(&text, &messages_in).is_some_and(|n| n >= f64::from(MESSAGES))
            && value(&text, &received).is_some_and(|b| b > 0.0)
            && value(&text, &retained).is_some_and(|b| b > 0.0);
        if reached {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the traffic series never reached {MESSAGES} messages:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "traffic series reached {MESSAGES} messages {:.1} s after the produce",
        started.elapsed().as_secs_f64()
    );
    promtool_accepts(&after);
    assert_eq!(value(&after, &messages_in), Some(f64::from(MESSAGES)));
    // Counted by Kafka as the record batches arrive: at least the keys and values ("message
    // 000123" is 14 bytes of value; the keys "0".."499" are 10 + 90 * 2 + 400 * 3 = 1,390
    // bytes), plus each batch's and record's framing, far less than twice that here.
    let payload = f64::from(MESSAGES * 14 + 1390);
    let received_bytes = value(&after, &received).unwrap();
    assert!(
        received_bytes >= payload && received_bytes < 2.0 * payload,
        "{received_bytes} bytes in for {payload} of keys and values"
    );
    // Nothing consumed yet: nothing out.
    let sent = format!("byoc_instance_sent_bytes_total{labels}");
    assert_eq!(value(&after, &sent), Some(0.0));

    // Read back by a consumer: bytes out follow (at least what came in, fetched once).
    assert_eq!(
        consume(&bootstrap, "clicks", "readers", MESSAGES).await,
        format!("{MESSAGES} exact")
    );
    let started = Instant::now();
    let after = loop {
        let text = scrape(&app).await;
        if value(&text, &sent).is_some_and(|b| b >= payload) {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "bytes out never reached {payload}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    promtool_accepts(&after);
    let messages_out = value(&after, &format!("byoc_instance_messages_out_total{labels}"));
    assert!(
        messages_out.is_some_and(|n| n >= f64::from(MESSAGES) * 0.9),
        "messages out (estimated from bytes out) {messages_out:?}"
    );
    assert_eq!(
        value(&after, "byoc_instances{state=\"running\"}"),
        Some(1.0)
    );
    assert_eq!(value(&after, "byoc_instances_unlisted"), Some(0.0));

    // Deleted: its series go with it.
    let form = [
        ("id", id.to_string()),
        ("confirm_name", "clickstream".into()),
    ];
    let deleted = app.post(&admin, "/api/instance_delete", &form).await;
    assert_eq!(deleted.status(), 200);
    let gone = format!("SELECT COUNT(*) FROM instances WHERE id = {id} AND state = 'deleted'");
    let started = Instant::now();
    while app.count(&gone).await < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never deleted"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let last = scrape(&app).await;
    promtool_accepts(&last);
    assert!(!last.contains("clickstream"), "{last}");
    assert_eq!(value(&last, "byoc_instances{state=\"running\"}"), Some(0.0));
}
