//! One `tansu` broker process per instance: start it and wait until its port answers, stop it
//! (SIGTERM, then SIGKILL), notice when it dies, and clear brokers left behind by a console
//! that was killed. The pid of each broker is kept in its directory (`broker.pid`) so that
//! a new console can find the brokers of the previous one.

use rustix::process::{kill_process, Pid, Signal};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

const PID_FILE: &str = "broker.pid";
const LOG_FILE: &str = "broker.log";
/// How long a started broker may take to answer on its port (it takes 30 to 50 ms).
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopping broker gets after SIGTERM before SIGKILL (it needs about 1.5 s).
const STOP_GRACE: Duration = Duration::from_secs(8);

/// A broker that exited without being asked to.
#[derive(Debug, Clone)]
pub struct Death {
    pub instance_id: i64,
    pub reason: String,
}

/// Where and how one broker listens.
pub struct Launch<'a> {
    pub instance_id: i64,
    pub dir: &'a Path,
    pub port: u16,
    /// The address the listener binds (127.0.0.1, or 0.0.0.0 when clients come from elsewhere).
    pub listen_host: &'a str,
    /// The host clients are told to connect to.
    pub advertised_host: &'a str,
}

struct Child {
    pid: i32,
    /// Set before the console stops the broker, so its exit is not reported as a death.
    stopping: Arc<AtomicBool>,
    exited: watch::Receiver<bool>,
}

pub struct Supervisor {
    bin: PathBuf,
    children: Mutex<HashMap<i64, Child>>,
    deaths: mpsc::UnboundedSender<Death>,
}

impl Supervisor {
    pub fn new(bin: PathBuf) -> (Arc<Supervisor>, mpsc::UnboundedReceiver<Death>) {
        let (deaths, receiver) = mpsc::unbounded_channel();
        let supervisor = Arc::new(Supervisor {
            bin,
            children: Mutex::new(HashMap::new()),
            deaths,
        });
        (supervisor, receiver)
    }

    /// Instances whose broker this console runs now.
    pub fn running(&self) -> Vec<i64> {
        self.children
            .lock()
            .map(|c| c.keys().copied().collect())
            .unwrap_or_default()
    }

    pub fn is_running(&self, instance_id: i64) -> bool {
        self.children
            .lock()
            .map(|c| c.contains_key(&instance_id))
            .unwrap_or(false)
    }

    /// Starts the broker unless this console runs it already; returns once its port answers.
    pub async fn start(self: &Arc<Self>, launch: Launch<'_>) -> Result<(), String> {
        if self.is_running(launch.instance_id) {
            return Ok(());
        }
        // A broker of a console that was killed may still hold the port and the files.
        stop_stale(launch.dir).await;
        if answers(launch.port).await {
            return Err(format!(
                "port {} is in use by another program; free it, or delete this instance and \
                 create it again (a new instance gets a free port)",
                launch.port
            ));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.dir.join(LOG_FILE))
            .map_err(|e| format!("cannot open the broker log: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot open the broker log: {e}"))?;
        let mut child = tokio::process::Command::new(&self.bin)
            .arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://{}:{}", launch.listen_host, launch.port))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://{}:{}", launch.advertised_host, launch.port))
            // Taken relative to the working directory (see ../shared/kafka-broker.md).
            .arg("--storage-engine")
            .arg("sqlite://tansu.db")
            .arg("--cluster-id")
            .arg(format!("byoc-{}", launch.instance_id))
            .current_dir(launch.dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Its own process group: a Ctrl-C meant for the console does not reach it, and
            // the console stops it in order.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or("the broker exited at once")?;
        if let Err(e) = std::fs::write(launch.dir.join(PID_FILE), pid.to_string()) {
            let _ = child.start_kill();
            return Err(format!("cannot write the broker's pid file: {e}"));
        }

        // The broker exits 0 when it cannot bind, so the exit code proves nothing: wait for
        // the port to answer while the process is still alive.
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let _ = std::fs::remove_file(launch.dir.join(PID_FILE));
                return Err(format!(
                    "the broker exited ({status}) before answering on port {}: {}",
                    launch.port,
                    last_log_line(launch.dir)
                ));
            }
            if answers(launch.port).await {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let _ = std::fs::remove_file(launch.dir.join(PID_FILE));
                return Err(format!(
                    "the broker did not answer on port {} within {} s",
                    launch.port,
                    READY_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let stopping = Arc::new(AtomicBool::new(false));
        let (exited_tx, exited) = watch::channel(false);
        if let Ok(mut children) = self.children.lock() {
            children.insert(
                launch.instance_id,
                Child {
                    pid,
                    stopping: stopping.clone(),
                    exited,
                },
            );
        }
        let supervisor = Arc::downgrade(self);
        let instance_id = launch.instance_id;
        let port = launch.port;
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exited_tx.send(true);
            let Some(supervisor) = supervisor.upgrade() else {
                return;
            };
            if let Ok(mut children) = supervisor.children.lock() {
                if children.get(&instance_id).is_some_and(|c| c.pid == pid) {
                    children.remove(&instance_id);
                }
            }
            if !stopping.load(Ordering::SeqCst) {
                let how = match status {
                    Ok(status) => status.to_string(),
                    Err(e) => e.to_string(),
                };
                tracing::warn!(instance = instance_id, pid, %how, "broker process died");
                let _ = supervisor.deaths.send(Death {
                    instance_id,
                    reason: format!("the broker process on port {port} exited ({how})"),
                });
            }
        });
        tracing::info!(instance = instance_id, pid, port, "broker serving");
        Ok(())
    }

    /// Stops the instance's broker (this console's or one left by a previous console) and
    /// waits until it has exited. Its data stays.
    pub async fn stop(&self, instance_id: i64, dir: &Path) {
        let child = self
            .children
            .lock()
            .ok()
            .and_then(|mut c| c.remove(&instance_id));
        if let Some(mut child) = child {
            child.stopping.store(true, Ordering::SeqCst);
            signal(child.pid, Signal::TERM);
            let waited = tokio::time::timeout(STOP_GRACE, child.exited.wait_for(|e| *e))
                .await
                .is_ok();
            if !waited {
                tracing::warn!(instance = instance_id, "broker ignored SIGTERM; killing it");
                signal(child.pid, Signal::KILL);
                let _ = child.exited.wait_for(|e| *e).await;
            }
        }
        stop_stale(dir).await;
    }

    /// Stops every broker of this console at once (at shutdown: SIGTERM to all, then wait).
    /// Their instances stay `running`: the next start serves them again.
    pub async fn stop_all(&self) {
        let children: Vec<Child> = self
            .children
            .lock()
            .map(|mut c| c.drain().map(|(_, child)| child).collect())
            .unwrap_or_default();
        for child in &children {
            child.stopping.store(true, Ordering::SeqCst);
            signal(child.pid, Signal::TERM);
        }
        for mut child in children {
            let waited = tokio::time::timeout(STOP_GRACE, child.exited.wait_for(|e| *e))
                .await
                .is_ok();
            if !waited {
                signal(child.pid, Signal::KILL);
            }
        }
    }
}

/// True when something accepts TCP connections on the port (on loopback).
pub async fn answers(port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            TcpStream::connect(("127.0.0.1", port))
        )
        .await,
        Ok(Ok(_))
    )
}

fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, sig);
    }
}

/// The pid in the directory's pid file, if that process is alive and is a broker working in
/// this very directory (a pid may have been reused by an unrelated process).
fn stale_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    (cwd == dir).then_some(pid)
}

/// Stops a broker left running by a previous console (SIGTERM, then SIGKILL) and removes its
/// pid file.
pub async fn stop_stale(dir: &Path) {
    stop_stale_all(&[dir.to_path_buf()]).await;
}

/// [`stop_stale`] for many directories at once: every stale broker gets SIGTERM first, then
/// they are waited for together (at start after a kill -9, one by one would take 1.5 s each).
pub async fn stop_stale_all(dirs: &[PathBuf]) {
    let pids: Vec<i32> = dirs.iter().filter_map(|dir| stale_pid(dir)).collect();
    for pid in &pids {
        tracing::info!(pid, "stopping a broker left by a previous console");
        signal(*pid, Signal::TERM);
    }
    let alive = |pid: &i32| Path::new(&format!("/proc/{pid}")).exists();
    let started = Instant::now();
    while pids.iter().any(alive) && started.elapsed() < STOP_GRACE * 2 {
        if started.elapsed() > STOP_GRACE {
            pids.iter()
                .filter(|p| alive(p))
                .for_each(|p| signal(*p, Signal::KILL));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for dir in dirs {
        let _ = std::fs::remove_file(dir.join(PID_FILE));
    }
}

/// The broker's last log line, without its colour codes, for an error message.
fn last_log_line(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    let mut clean = String::with_capacity(line.len());
    let mut in_escape = false;
    for ch in line.chars() {
        match (in_escape, ch) {
            (false, '\u{1b}') => in_escape = true,
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
            (false, c) => clean.push(c),
        }
    }
    let clean = clean.trim();
    clean.chars().take(300).collect()
}
