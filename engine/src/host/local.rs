//! Nodes as `java` processes on this host: `java -cp 'libs/*' kafka.Kafka server.properties`
//! started in the node's directory, in a session of its own (no signal meant for the console
//! reaches it), found again by its pid file, its working directory and its command line (a
//! reused pid is never taken for a node), stopped with SIGTERM then SIGKILL.

use super::{HostError, NodeExit, NodeHost, NodeStart, Running};
use anyhow::{anyhow, Context};
use rustix::process::{kill_process, Pid, Signal};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const PID_FILE: &str = "node.pid";
pub const LOG_FILE: &str = "node.log";
/// The properties file in each node's directory.
pub const PROPERTIES: &str = "server.properties";
/// Written by `StorageTool format` into the data directory: the node is formatted.
const FORMATTED_MARK: &str = "data/meta.properties";
/// The main class every node runs; how a node's process is recognised.
const MAIN_CLASS: &str = "kafka.Kafka";

/// Where Kafka is installed (scripts/fetch_kafka.sh) and how its JVMs run.
#[derive(Debug, Clone)]
pub struct KafkaInstall {
    /// `java` (17 or newer).
    pub java: PathBuf,
    /// The directory of Kafka's jars and their dependencies.
    pub libs: PathBuf,
    /// log4j2 configuration of the nodes.
    pub log4j: PathBuf,
    /// The Prometheus JMX exporter agent jar and its rules, when metrics are wanted.
    pub metrics: Option<(PathBuf, PathBuf)>,
}

/// The nodes' log4j2 configuration and the metrics exporter's rules, in the binary: nothing
/// of the repository is needed where the console runs.
const LOG4J2_YAML: &str = include_str!("../../../kafka/log4j2.yaml");
const JMX_EXPORTER_YAML: &str = include_str!("../../../kafka/jmx-exporter.yaml");
/// The exporter's jar, as scripts/fetch_kafka.sh copies it beside Kafka's.
pub const JMX_AGENT_JAR: &str = "jmx_prometheus_javaagent-1.0.1.jar";

impl KafkaInstall {
    /// Kafka's jars in `libs` (scripts/fetch_kafka.sh); the configuration files written into
    /// `conf_dir` (the console's own directory for them).
    pub fn new(libs: PathBuf, conf_dir: &Path) -> std::io::Result<KafkaInstall> {
        std::fs::create_dir_all(conf_dir)?;
        let log4j = conf_dir.join("log4j2.yaml");
        let rules = conf_dir.join("jmx-exporter.yaml");
        std::fs::write(&log4j, LOG4J2_YAML)?;
        std::fs::write(&rules, JMX_EXPORTER_YAML)?;
        let agent = libs.join(JMX_AGENT_JAR);
        Ok(KafkaInstall {
            java: PathBuf::from("java"),
            metrics: agent.exists().then_some((agent, rules)),
            libs,
            log4j,
        })
    }

    /// Where scripts/fetch_kafka.sh puts Kafka's jars: `BYOC_KAFKA_HOME/libs`, by default
    /// `~/.local/share/byoc/kafka-4.4.0/libs`.
    pub fn default_libs() -> PathBuf {
        let home = std::env::var_os("BYOC_KAFKA_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".local/share/byoc/kafka-4.4.0")
            });
        home.join("libs")
    }

    fn classpath(&self) -> String {
        format!("{}/*", self.libs.display())
    }
}

/// Nodes on this host.
pub struct LocalHost {
    install: KafkaInstall,
    exits: mpsc::UnboundedSender<NodeExit>,
    exits_receiver: Mutex<Option<mpsc::UnboundedReceiver<NodeExit>>>,
}

impl LocalHost {
    pub fn new(install: KafkaInstall) -> LocalHost {
        let (exits, receiver) = mpsc::unbounded_channel();
        LocalHost {
            install,
            exits,
            exits_receiver: Mutex::new(Some(receiver)),
        }
    }

    pub fn install(&self) -> &KafkaInstall {
        &self.install
    }

    /// The JVM's flags for a node of `heap_mib`. G1 with short pauses and a fixed heap; class
    /// data sharing on (the JDK's default archive) for a quicker start.
    fn jvm_flags(&self, node: &NodeStart) -> Vec<String> {
        let mut flags = vec![
            format!("-Xms{}m", node.heap_mib),
            format!("-Xmx{}m", node.heap_mib),
            "-XX:+UseG1GC".into(),
            "-XX:MaxGCPauseMillis=20".into(),
            "-XX:+ExitOnOutOfMemoryError".into(),
            "-Djava.awt.headless=true".into(),
            format!(
                "-Dlog4j2.configurationFile={}",
                self.install.log4j.display()
            ),
            format!("-Dkafka.logs.dir={}", node.dir.display()),
        ];
        if let Some((agent, rules)) = &self.install.metrics {
            flags.push(format!(
                "-javaagent:{}=127.0.0.1:{}:{}",
                agent.display(),
                node.metrics_port,
                rules.display()
            ));
        }
        flags
    }
}

/// True while `pid` is a live process (a zombie has exited: it is not).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// How long ago process `pid` started.
pub fn age(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let started_ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(
        (uptime - started_ticks as f64 / ticks as f64).max(0.0),
    ))
}

/// `pid` as the node of the (canonical) directory `dir`: alive, working in `dir`, running
/// Kafka's main class.
fn is_node_of(pid: i32, dir: &Path) -> bool {
    if !alive(pid) {
        return false;
    }
    let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) else {
        return false;
    };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cwd == dir
        && cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == MAIN_CLASS.as_bytes())
}

fn recorded_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The node of `dir` by its pid file, else by a look through every process (one started by a
/// console killed before it wrote the pid file).
fn find_pid(dir: &Path) -> Option<i32> {
    let dir = std::fs::canonicalize(dir).ok()?;
    if let Some(pid) = recorded_pid(&dir).filter(|pid| is_node_of(*pid, &dir)) {
        return Some(pid);
    }
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| is_node_of(*pid, &dir))
}

fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, sig);
    }
}

/// The last lines of a node's log, for an error message.
pub fn log_tail(dir: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[async_trait::async_trait]
impl NodeHost for LocalHost {
    async fn format(
        &self,
        dir: &Path,
        cluster_id: &str,
        initial_controllers: Option<&str>,
    ) -> Result<(), HostError> {
        if dir.join(FORMATTED_MARK).exists() {
            return Ok(());
        }
        let mut command = tokio::process::Command::new(&self.install.java);
        command
            .args(["-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.install.log4j.display()
            ))
            .arg("-cp")
            .arg(self.install.classpath())
            .args(["kafka.tools.StorageTool", "format", "--config"])
            .arg(dir.join(PROPERTIES))
            .args(["--cluster-id", cluster_id]);
        match initial_controllers {
            Some(voters) => command.args(["--initial-controllers", voters]),
            None => command.arg("--no-initial-controllers"),
        };
        let out = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.install.java.display()))?;
        if !out.status.success() || !dir.join(FORMATTED_MARK).exists() {
            return Err(anyhow!(
                "formatting the node's storage failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    async fn start(&self, node: &NodeStart) -> Result<i32, HostError> {
        if let Some(pid) = find_pid(&node.dir) {
            return Err(anyhow!("node {} runs already (pid {pid})", node.node_id));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join(LOG_FILE))
            .context("cannot open the node's log")?;
        let log_err = log.try_clone().context("cannot open the node's log")?;
        let mut command = tokio::process::Command::new(&self.install.java);
        command
            .args(self.jvm_flags(node))
            .arg("-cp")
            .arg(self.install.classpath())
            .arg(MAIN_CLASS)
            .arg(PROPERTIES)
            .current_dir(&node.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // The data plane outlives the console.
            .kill_on_drop(false);
        // SAFETY: runs in the forked child before exec and calls only setsid(2), which is
        // async-signal-safe: a session of its own, so no signal meant for the console's
        // process group reaches the node.
        unsafe {
            command.pre_exec(|| {
                rustix::process::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.install.java.display()))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .context("the node exited at once")?;
        if let Err(e) = std::fs::write(node.dir.join(PID_FILE), pid.to_string()) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(anyhow::Error::new(e).context("cannot write the node's pid file"));
        }
        let (exits, instance_id, node_id) = (self.exits.clone(), node.instance_id, node.node_id);
        tokio::spawn(async move {
            let how = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::info!(instance = instance_id, node = node_id, pid, %how, "Kafka node exited");
            let _ = exits.send(NodeExit {
                instance_id,
                node_id,
                pid,
                how,
            });
        });
        tracing::info!(
            instance = instance_id,
            node = node_id,
            pid,
            "Kafka node started"
        );
        Ok(pid)
    }

    fn find(&self, dir: &Path) -> Option<Running> {
        find_pid(dir).map(|pid| Running { pid, age: age(pid) })
    }

    async fn stop(&self, dir: &Path, grace: Duration) -> Option<i32> {
        let pid = find_pid(dir)?;
        signal(pid, Signal::TERM);
        let started = Instant::now();
        let mut killed = false;
        while alive(pid) {
            if !killed && started.elapsed() > grace {
                tracing::warn!(
                    pid,
                    "Kafka node ignored SIGTERM for {} s; killing it",
                    grace.as_secs()
                );
                signal(pid, Signal::KILL);
                killed = true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_file(dir.join(PID_FILE));
        Some(pid)
    }

    fn take_exits(&self) -> Option<mpsc::UnboundedReceiver<NodeExit>> {
        self.exits_receiver.lock().ok()?.take()
    }
}
