//! Prometheus metrics at /metrics: the text passes `promtool check metrics` (Debian's
//! prometheus package), and creating and scaling an instance moves the figures. A binary of
//! its own: the metrics recorder is one per process.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
