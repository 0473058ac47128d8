//! The console killed (SIGKILL) in the middle of an operation: at the next start it takes the
//! operation up from the first step not done, finishes it, and runs no completed step twice.
//! A real process, a real data directory, real HTTP.

mod common;

use common::instance_form;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_byoc-console");
const PASSWORD: &str = "Quiet-Harbor-Lamp-42";

fn cli(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve(data: &Path, vendor: &Path, port: u16) -> Child {
    serve_with(data, vendor, port, &["--provisioner", "simulated"])
}

fn serve_with(data: &Path, vendor: &Path, port: u16, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            data.to_str().unwrap(),
            "--secure-cookies",
            "false",
            "--trust-key",
            vendor.join("public-key.json").to_str().unwrap(),
            "--provision-step-ms",
            "400",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts")
}

async fn wait_healthy(base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the console did not start");
}

async fn post<F: serde::Serialize + ?Sized>(
    client: &reqwest::Client,
    url: String,
    form: &F,
) -> reqwest::Response {
    client.post(url).form(form).send().await.expect("request")
}

async fn detail(client: &reqwest::Client, base: &str, id: &str) -> Value {
    post(client, format!("{base}/api/instance"), &[("id", id)])
        .await
        .json()
        .await
        .expect("json")
}

struct Activated {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    vendor: std::path::PathBuf,
    port: u16,
    base: String,
    client: reqwest::Client,
    console: Child,
}

/// A console process on a fresh data directory, set up, signed in, with a prepaid key.
async fn activated(extra: &[&str]) -> Activated {
    let dir = tempfile::tempdir().unwrap();
    let (data, vendor) = (dir.path().join("data"), dir.path().join("vendor"));
    cli(&[
        "vendor",
        "keygen",
        "--out",
        vendor.to_str().unwrap(),
        "--key-id",
        "restart-test",
    ]);
    let installation_id = cli(&["installation-id", "--data-dir", data.to_str().unwrap()]);
    let issued = cli(&[
        "vendor",
        "issue",
        "--signing-key",
        vendor.join("signing-key.json").to_str().unwrap(),
        "--installation-id",
        &installation_id,
        "--customer",
        "Acme",
        "--billing",
        "prepaid",
        "--aku",
        "100",
        "--months",
        "12",
    ]);
    let key = issued.lines().last().unwrap().to_string();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let console = serve_with(&data, &vendor, port, extra);
    wait_healthy(&base).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let setup = [
        ("username", "admin"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("environment_name", "Production"),
        ("cloud_provider", "aws"),
        ("region", "eu-central-1"),
    ];
    assert_eq!(
        post(&client, format!("{base}/api/setup"), &setup)
            .await
            .status(),
        200
    );
    let login = [("username", "admin"), ("password", PASSWORD)];
    assert_eq!(
        post(&client, format!("{base}/api/login"), &login)
            .await
            .status(),
        200
    );
    assert_eq!(
        post(
            &client,
            format!("{base}/api/license_apply"),
            &[("key", &key)]
        )
        .await
        .status(),
        200
    );
    Activated {
        dir,
        data,
        vendor,
        port,
        base,
        client,
        console,
    }
}

#[tokio::test]
async fn an_operation_cut_off_by_kill_9_resumes_at_the_next_start() {
    let Activated {
        dir: _dir,
        data,
        vendor,
        port,
        base,
        client,
        mut console,
    } = activated(&["--provisioner", "simulated"]).await;
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
    console.kill().expect("SIGKILL");
    console.wait().unwrap();

    // Start again on the same data directory; the session (in SQLite) survives too.
    let mut console = serve(&data, &vendor, port);
    wait_healthy(&base).await;
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
    console.kill().ok();
    console.wait().ok();

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

/// Processes (not zombies) whose working directory is `dir`: the brokers of one instance.
fn brokers_in(dir: &Path) -> Vec<i32> {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .ok()
                .as_deref()
                == Some(&dir)
        })
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            !stat.contains(") Z ")
        })
        .collect()
}

#[tokio::test]
async fn after_a_console_kill_9_each_running_instance_has_exactly_one_broker() {
    let tansu = std::env::var("BYOC_BROKER_BIN")
        .unwrap_or_else(|_| format!("{}/.cargo/bin/tansu", std::env::var("HOME").unwrap()));
    let broker_flags = [
        "--provisioner",
        "broker",
        "--broker-bin",
        tansu.as_str(),
        "--broker-ports",
        "19640-19659",
    ];
    let Activated {
        dir: _dir,
        data,
        vendor,
        port,
        base,
        client,
        mut console,
    } = activated(&broker_flags).await;
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
    let wait_running = |client: reqwest::Client, base: String, id: String| async move {
        let started = Instant::now();
        loop {
            let d = detail(&client, &base, &id).await;
            if d["summary"]["state"] == "running" {
                return d["summary"]["bootstrap"].as_str().unwrap().to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{d}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut bootstraps = Vec::new();
    for id in &ids {
        bootstraps.push(wait_running(client.clone(), base.clone(), id.clone()).await);
    }
    let dirs: Vec<_> = ids
        .iter()
        .map(|id| data.join("brokers").join(format!("instance-{id}")))
        .collect();
    let before: Vec<Vec<i32>> = dirs.iter().map(|d| brokers_in(d)).collect();
    assert!(before.iter().all(|b| b.len() == 1), "{before:?}");

    console.kill().expect("SIGKILL");
    console.wait().unwrap();
    let mut console = serve_with(&data, &vendor, port, &broker_flags);
    wait_healthy(&base).await;
    // The brokers the killed console left are replaced: exactly one per instance, serving.
    let started = Instant::now();
    loop {
        let now: Vec<Vec<i32>> = dirs.iter().map(|d| brokers_in(d)).collect();
        let replaced = now.iter().zip(&before).all(|(n, b)| n.len() == 1 && n != b);
        let serving = bootstraps
            .iter()
            .all(|b| std::net::TcpStream::connect(b.as_str()).is_ok());
        if replaced && serving {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{now:?} (before {before:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        let d = detail(&client, &base, id).await;
        assert_eq!(d["summary"]["state"], "running", "{d}");
    }
    // Clean up: this console's brokers outlive its SIGKILL, as the first ones did.
    console.kill().ok();
    console.wait().ok();
    for dir in &dirs {
        for pid in brokers_in(dir) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}
