//! Moving a console's instances from tansu 0.6.0 to nisshi 0.8.1 in place: an instance whose
//! storage file tansu wrote (the committed fixture, `scripts/make_tansu_fixture.py`) keeps its
//! messages, their headers and its consumer group's offsets when the console, now running
//! nisshi, starts its broker. A real console process, the real broker, confluent-kafka.
//! Ports 20350-20359.

mod common;

use common::console_process::*;
use common::instance_form;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tansu-0.6.0/tansu.db"
);

#[tokio::test]
async fn a_tansu_instance_keeps_its_messages_headers_and_offsets_on_nisshi() {
    let flags = broker_flags("20350-20359");
    let mut console = activated(&flags, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());
    // The fixture belongs to cluster byoc-1: the first instance of this console.
    let create = instance_form(
        "legacy",
        3,
        &[
            ("client_auth", "anonymous"),
            ("transit_encryption", "plaintext"),
        ],
    );
    let response = post(&client, format!("{base}/api/instance_create"), &create).await;
    assert_eq!(response.status(), 200);
    let id = response.text().await.unwrap();
    assert_eq!(id, "1");
    let running = |d: &Value| d["summary"]["state"] == "running";
    let started = Instant::now();
    let bootstrap = loop {
        let d = detail(&client, &base, &id).await;
        if running(&d) {
            break d["summary"]["bootstrap"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // What a host upgraded from a tansu console looks like: the console and its broker gone,
    // the instance's storage as tansu 0.6.0 left it, no record of how the broker was started.
    console.kill();
    console.kill_brokers();
    let dir = console.broker_dir(&id);
    for stale in ["tansu.db-wal", "tansu.db-shm", "endpoint.json"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    std::fs::copy(FIXTURE, dir.join("tansu.db")).unwrap();

    let restarted = Instant::now();
    console.restart(&flags).await;
    let read = loop {
        // Fails while the broker is not back yet: tried again.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
        let args = [
            script,
            "headers",
            &bootstrap,
            "legacy",
            "legacy-group",
            "20",
        ]
        .map(String::from);
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("timeout")
                .arg("60")
                .arg("python3")
                .args(&args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default()
        })
        .await
        .unwrap();
        let read: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        if read["messages"].as_array().is_some_and(|m| m.len() == 20) {
            break read;
        }
        assert!(restarted.elapsed() < Duration::from_secs(60), "{out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "serving the tansu-made data {} ms after the console started again",
        restarted.elapsed().as_millis()
    );
    let mut messages = read["messages"].as_array().unwrap().clone();
    messages.sort_by_key(|m| m["key"].as_str().unwrap_or_default().to_string());
    for (i, message) in messages.iter().enumerate() {
        let nn = format!("{i:02}");
        assert_eq!(message["value"], format!("legacy {nn}"));
        assert_eq!(
            message["headers"],
            json!([["trace", nn], ["app", "fixture"]])
        );
    }
    assert_eq!(read["committed"], json!({"0": 6, "1": 4}), "{read}");
    assert_eq!(console.log_lines("broker storage migrated").len(), 1);
    // The broker answers once the resume's step has started it; the instance reads
    // `running` when the operation has recorded its end, a moment later.
    let resumed = Instant::now();
    loop {
        let d = detail(&client, &base, &id).await;
        if running(&d) {
            break;
        }
        assert!(resumed.elapsed() < Duration::from_secs(30), "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
