//! The reader on the fixture and on altered copies of it.

use super::*;
use crate::server::nisshi::reader::messages::all_messages;
use serde_json::Value;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/nisshi-0.8.1")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn the_fixture_reads_as_expected_json_says() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("expected.json")).unwrap()).unwrap();
    let pool = open(&fixture().join("storage.db")).await.unwrap();
    let store = read(&pool).await.unwrap();
    let names: Vec<&str> = store.topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["audit.events", "orders", "payments"]);
    let mut total = 0;
    for (name, want) in expected["topics"].as_object().unwrap() {
        let topic = store.topic(name).unwrap();
        assert_eq!(
            topic.partitions.len() as u64,
            want["partitions"].as_u64().unwrap()
        );
        assert_eq!(topic.retention_ms, None, "no retention set in nisshi");
        let want_msgs = want["messages"].as_array().unwrap();
        for p in &topic.partitions {
            let got = all_messages(&pool, name, p).await.unwrap();
            let of_p: Vec<&Value> = want_msgs
                .iter()
                .filter(|m| m["partition"] == p.index)
                .collect();
            assert_eq!(got.len(), of_p.len(), "{name}-{}", p.index);
            assert_eq!(p.messages, got.len() as u64);
            assert_eq!(p.bytes, got.iter().map(Message::bytes).sum::<u64>());
            for (i, (m, w)) in got.iter().zip(&of_p).enumerate() {
                assert_eq!(m.offset, i as i64, "offset order");
                let key = m
                    .key
                    .as_ref()
                    .map(|k| String::from_utf8(k.clone()).unwrap());
                assert_eq!(serde_json::json!(key), w["key"]);
                assert_eq!(hex(m.value.as_ref().unwrap()), w["value_hex"]);
                assert_eq!(m.timestamp_ms, w["timestamp_ms"].as_i64().unwrap());
                let headers: Vec<Value> = m
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        let v = String::from_utf8(v.clone().unwrap()).unwrap();
                        serde_json::json!([k, v])
                    })
                    .collect();
                assert_eq!(Value::Array(headers), w["headers"]);
            }
            total += got.len();
        }
    }
    assert_eq!(total as u64, store.messages());
    assert_eq!(total, 200);

    for (group, want) in expected["groups"].as_object().unwrap() {
        let g = store.groups.iter().find(|g| &g.name == group).unwrap();
        for (tp, offset) in want.as_object().unwrap() {
            let (topic, partition) = tp.rsplit_once('/').unwrap();
            let got = g
                .offsets
                .get(&(topic.to_string(), partition.parse().unwrap()))
                .copied();
            match offset.as_i64().unwrap() {
                -1001 => assert_eq!(got, None, "{group} {tp}"),
                o => assert_eq!(got, Some(o), "{group} {tp}"),
            }
        }
    }
    assert_eq!(store.groups.len(), 3);
    let users: Vec<&str> = store
        .scram_users
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(users, ["billing-svc", "orders-app"]);
    assert!(store
        .scram_users
        .iter()
        .all(|u| u.mechanism == "SCRAM-SHA-512" && u.iterations == 8192));
}

/// A copy of the fixture with `change` applied (the fixture itself stays untouched).
async fn altered(change: &str) -> (tempfile::TempDir, SqlitePool) {
    let dir = altered_file(change).await;
    let pool = open(&dir.path().join("storage.db")).await.unwrap();
    (dir, pool)
}

/// A copy of the fixture with `change` applied, in a directory of its own.
async fn altered_file(change: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("storage.db");
    std::fs::copy(fixture().join("storage.db"), &path).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    let rw = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    sqlx::query(change).execute(&rw).await.unwrap();
    rw.close().await;
    dir
}

async fn first_error(pool: &SqlitePool) -> String {
    let store = match read(pool).await {
        Ok(store) => store,
        Err(e) => return e.to_string(),
    };
    for t in &store.topics {
        for p in &t.partitions {
            if let Err(e) = all_messages(pool, &t.name, p).await {
                return e.to_string();
            }
        }
    }
    panic!("no error")
}

#[tokio::test]
async fn values_the_schema_does_not_allow_are_errors_naming_the_column() {
    let cases = [
        (
            "UPDATE record SET timestamp = 'soon' WHERE topition = 1 AND offset_id = 3",
            "record.timestamp: text at orders-0 offset 3; an integer is expected",
        ),
        (
            "UPDATE record SET timestamp = NULL WHERE topition = 4 AND offset_id = 0",
            "record.timestamp: null at payments-0 offset 0",
        ),
        (
            "UPDATE record SET v = 'text' WHERE topition = 2 AND offset_id = 1",
            "record.v: text at orders-1 offset 1; bytes (blob) are expected",
        ),
        (
            "UPDATE record SET attributes = 32 WHERE topition = 2 AND offset_id = 2",
            "record.attributes: 0x20 at orders-1 offset 2",
        ),
        (
            "UPDATE header SET k = x'ff' WHERE topition = 1 AND offset_id = 0 AND ordinal = 0",
            "header.k: not UTF-8 at orders-0 offset 0",
        ),
        (
            "UPDATE consumer_offset SET committed_offset = 'x' WHERE id = 91",
            "consumer_offset.committed_offset: text at group pay-svc, payments-0",
        ),
        (
            "UPDATE watermark SET high = 5 WHERE topition = 4",
            "record.offset_id: 35 record(s) of payments-0 outside its watermarks [0, 5)",
        ),
        (
            "UPDATE topic SET partitions = 4 WHERE name = 'orders'",
            "topition.partition: topic orders has 4 partitions but 3 topition rows",
        ),
        (
            "INSERT INTO topic_configuration (topic, name, value) VALUES (2, 'retention.ms', 'a week')",
            "topic_configuration.value: retention.ms = \"a week\" of topic payments",
        ),
        (
            "UPDATE scram_credential SET mechanism = 7 WHERE username = 'orders-app'",
            "scram_credential.mechanism: Some(7) at user orders-app",
        ),
    ];
    for (change, want) in cases {
        let (_dir, pool) = altered(change).await;
        let got = first_error(&pool).await;
        assert!(got.starts_with(want), "{change}:\n got {got}\nwant {want}");
    }
}

#[tokio::test]
async fn retention_is_read_from_the_topic_settings() {
    let (_dir, pool) = altered(
        "INSERT INTO topic_configuration (topic, name, value) VALUES (2, 'retention.ms', '604800000')",
    )
    .await;
    let store = read(&pool).await.unwrap();
    assert_eq!(
        store.topic("payments").unwrap().retention_ms,
        Some(604_800_000)
    );
    assert_eq!(store.topic("orders").unwrap().retention_ms, None);
}

#[tokio::test]
async fn a_file_that_is_not_there_or_not_nisshi_is_refused() {
    let err = open(Path::new("/nonexistent/storage.db"))
        .await
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("/nonexistent/storage.db: cannot be opened"));
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.db");
    let rw = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&rw)
        .await
        .unwrap();
    rw.close().await;
    let err = open(&other).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "nisshi_schema_version: no such table: not a nisshi storage file"
    );
    // Not SQLite at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, just words ".repeat(100)).unwrap();
    let err = open(&text).await.unwrap_err().to_string();
    assert!(err.contains("cannot be opened as a SQLite file"), "{err}");
    // Another schema version.
    let changed = altered_file("UPDATE nisshi_schema_version SET version = 2").await;
    let err = open(&changed.path().join("storage.db"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("nisshi_schema_version.version: 2; this reader knows nisshi 0.8.1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_write_ahead_log_left_beside_the_file_is_refused() {
    let dir = altered_file("SELECT 1").await;
    let path = dir.path().join("storage.db");
    std::fs::write(dir.path().join("storage.db-wal"), b"frames").unwrap();
    let err = open(&path).await.unwrap_err().to_string();
    assert!(err.starts_with("-wal: "), "{err}");
    assert!(err.contains("holds writes not yet in the file"), "{err}");
}
