//! The console killed (SIGKILL) in the middle of an operation: at the next start it takes the
//! operation up from the first step not done, finishes it, and runs no completed step twice.
//! A real process, a real data directory, real HTTP.

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
            "--provisioner",
            "simulated",
        ])
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

async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> reqwest::Response {
    client.post(url).form(form).send().await.expect("request")
}

async fn detail(client: &reqwest::Client, base: &str, id: &str) -> Value {
    post(client, format!("{base}/api/instance"), &[("id", id)])
        .await
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn an_operation_cut_off_by_kill_9_resumes_at_the_next_start() {
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
    let mut console = serve(&data, &vendor, port);
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
    let create = [
        ("name", "orders"),
        ("description", ""),
        ("kafka_version", "3.9.0"),
        ("deployment", "single_zone"),
        ("vpc_id", "vpc-0a1b2c3d"),
        ("subnet_1", "subnet-0000aaaa"),
        ("data_bucket", "acme-kafka"),
        ("wal_mode", "block_volume"),
        ("client_auth", "sasl_scram"),
        ("transit_encryption", "tls"),
        ("endpoint_exposure", "vpc"),
        ("size_aku", "6"),
    ];
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
