//! The console killed (SIGKILL) in the middle of an operation: at the next start it takes the
//! operation up from the first step not done, finishes it, and runs no completed step twice.
//! A real process, a real data directory, real HTTP.

mod common;

use common::console_process::*;
use common::instance_form;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_operation_cut_off_by_kill_9_resumes_at_the_next_start() {
    let simulated = ["--provisioner", "simulated"];
    let mut console = activated(&simulated, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());
    let create = instance_form("orders", 6, &[]);
    let response = post(&client, format!("{base}/api/instance_create"), &create).await;
    assert_eq!(response.status(), 200);
    let id = response.text().await.unwrap();

    // Kill it once two of the five steps are recorded as done.
    let started = Instant::now();
    loop {
        let d = detail(&client, &base, &id).await;
        let done = d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "done")
            .count();
        if done >= 2 {
            assert_eq!(d["summary"]["state"], "creating");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no progress: {d}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    console.kill();

    // Start again on the same data directory; the session (in SQLite) survives too.
    console.restart(&simulated).await;
    let started = Instant::now();
    let d = loop {
        let d = detail(&client, &base, &id).await;
        if d["summary"]["state"] == "running" {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not resumed: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    console.kill();

    let ops = d["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "one operation, not a second one: {d}");
    assert_eq!(ops[0]["status"], "succeeded");
    let steps = d["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "done"), "{d}");
    // The two steps done before the kill did not run again.
    assert_eq!(steps[0]["attempts"], 1, "{d}");
    assert_eq!(steps[1]["attempts"], 1, "{d}");
    assert!(d["summary"]["bootstrap"]
        .as_str()
        .unwrap()
        .ends_with(":9093"));
}

/// The data plane outlives the console: two Kafka clusters (six JVMs) keep serving while the
/// console is SIGKILLed, and the next console adopts every node without restarting one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_nodes_outlive_the_console_and_are_adopted_not_restarted() {
    let flags = kafka_flags("20700-20899");
    let mut console = activated(&flags, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());
    let mut ids = Vec::new();
    for name in ["alpha", "beta"] {
        let form = instance_form(
            name,
            3,
            &[
                ("client_auth", "anonymous"),
                ("transit_encryption", "plaintext"),
            ],
        );
        let response = post(&client, format!("{base}/api/instance_create"), &form).await;
        assert_eq!(response.status(), 200);
        ids.push(response.text().await.unwrap());
    }
    let mut bootstraps = Vec::new();
    for id in &ids {
        let started = Instant::now();
        loop {
            let d = detail(&client, &base, id).await;
            if d["summary"]["state"] == "running" {
                bootstraps.push(d["summary"]["bootstrap"].as_str().unwrap().to_string());
                break;
            }
            // Three JVMs and a quorum election per cluster, two clusters at once.
            assert!(started.elapsed() < Duration::from_secs(240), "{d}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let pids = |console: &Activated| -> Vec<Vec<i32>> {
        ids.iter()
            .map(|id| nodes_in(&console.instance_dir(id)))
            .collect()
    };
    // Every node of every bootstrap list accepts connections.
    let serving = || {
        bootstraps
            .iter()
            .flat_map(|b| b.split(','))
            .all(|node| std::net::TcpStream::connect(node).is_ok())
    };
    let before = pids(&console);
    assert!(before.iter().all(|b| b.len() == 3), "{before:?}");

    // SIGKILL: the nodes go on serving while no console runs, and the next console adopts
    // them: the same processes, three per instance.
    console.kill();
    assert!(serving(), "nodes serve while the console is down");
    for b in &bootstraps {
        assert!(common::kafka::answers_metadata(b), "{b} answers Kafka");
    }
    assert_eq!(pids(&console), before);
    console.restart(&flags).await;
    // The control loop's first pass (at its start) and two more (every 2 s) have looked at
    // both clusters: nothing was replaced.
    wait_for_passes(&console, 3).await;
    assert_eq!(pids(&console), before, "no node restarted");
    assert!(serving());
    for id in &ids {
        let d = detail(&client, &base, id).await;
        assert_eq!(d["summary"]["state"], "running", "{d}");
    }

    // A graceful stop (SIGTERM) leaves them serving too.
    console.stop_gracefully();
    assert!(serving(), "nodes serve after a graceful stop");
    assert_eq!(pids(&console), before);

    // The documented way to take them down with the console (for uninstalling).
    let mut stopping = flags.clone();
    stopping.push("--stop-brokers-on-exit".into());
    console.restart(&stopping).await;
    assert_eq!(pids(&console), before, "adopted again");
    console.stop_gracefully();
    let left = pids(&console);
    assert!(
        left.iter().all(Vec::is_empty),
        "{left:?} still run after the stop; the consoles' log ends:\n{}",
        console
            .log_lines("")
            .iter()
            .rev()
            .take(40)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!serving());
}

/// `serve --api-burst 3 --api-rate 1`: a token's fourth request at once is refused with 429
/// and Retry-After (the flags reach the limiter; the defaults are tested in-process).
#[tokio::test]
async fn the_rest_rate_limit_is_set_on_the_command_line() {
    let flags = [
        "--provisioner",
        "simulated",
        "--api-burst",
        "3",
        "--api-rate",
        "1",
    ];
    let mut console = activated(&flags, 100).await;
    let (base, client) = (console.base.clone(), console.client.clone());
    let account = post(
        &client,
        format!("{base}/api/service_account_create"),
        &[("name", "ci-bot"), ("role", "viewer"), ("expires", "")],
    )
    .await;
    assert_eq!(account.status(), 200);
    let token = account.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let api = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = api
            .get(format!("{base}/api/v1/environment"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    console.stop_gracefully();
}
