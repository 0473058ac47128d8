//! The move from tansu 0.6.0 to nisshi 0.8.1, with the real nisshi broker and a real Kafka
//! client (confluent-kafka, `tests/kafka/client.py headers`): a storage file that tansu 0.6.0
//! wrote (tests/fixtures/tansu-0.6.0, made by scripts/make_tansu_fixture.py), migrated by
//! `upgrade::migrate_storage`, serves every old message with its headers in order, keeps the
//! consumer group's committed offsets, and has the schema nisshi gives a new file; unmigrated,
//! nisshi cannot serve a fetch from it. Needs nisshi 0.8.1 (scripts/setup.sh installs it;
//! `BYOC_BROKER_BIN` names another binary). Ports 19960-19963.

mod common;

use app::server::broker::meter::{self, Counters};
use app::server::broker::upgrade::{migrate_storage, Migration};
use common::console_process::broker_bin;
use common::kafka::kafka;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tansu-0.6.0/tansu.db"
);
const STORAGE: &str = "tansu.db";

/// A nisshi broker in `dir` on 127.0.0.1:`port`; killed on drop, so a failed assertion does
/// not leave it running.
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let bin = broker_bin();
        let version = Command::new(&bin).arg("--version").output();
        let version = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        assert!(
            matches!(&version, Ok(v) if v.starts_with("nisshi 0.8")),
            "{} is not nisshi 0.8 ({version:?}); scripts/setup.sh installs it",
            bin.display()
        );
        // nisshi exits with code 0 when its port is taken: make sure the port is ours.
        drop(TcpListener::bind(("127.0.0.1", port)).expect("the test's broker port is free"));
        let log = std::fs::File::create(dir.join("broker.log")).unwrap();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &format!("sqlite://{STORAGE}")])
            .args(["--cluster-id", "byoc-1"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nisshi starts");
        let mut broker = Broker { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = broker.child.try_wait().unwrap() {
                panic!("nisshi exited ({status}) before port {port} answered");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "port {port} did not answer"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        broker
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGTERM (a clean stop, the WAL checkpointed), then waits for the process to end.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "nisshi did not stop"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A temporary directory holding a copy of the tansu 0.6.0 file.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join(STORAGE)).unwrap();
    dir
}

/// client.py headers: the group's committed offsets and every message of `legacy` with its
/// headers (see the mode's docstring).
async fn read_legacy(bootstrap: &str) -> Value {
    let out = kafka(vec![
        "headers".into(),
        bootstrap.into(),
        "legacy".into(),
        "legacy-group".into(),
        "20".into(),
    ])
    .await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// What the fixture holds (scripts/make_tansu_fixture.py): record i in partition i % 2 at
/// offset i / 2, key `key-NN`, value `legacy NN`, headers (trace, NN) then (app, fixture).
fn assert_all_legacy_messages(read: &Value) {
    let mut messages = read["messages"].as_array().expect("messages").clone();
    messages.sort_by_key(|m| m["key"].as_str().unwrap_or_default().to_string());
    assert_eq!(messages.len(), 20, "{read}");
    for (i, message) in messages.iter().enumerate() {
        let nn = format!("{i:02}");
        assert_eq!(
            message,
            &json!({
                "partition": i % 2,
                "offset": i / 2,
                "key": format!("key-{nn}"),
                "value": format!("legacy {nn}"),
                "headers": [["trace", nn], ["app", "fixture"]],
            }),
        );
    }
}

/// The group `legacy-group` committed 6 in partition 0 and 4 in partition 1 under tansu.
fn assert_committed_offsets_carried_over(read: &Value) {
    assert_eq!(read["committed"], json!({"0": 6, "1": 4}), "{read}");
}

#[tokio::test]
async fn a_migrated_tansu_file_serves_its_messages_headers_and_offsets_on_nisshi() {
    let dir = fixture_copy();
    let file = dir.path().join(STORAGE);
    let size = std::fs::metadata(&file).unwrap().len();

    let started = Instant::now();
    let migration = migrate_storage(&file).await.unwrap();
    let took = started.elapsed();
    assert_eq!(migration, Migration::Migrated { headers: 40 });
    eprintln!(
        "migrated {size} bytes in {took:?}; now {} bytes",
        std::fs::metadata(&file).unwrap().len()
    );

    let broker = Broker::start(dir.path(), 19960);
    let read = read_legacy(&broker.bootstrap()).await;
    assert_all_legacy_messages(&read);
    assert_committed_offsets_carried_over(&read);

    // The traffic meter's queries read nisshi's file as they read tansu's: 20 messages in
    // (10 + 10 high watermarks), 10 committed, 20 x (6 key + 9 value bytes).
    let counters = meter::read(dir.path(), Counters::default()).await.unwrap();
    assert_eq!(
        (
            counters.messages_in,
            counters.messages_out,
            counters.bytes_in
        ),
        (20, 10, 300)
    );
    broker.stop();

    // nisshi changed nothing that the migration would redo.
    assert_eq!(
        migrate_storage(&file).await.unwrap(),
        Migration::AlreadyCurrent
    );
}

#[tokio::test]
async fn without_the_migration_nisshi_cannot_fetch_from_a_tansu_file() {
    let dir = fixture_copy();
    let file = dir.path().join(STORAGE);

    let broker = Broker::start(dir.path(), 19961);
    let read = read_legacy(&broker.bootstrap()).await;
    broker.stop();
    assert_eq!(read["messages"], json!([]), "{read}");
    // The offsets are readable (the table did not change), the messages are not.
    assert_committed_offsets_carried_over(&read);
    let log = std::fs::read_to_string(dir.path().join("broker.log")).unwrap();
    assert!(log.contains("no such column: h.ordinal"), "{log}");

    // nisshi recorded its schema version in the file but left `header` as it was: the
    // migration still applies, and afterwards the same file serves everything.
    assert_eq!(
        migrate_storage(&file).await.unwrap(),
        Migration::Migrated { headers: 40 }
    );
    let broker = Broker::start(dir.path(), 19962);
    let read = read_legacy(&broker.bootstrap()).await;
    broker.stop();
    assert_all_legacy_messages(&read);
    assert_committed_offsets_carried_over(&read);
}

/// Every table, index and its SQL, as SQLite keeps them.
async fn schema_of(file: &Path) -> Vec<(String, String, Option<String>)> {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let schema = sqlx::query_as("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    schema
}

#[tokio::test]
async fn a_migrated_file_has_the_schema_nisshi_gives_a_new_file() {
    let fresh = tempfile::tempdir().unwrap();
    let broker = Broker::start(fresh.path(), 19963);
    let answered = kafka(vec!["metadata".into(), broker.bootstrap()]).await;
    assert_eq!(answered, "1");
    broker.stop();

    let dir = fixture_copy();
    let file = dir.path().join(STORAGE);
    migrate_storage(&file).await.unwrap();
    assert_eq!(
        schema_of(&file).await,
        schema_of(&fresh.path().join(STORAGE)).await
    );
}
