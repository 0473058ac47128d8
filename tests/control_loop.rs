//! The control loop and the data plane that outlives the console, with real processes: the
//! console as a process killed with SIGKILL, real Kafka clusters (three JVM nodes each),
//! confluent-kafka as the client, the console's SQLite file read directly.
//!
//! - Under load (32 clients creating, scaling and deleting, on the simulated provisioner:
//!   dozens of instances, more than this host could run as clusters), the console is
//!   SIGKILLed and restarted again and again, some kills placed right after a step commits;
//!   afterwards no operation is left running, nothing is missing from the audit log, the
//!   chain verifies and the quota was never exceeded. (Nodes adopted and none restarted
//!   across console kills: tests/restart.rs, with real clusters.)
//! - A hung node (SIGSTOP) is found by three failed probes in a row and replaced, audited,
//!   while its cluster goes on serving.
//! - A producer (acks=all) sending every 10 ms sees no failure across a console SIGKILL and
//!   restart.

mod common;

use common::console_process::*;
use common::instance_form;
use common::kafka::{answers_metadata, consume, kafka};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLAIN: [(&str, &str); 2] = [
    ("client_auth", "anonymous"),
    ("transit_encryption", "plaintext"),
];

/// The console's database, read beside it (WAL: readers never block the console).
async fn read_only(data: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(data.join("console.db"))
        .read_only(true)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("database opens")
}

async fn scalar(db: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Creates an instance; its id, or the refusal.
async fn create(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    size: u32,
) -> Result<String, String> {
    let form = instance_form(name, size, &PLAIN);
    let url = format!("{base}/api/instance_create");
    let response = client
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

async fn wait_state(console: &Activated, id: &str, wanted: &str, within: Duration) -> String {
    let started = Instant::now();
    loop {
        let d = detail(&console.client, &console.base, id).await;
        if d["summary"]["state"] == wanted {
            return d["summary"]["bootstrap"].as_str().unwrap_or("").to_string();
        }
        assert!(started.elapsed() < within, "not {wanted} in time: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(pid: i32, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
}

/// A tiny deterministic generator (no dependency): each client its own sequence.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One client of the load: creates, scales and deletes for as long as `running` holds.
/// Refusals (quota, conflicts) and connection errors while the console is down are part of
/// the load, not failures.
async fn load_client(
    client: reqwest::Client,
    base: String,
    client_no: u64,
    running: Arc<AtomicBool>,
) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (client_no + 1));
    let mut created = 0;
    while running.load(Ordering::SeqCst) {
        match rng.below(10) {
            0..=4 => {
                created += 1;
                let name = format!("c{client_no}-n{created}");
                let size = 3 + rng.below(4) as u32;
                let _ = create(&client, &base, &name, size).await;
            }
            choice => {
                let list = client.post(format!("{base}/api/instances")).send().await;
                let Ok(list) = list else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Ok(list) = list.json::<serde_json::Value>().await else {
                    continue;
                };
                let running_ones: Vec<(String, String, u64)> = list["instances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["state"] == "running")
                    .filter_map(|i| {
                        Some((
                            i["id"].as_i64()?.to_string(),
                            i["name"].as_str()?.to_string(),
                            i["size_aku"].as_u64()?,
                        ))
                    })
                    .collect();
                if running_ones.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let (id, name, size) = &running_ones[rng.below(running_ones.len() as u64) as usize];
                let form: Vec<(&str, String)> = if choice <= 7 {
                    let to = if *size > 3 && rng.below(2) == 0 {
                        size - 1
                    } else {
                        size + 1
                    };
                    vec![("id", id.clone()), ("size_aku", to.to_string())]
                } else {
                    vec![("id", id.clone()), ("confirm_name", name.clone())]
                };
                let endpoint = if choice <= 7 {
                    "instance_scale"
                } else {
                    "instance_delete"
                };
                let _ = client
                    .post(format!("{base}/api/{endpoint}"))
                    .form(&form)
                    .send()
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20 + rng.below(60))).await;
    }
}

/// Waits until a step is recorded as done (one named `step`, when given), then returns at
/// once: the kill that follows lands right after that step's commit.
async fn after_a_step_commits(db: &SqlitePool, step: Option<&str>, within: Duration) -> bool {
    let sql = match step {
        Some(step) => format!(
            "SELECT COUNT(*) FROM operation_steps WHERE finished_at IS NOT NULL AND step_id = '{step}'"
        ),
        None => "SELECT COUNT(*) FROM operation_steps WHERE finished_at IS NOT NULL".into(),
    };
    let before = scalar(db, &sql).await;
    let started = Instant::now();
    while started.elapsed() < within {
        if scalar(db, &sql).await > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_stay_true_across_console_kills_under_load() {
    const QUOTA: i64 = 100;
    let flags = ["--provisioner", "simulated"];
    let mut console = activated(&flags, QUOTA as u32).await;
    let db = read_only(&console.data).await;

    // A sampler, for the whole run: the AKU held (never above the quota).
    let sampling = Arc::new(AtomicBool::new(true));
    let most_held = Arc::new(AtomicU32::new(0));
    let samples = Arc::new(AtomicU32::new(0));
    let sampler = {
        let (db, sampling, most_held, samples) = (
            db.clone(),
            sampling.clone(),
            most_held.clone(),
            samples.clone(),
        );
        tokio::spawn(async move {
            while sampling.load(Ordering::SeqCst) {
                let held = scalar(
                    &db,
                    "SELECT COALESCE(SUM(MAX(size_aku, COALESCE(target_aku, 0))), 0) FROM instances
                     WHERE state <> 'deleted'",
                )
                .await;
                most_held.fetch_max(held as u32, Ordering::SeqCst);
                samples.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // 32 clients for at least 30 s, while the console is killed and restarted 6 times:
    // every other kill right after a step commits, two of them right after a cluster start.
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..32)
        .map(|n| {
            let (client, base) = (console.client.clone(), console.base.clone());
            tokio::spawn(load_client(client, base, n, running.clone()))
        })
        .collect();
    let started = Instant::now();
    let mut placed = 0;
    for kill in 0..6 {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let wait_for = match kill {
            1 | 5 => Some(Some("start-brokers")),
            3 => Some(None),
            _ => None,
        };
        if let Some(step) = wait_for {
            if after_a_step_commits(&db, step, Duration::from_secs(10)).await {
                placed += 1;
            }
        }
        console.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        console.restart(&flags).await;
    }
    while started.elapsed() < Duration::from_secs(32) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.store(false, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    assert!(
        placed >= 2,
        "kills placed right after a step commit: {placed}"
    );

    // Settle: no operation running, and the control loop has had two passes since.
    let settle = Instant::now();
    while scalar(
        &db,
        "SELECT COUNT(*) FROM operations WHERE status = 'running'",
    )
    .await
        > 0
    {
        assert!(
            settle.elapsed() < Duration::from_secs(120),
            "operations still running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sampling.store(false, Ordering::SeqCst);
    sampler.await.unwrap();

    let instances: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, state FROM instances ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    let running_ones = instances.iter().filter(|(_, s)| s == "running").count();
    assert!(
        instances.len() >= 20,
        "the load made {} instances",
        instances.len()
    );
    assert!(running_ones > 0);
    // No instance is left between states once nothing runs.
    let stuck: Vec<&(i64, String)> = instances
        .iter()
        .filter(|(_, s)| !["running", "deleted", "abnormal"].contains(&s.as_str()))
        .collect();
    assert!(stuck.is_empty(), "instances left mid-operation: {stuck:?}");
    // Nothing is missing from the audit log, and the chain verifies.
    let unaudited = scalar(
        &db,
        "SELECT COUNT(*) FROM instances i WHERE NOT EXISTS (SELECT 1 FROM audit_log a
         WHERE a.action = 'instance_create' AND a.target = i.name AND a.outcome = 'success')",
    )
    .await;
    assert_eq!(
        unaudited, 0,
        "instances without their instance_create entry"
    );
    let finished = scalar(
        &db,
        "SELECT COUNT(*) FROM operations WHERE status IN ('succeeded', 'failed')",
    )
    .await;
    let finish_entries = scalar(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('operation_succeeded', 'operation_failed')",
    )
    .await;
    assert_eq!(finish_entries, finished, "one entry per finished operation");
    let verified = cli(&[
        "audit",
        "verify",
        "--data-dir",
        console.data.to_str().unwrap(),
    ]);
    assert!(verified.contains("intact"), "{verified}");
    // The quota was never exceeded.
    assert!(samples.load(Ordering::SeqCst) > 100);
    let most = most_held.load(Ordering::SeqCst);
    assert!(
        most as i64 <= QUOTA,
        "{most} AKU held, over the quota of {QUOTA}"
    );
    println!(
        "{} instances made, {running_ones} running at the end, 6 console kills ({placed} right \
         after a step commit), {finished} operations finished, {} quota samples, at most \
         {most} of {QUOTA} AKU held",
        instances.len(),
        samples.load(Ordering::SeqCst),
    );
}

/// A node that stops answering (SIGSTOP: its process lives and its ports accept connections,
/// but it answers nothing) is replaced after at least three failed probes in a row (the
/// control loop's check and its maintenance each probe, so a pass may count two); the cluster
/// serves throughout on the two others, and the instance stays running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_node_is_replaced_while_its_cluster_serves() {
    let flags = kafka_flags("20900-20999");
    let console = activated(&flags, 100).await;
    let (client, base) = (console.client.clone(), console.base.clone());
    let id = create(&client, &base, "stuck", 3).await.unwrap();
    let bootstrap = wait_state(&console, &id, "running", Duration::from_secs(240)).await;
    let dir = console.instance_dir(&id);
    let before = nodes_in(&dir);
    assert_eq!(before.len(), 3, "{before:?}");
    let hung = before[1];

    signal(hung, "-STOP");
    let stopped_at = Instant::now();
    let started = Instant::now();
    let after = loop {
        let now = nodes_in(&dir);
        if now.len() == 3 && !now.contains(&hung) {
            break now;
        }
        let d = detail(&client, &base, &id).await;
        assert_eq!(d["summary"]["state"], "running", "{d}");
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the hung node {hung} was not replaced: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!(
        "hung node replaced after {:?} (three probes, then SIGTERM ignored for the stop grace, \
         SIGKILL, a new JVM): {before:?} -> {after:?}",
        stopped_at.elapsed()
    );
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = 'system' AND detail LIKE '%replaced%'",
    )
    .fetch_all(&read_only(&console.data).await)
    .await
    .unwrap();
    assert!(
        audited
            .iter()
            .any(|d| d.contains("stopped answering") && d.contains("probes in a row failed")),
        "{audited:?}"
    );
    assert!(answers_metadata(&bootstrap));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_sees_no_failure_across_a_console_kill_and_restart() {
    let flags = kafka_flags("21000-21099");
    let mut console = activated(&flags, 100).await;
    let (client, base) = (console.client.clone(), console.base.clone());
    let id = create(&client, &base, "steady", 3).await.unwrap();
    let bootstrap = wait_state(&console, &id, "running", Duration::from_secs(240)).await;
    let topic = [
        ("id", id.clone()),
        ("topic", "ticks".to_string()),
        ("partitions", "1".to_string()),
    ];
    let created = post(&client, format!("{base}/api/topic_create"), &topic).await;
    assert_eq!(created.status(), 200);

    // One message every 10 ms for 8 s; the console is killed after 2 s and started again.
    let producer = tokio::spawn(kafka(vec![
        "steady".into(),
        bootstrap.clone(),
        "ticks".into(),
        "8".into(),
    ]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    console.kill();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    console.restart(&flags).await;
    println!("console down for {:?}", down.elapsed());
    let report = producer.await.unwrap();
    let figures: Vec<u64> = report
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let (sent, acked, failed) = (figures[0], figures[1], figures[2]);
    println!("sent {sent}, acknowledged {acked}, failed {failed}");
    assert!(sent > 600, "{report}");
    assert_eq!(failed, 0, "{report}");
    assert_eq!(acked, sent, "{report}");
    let consumed = consume(&bootstrap, "ticks", "check", sent as u32).await;
    assert_eq!(consumed, format!("{sent} exact"));
}
