//! The message browser through the console on a real Kafka cluster (`--provisioner kafka`):
//! confluent-kafka (tests/kafka/browse_produce.py) writes a JSON value with headers, a text
//! value, a binary one, one larger than the browser shows and fillers; the console's reads
//! (server functions, the page without JavaScript, the REST API) show each at the partition
//! and offset Kafka gave it, as JSON, text or hex, cut where stated; newest first, from an
//! offset, from a time; filters; refusals naming the field (an offset past the end, a time in
//! the future, a partition or topic that does not exist); the switch (admins only, audited)
//! refusing reads while off; viewers refused; every read audited with its range. Needs
//! Kafka's jars. One cluster, ports 28000-28095.

mod common;

use app::server::kafka::{KafkaSettings, Listener};
use app::server::{Config, ProvisionerChoice};
use byoc_engine::host::local::KafkaInstall;
use common::*;
use reqwest::Client;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TOPIC: &str = "mixed";
const FILLER: usize = 30;

fn produce(bootstrap: &str) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/browse_produce.py");
    let out = Command::new("timeout")
        .args(["120", "python3"])
        .arg(script)
        .args([bootstrap, TOPIC, &FILLER.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "browse_produce.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from browse_produce.py")
}

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A read through the server function: (status, body).
async fn read(app: &TestApp, client: &Client, id: i64, query: &[(&str, &str)]) -> (u16, Value) {
    let mut form: Vec<(&str, String)> = vec![("id", id.to_string())];
    form.extend(query.iter().map(|(k, v)| (*k, v.to_string())));
    let response = app.post(client, "/api/topic_messages", &form).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn offsets(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_i64().unwrap())
        .collect()
}

async fn audited(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT COALESCE(detail, '') FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_browser_reads_what_kafka_holds_as_asked_and_audits_each_read() {
    let started = Instant::now();
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        provisioner: ProvisionerChoice::Kafka(KafkaSettings {
            libs: KafkaInstall::default_libs(),
            ports: (28000, 28095),
            private: Listener::loopback(),
            public: None,
            aku_kib_per_second: 30 * 1024,
        }),
        ..Config::default()
    })
    .await;
    // Kafka stamps messages with the real time; "not in the future" is the console's clock.
    app.clock.set(time::OffsetDateTime::now_utc());
    let admin = app.activated_admin_client().await;
    let plain = [
        ("client_auth", "anonymous"),
        ("transit_encryption", "plaintext"),
    ];
    let response = app
        .post(
            &admin,
            "/api/instance_create",
            &instance_form("browse", 3, &plain),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.text().await.unwrap().parse().unwrap();
    wait_until("the instance runs", Duration::from_secs(240), async || {
        let state: String = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_ne!(state, "abnormal");
        state == "running"
    })
    .await;
    let bootstrap: String = sqlx::query_scalar("SELECT bootstrap FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let topic = [
        ("id", id.to_string()),
        ("topic", TOPIC.to_string()),
        ("partitions", "3".to_string()),
        ("retention_hours", String::new()),
    ];
    let created = app.post(&admin, "/api/topic_create", &topic).await;
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let placed = tokio::task::spawn_blocking({
        let b = bootstrap.clone();
        move || produce(&b)
    })
    .await
    .unwrap();
    assert_eq!(placed.len(), 4 + FILLER);
    let base = placed[0]["offset"].as_i64().unwrap();
    let last = placed.last().unwrap()["offset"].as_i64().unwrap();
    println!("cluster, topic and messages: {:?}", started.elapsed());
    // The manual clock stands still: bring it to the time Kafka stamped the messages with.
    app.clock.set(time::OffsetDateTime::now_utc());

    // Inside the network, browsing is on by default; a viewer sees the switch, cannot read.
    let state = app
        .post(&admin, "/api/message_browsing", &[("id", id.to_string())])
        .await;
    let state: Value = state.json().await.unwrap();
    assert_eq!(state["enabled"], true, "{state}");
    assert_eq!(state["explicit"], false, "{state}");
    let viewer = app.user_client("vera", "viewer").await;
    let (status, _) = read(&app, &viewer, id, &[("topic", TOPIC)]).await;
    assert_eq!(status, 403);

    // From an offset, as JSON: each message where Kafka put it, with its headers.
    let from = base.to_string();
    let q = [
        ("topic", TOPIC),
        ("partition", "0"),
        ("from", "offset"),
        ("at", from.as_str()),
        ("limit", "4"),
        ("format", "json"),
    ];
    let (status, page) = read(&app, &admin, id, &q).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(offsets(&page), vec![base, base + 1, base + 2, base + 3]);
    let m = &page["messages"];
    assert_eq!(m[0]["key"]["text"], "order-1");
    assert_eq!(m[0]["value"]["shown_as"], "json");
    assert!(
        m[0]["value"]["text"]
            .as_str()
            .unwrap()
            .contains("\"paid\": true"),
        "pretty JSON: {}",
        m[0]["value"]
    );
    assert_eq!(m[0]["headers"][0]["name"], "source");
    assert_eq!(m[0]["headers"][0]["value"]["text"], "web");
    assert_eq!(m[0]["headers"][1]["value"]["text"], "abc-123");
    assert_eq!(m[0]["timestamp"], placed[0]["timestamp"]);
    assert_eq!(m[1]["value"]["shown_as"], "text");
    assert_eq!(m[1]["value"]["text"], "hello world");
    assert_eq!(m[2]["key"]["shown_as"], "null");
    assert_eq!(m[2]["value"]["shown_as"], "hex");
    assert_eq!(m[2]["value"]["text"], "00 ff 10 80");
    assert_eq!(m[3]["value"]["bytes"], 6000);
    assert_eq!(m[3]["value"]["cut"], true);
    assert_eq!(m[3]["value"]["text"].as_str().unwrap().len(), 4096);

    // Hex asked: every value in hex.
    let hex = [
        ("topic", TOPIC),
        ("partition", "0"),
        ("from", "offset"),
        ("at", from.as_str()),
        ("limit", "2"),
        ("format", "hex"),
    ];
    let (_, page) = read(&app, &admin, id, &hex).await;
    assert_eq!(
        page["messages"][1]["value"]["text"],
        "68 65 6c 6c 6f 20 77 6f 72 6c 64"
    );

    // The newest 5 of every partition: the last five fillers, newest first.
    let (status, page) = read(&app, &admin, id, &[("topic", TOPIC), ("limit", "5")]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(offsets(&page), (last - 4..=last).rev().collect::<Vec<_>>());
    assert_eq!(
        page["messages"][0]["value"]["text"],
        format!("filler-{}", FILLER - 1)
    );

    // From a time: the first message at or after the text value's timestamp.
    let at = placed[1]["timestamp"].as_i64().unwrap().to_string();
    let q = [
        ("topic", TOPIC),
        ("from", "timestamp"),
        ("at", at.as_str()),
        ("limit", "3"),
    ];
    let (status, page) = read(&app, &admin, id, &q).await;
    assert_eq!(status, 200, "{page}");
    let since: i64 = at.parse().unwrap();
    assert!(offsets(&page).contains(&(base + 1)), "{page}");
    for m in page["messages"].as_array().unwrap() {
        assert!(m["timestamp"].as_i64().unwrap() >= since, "{m}");
    }

    // Filters apply within the page read.
    let q = [
        ("topic", TOPIC),
        ("partition", "0"),
        ("from", "offset"),
        ("at", from.as_str()),
        ("limit", "10"),
        ("key", "ORDER"),
    ];
    let (_, page) = read(&app, &admin, id, &q).await;
    assert_eq!(offsets(&page), vec![base, base + 1], "{page}");
    assert_eq!(page["filtered_out"], 8);

    // Refusals naming the field; none is audited as a read.
    let reads_before = audited(&app, "messages_read").await.len();
    let past = (last + 100).to_string();
    for (query, field) in [
        (
            vec![
                ("topic", TOPIC),
                ("partition", "0"),
                ("from", "offset"),
                ("at", past.as_str()),
            ],
            "at",
        ),
        (
            vec![
                ("topic", TOPIC),
                ("from", "timestamp"),
                ("at", "2999-01-01T00:00:00Z"),
            ],
            "at",
        ),
        (vec![("topic", TOPIC), ("partition", "7")], "partition"),
        (vec![("topic", "nothing-here")], "topic"),
        (vec![("topic", TOPIC), ("limit", "101")], "limit"),
        (
            vec![("topic", TOPIC), ("from", "offset"), ("at", "3")],
            "partition",
        ),
    ] {
        let (status, body) = read(&app, &admin, id, &query).await;
        assert_eq!(status, 422, "{query:?}: {body}");
        assert_eq!(body["Invalid"]["field"], field, "{query:?}: {body}");
    }
    assert_eq!(audited(&app, "messages_read").await.len(), reads_before);

    // The page without JavaScript: the read in the URL, served whole.
    let url = format!(
        "/instances/{id}?messages={TOPIC}&partition=0&from=offset&at={base}&limit=4&format=json"
    );
    let html = admin.get(app.url(&url)).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(
        html.contains("data-testid=\"messages-table\""),
        "the table is served"
    );
    assert!(html.contains("hello world"));
    assert!(html.contains("00 ff 10 80"));
    assert!(html.contains("paid"));
    assert!(
        html.contains("data-testid=\"messages-next\""),
        "a next page link"
    );

    // REST: an operator's token reads; a topic that does not exist is 404; past the end 409.
    let token = {
        let response = admin
            .post(app.url("/api/service_account_create"))
            .form(&[("name", "reader"), ("role", "operator"), ("expires", "")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    };
    let rest = |path: String| app.client().get(app.url(&path)).bearer_auth(&token).send();
    let response = rest(format!(
        "/api/v1/instances/{id}/topics/{TOPIC}/messages?partition=0&from=offset&at={base}&limit=2"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(offsets(&page), vec![base, base + 1]);
    let response = rest(format!(
        "/api/v1/instances/{id}/topics/nothing-here/messages"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    let response = rest(format!(
        "/api/v1/instances/{id}/topics/{TOPIC}/messages?partition=0&from=offset&at={past}"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "at", "{problem}");

    // Every read audited: who, topic, range.
    let reads = audited(&app, "messages_read").await;
    assert_eq!(reads.len(), reads_before + 2, "{reads:?}");
    assert!(
        reads[0].contains(&format!("topic {TOPIC}, partition 0"))
            && reads[0].contains(&format!("0:{base}-{}", base + 3)),
        "{reads:?}"
    );
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action = 'messages_read' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(actors.iter().any(|a| a.contains("reader")), "{actors:?}");

    // A test message from the console lands where it says, headers and all; refusals name
    // their field and write nothing.
    let write = |partition: &str, headers: &str, topic: &str| {
        vec![
            ("id", id.to_string()),
            ("topic", topic.to_string()),
            ("partition", partition.to_string()),
            ("key", "console-key".to_string()),
            ("value", "{\"from\":\"console\"}".to_string()),
            ("headers", headers.to_string()),
        ]
    };
    let response = app
        .post(
            &admin,
            "/api/test_message_write",
            &write("2", "origin: console\nrun: 1", TOPIC),
        )
        .await;
    assert_eq!(response.status(), 200);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["partition"], 2, "{written}");
    let at = written["offset"].as_i64().unwrap().to_string();
    let q = [
        ("topic", TOPIC),
        ("partition", "2"),
        ("from", "offset"),
        ("at", at.as_str()),
        ("format", "json"),
    ];
    let (_, page) = read(&app, &admin, id, &q).await;
    let m = &page["messages"][0];
    assert_eq!(m["key"]["text"], "console-key", "{page}");
    assert!(
        m["value"]["text"]
            .as_str()
            .unwrap()
            .contains("\"from\": \"console\""),
        "{m}"
    );
    assert_eq!(m["headers"][0]["name"], "origin");
    assert_eq!(m["headers"][1]["value"]["text"], "1");
    for (form, field) in [
        (write("9", "", TOPIC), "partition"),
        (write("0", "", "nothing-here"), "topic"),
        (write("0", "a: 1\na: 2", TOPIC), "headers"),
    ] {
        let response = app.post(&admin, "/api/test_message_write", &form).await;
        assert_eq!(response.status(), 422);
        assert_eq!(error_body(response).await["Invalid"]["field"], field);
    }
    let writes = audited(&app, "test_message_write").await;
    assert_eq!(
        writes.len(),
        3,
        "one success and two refusals by Kafka's state: {writes:?}"
    );
    assert!(
        writes[0].ends_with(&format!("at offset {at}")),
        "{writes:?}"
    );

    // Only admins switch; off refuses every read, audited.
    let operator = app.user_client("otto", "operator").await;
    let off = [("id", id.to_string()), ("enabled", "false".to_string())];
    let response = app.post(&operator, "/api/message_browsing_set", &off).await;
    assert_eq!(response.status(), 403);
    let response = app.post(&admin, "/api/message_browsing_set", &off).await;
    assert_eq!(response.status(), 200);
    let (status, body) = read(&app, &operator, id, &[("topic", TOPIC)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("off"), "{body}");
    assert_eq!(
        audited(&app, "message_browsing_set").await,
        vec!["message browsing turned off".to_string()]
    );
    println!("whole test: {:?}", started.elapsed());
}
