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

/// The data plane outlives the console. (This test asserted the opposite before the control
/// loop: that a killed console's brokers were replaced by new ones at the next start.)
#[tokio::test]
async fn brokers_outlive_the_console_and_are_adopted_not_restarted() {
    let flags = broker_flags("19640-19659");
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
            assert!(started.elapsed() < Duration::from_secs(30), "{d}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let pids = |console: &Activated| -> Vec<Vec<i32>> {
        ids.iter()
            .map(|id| brokers_in(&console.broker_dir(id)))
            .collect()
    };
    let serving = || {
        bootstraps
            .iter()
            .all(|b| std::net::TcpStream::connect(b.as_str()).is_ok())
    };
    let before = pids(&console);
    assert!(before.iter().all(|b| b.len() == 1), "{before:?}");

    // SIGKILL: the brokers go on serving while no console runs, and the next console adopts
    // them: the same processes, exactly one per instance.
    console.kill();
    assert!(serving(), "brokers serve while the console is down");
    assert_eq!(pids(&console), before);
    console.restart(&flags).await;
    // Two passes of the control loop (every 2 s) later, nothing was replaced.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(pids(&console), before, "no broker restarted");
    assert!(serving());
    for id in &ids {
        let d = detail(&client, &base, id).await;
        assert_eq!(d["summary"]["state"], "running", "{d}");
    }

    // A graceful stop (SIGTERM) leaves them serving too.
    console.stop_gracefully();
    assert!(serving(), "brokers serve after a graceful stop");
    assert_eq!(pids(&console), before);

    // The documented way to take them down with the console (for uninstalling).
    let mut stopping = flags.clone();
    stopping.push("--stop-brokers-on-exit".into());
    console.restart(&stopping).await;
    assert_eq!(pids(&console), before, "adopted again");
    console.stop_gracefully();
    assert!(
        pids(&console).iter().all(Vec::is_empty),
        "{:?}",
        pids(&console)
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
