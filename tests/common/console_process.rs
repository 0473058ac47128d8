//! The console as a real process (`byoc-console serve`) on a fresh data directory, for the
//! tests that kill it with SIGKILL and start it again: set up, signed in, with a prepaid key
//! from a vendor key made by the CLI. Also the host's view of the brokers (their processes).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_byoc-console");
const PASSWORD: &str = "Quiet-Harbor-Lamp-42";

/// Runs `command` to its end; its trimmed standard output, or the test fails with its
/// standard error.
pub fn stdout_of(command: &mut Command) -> String {
    let out = command.output().expect("the program runs");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn cli(args: &[&str]) -> String {
    stdout_of(Command::new(BIN).args(args).env("RUST_LOG", "error"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `serve` flags for Kafka clusters whose blocks of ports (48 per instance) are taken from
/// FIRST-LAST (Kafka's jars where scripts/setup.sh puts them).
pub fn kafka_flags(ports: &str) -> Vec<String> {
    vec![
        "--provisioner".into(),
        "kafka".into(),
        "--kafka-ports".into(),
        ports.into(),
    ]
}

pub fn serve_with<S: AsRef<std::ffi::OsStr>>(
    data: &Path,
    vendor: &Path,
    port: u16,
    extra: &[S],
) -> Child {
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
        .env(
            "RUST_LOG",
            "warn,app::server::reconciler=info,app::server::kafka=info,byoc_engine=info",
        )
        .env("NO_COLOR", "1")
        // Every console of the test appends to one log beside the data directory.
        .stdout(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.with_file_name("console.log"))
                .expect("console log"),
        ))
        .spawn()
        .expect("serve starts")
}

pub async fn wait_healthy(base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the console did not start");
}

pub async fn post<F: serde::Serialize + ?Sized>(
    client: &reqwest::Client,
    url: String,
    form: &F,
) -> reqwest::Response {
    client.post(url).form(form).send().await.expect("request")
}

pub async fn detail(client: &reqwest::Client, base: &str, id: &str) -> Value {
    post(client, format!("{base}/api/instance"), &[("id", id)])
        .await
        .json()
        .await
        .expect("json")
}

pub struct Activated {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub vendor: PathBuf,
    pub port: u16,
    pub base: String,
    pub client: reqwest::Client,
    pub console: Child,
}

impl Activated {
    /// SIGKILL, as a crash or `kill -9` would end it.
    pub fn kill(&mut self) {
        self.console.kill().expect("SIGKILL");
        self.console.wait().expect("reaped");
    }

    /// SIGTERM, as a service manager stops it, and wait until it has exited.
    pub fn stop_gracefully(&mut self) {
        let pid = self.console.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        self.console.wait().expect("reaped");
    }

    /// A new console process on the same data directory and port, once it answers.
    pub async fn restart<S: AsRef<std::ffi::OsStr>>(&mut self, extra: &[S]) {
        self.console = serve_with(&self.data, &self.vendor, self.port, extra);
        wait_healthy(&self.base).await;
    }

    /// The lines of the consoles' log that mention `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        std::fs::read_to_string(self.data.with_file_name("console.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }

    /// The directory of instance `id`'s Kafka cluster (its nodes' directories inside).
    pub fn instance_dir(&self, id: &str) -> PathBuf {
        self.data.join("kafka").join(format!("instance-{id}"))
    }

    /// Every Kafka node process working in this data directory, with its directory.
    pub fn nodes(&self) -> Vec<(PathBuf, i32)> {
        let root = std::fs::canonicalize(self.data.join("kafka")).unwrap_or_default();
        processes()
            .into_iter()
            .filter(|(cwd, _)| cwd.parent().and_then(Path::parent) == Some(root.as_path()))
            .collect()
    }

    /// Kills (SIGKILL) every node of this data directory: they outlive the console.
    pub fn kill_nodes(&self) {
        for (_, pid) in self.nodes() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        let _ = self.console.kill();
        let _ = self.console.wait();
        self.kill_nodes();
    }
}

/// Live processes (not zombies) with their working directories.
pub fn processes() -> Vec<(PathBuf, i32)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            !stat.is_empty() && !stat.contains(") Z ")
        })
        .filter_map(|pid| Some((std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?, pid)))
        .collect()
}

/// Processes (not zombies) working in a directory of `dir`: the nodes of one instance's
/// cluster, by pid (sorted).
pub fn nodes_in(dir: &Path) -> Vec<i32> {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = processes()
        .into_iter()
        .filter(|(cwd, _)| cwd.parent() == Some(dir.as_path()))
        .map(|(_, pid)| pid)
        .collect();
    pids.sort_unstable();
    pids
}

/// A console process on a fresh data directory, set up, signed in, with a prepaid key of
/// `aku` AKU.
pub async fn activated<S: AsRef<std::ffi::OsStr>>(extra: &[S], aku: u32) -> Activated {
    let aku = aku.to_string();
    let key = ["--billing", "prepaid", "--aku", &aku, "--months", "12"];
    activated_with(extra, &key).await
}

/// [`activated`] with a key issued with `key_args` (billing, AKU, term, prices, listing).
pub async fn activated_with<S: AsRef<std::ffi::OsStr>>(
    extra: &[S],
    key_args: &[&str],
) -> Activated {
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
    ]
    .into_iter()
    .chain(key_args.iter().copied())
    .collect::<Vec<_>>());
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

/// Waits until the console's control loop has finished `passes` passes over every instance
/// since it started (`byoc_control_loop_passes_total` on /metrics, open to loopback).
pub async fn wait_for_passes(console: &Activated, passes: u64) {
    let started = Instant::now();
    loop {
        let text = reqwest::get(format!("{}/metrics", console.base))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics text");
        let done = text
            .lines()
            .find_map(|l| l.strip_prefix("byoc_control_loop_passes_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if done >= passes as f64 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the control loop made {done} passes, not {passes}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
