//! A real three-node Apache Kafka 4.4 KRaft cluster for tests: combined mode (broker and
//! controller in each `java` process), a PLAINTEXT client listener, and internal and
//! controller listeners over TLS that require client certificates of the test's CA. Formatted
//! with Kafka's StorageTool, started with `kafka.Kafka`, ready once every node answers
//! ApiVersions and Metadata lists three brokers; SIGKILLed when dropped.
//!
//! The jars: `$BYOC_KAFKA_LIBS`, else `~/.local/share/byoc/kafka-4.4.0/libs` (what
//! `scripts/setup.sh` installs). One cluster at a time per test binary: take [`serial`].

#![allow(dead_code)]

pub mod pki;
mod props;

use std::fmt::Write as _;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use byoc_engine::admin::{AdminClient, AdminConfig, TlsIdentity};

pub use pki::Ca;
use props::{kafka_uuid, server_properties, TOOLS_LOG4J2};

const HEAP: &str = "-Xmx256m";
/// Starting three JVMs and electing a controller on two shared cores takes 10 to 25 s.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Polls `probe` until it returns `Some`, for at most `within`: Kafka applies metadata changes
/// on each broker asynchronously.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Held for a cluster's lifetime: at most one cluster at a time in this test binary.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

pub struct Node {
    pub id: i32,
    pub dir: PathBuf,
    pub client_port: u16,
    pub internal_port: u16,
    pub controller_port: u16,
    child: Option<Child>,
}

impl Node {
    pub fn internal_addr(&self) -> String {
        format!("127.0.0.1:{}", self.internal_port)
    }

    pub fn client_addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub libs: PathBuf,
    pub cluster_id: String,
    pub ca: Ca,
    pub console: TlsIdentity,
    pub nodes: Vec<Node>,
}

pub fn kafka_libs() -> PathBuf {
    let libs = std::env::var_os("BYOC_KAFKA_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            Path::new(&home).join(".local/share/byoc/kafka-4.4.0/libs")
        });
    assert!(
        libs.join("kafka_2.13-4.4.0.jar").is_file(),
        "Kafka 4.4.0's jars are not in {} (run scripts/setup.sh, or set BYOC_KAFKA_LIBS to a \
         directory holding them, e.g. from `mvn dependency:copy-dependencies -f kafka/pom.xml`)",
        libs.display()
    );
    libs
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn java(libs: &Path, heap: &str) -> Command {
    let mut cmd = Command::new("java");
    // Killed with the test process, even when it dies without dropping the cluster (a
    // timeout, ^C): the spawning thread is the test's, alive until the test ends.
    let die_with_parent = || {
        let kill = Some(rustix::process::Signal::KILL);
        rustix::process::set_parent_process_death_signal(kill).map_err(std::io::Error::from)
    };
    // SAFETY: one system call between fork and exec, no allocation, no lock.
    unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, die_with_parent) };
    cmd.args([heap, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp"]);
    cmd.arg(format!("{}/*", libs.display()));
    cmd
}

impl Cluster {
    /// Formats and starts three nodes; returns once all answer ApiVersions on their internal
    /// listener and Metadata lists the three brokers.
    pub async fn start() -> Cluster {
        Self::start_with(free_ports(9)).await
    }

    /// As [`start`](Self::start), on the nine ports from `first` (client, internal and
    /// controller listeners of nodes 0, 1, 2): for tests kept to a range of ports.
    pub async fn start_on(first: u16) -> Cluster {
        Self::start_with((first..first + 9).collect()).await
    }

    async fn start_with(ports: Vec<u16>) -> Cluster {
        let started = Instant::now();
        let libs = kafka_libs();
        let dir = tempfile::Builder::new()
            .prefix("byoc-kafka-")
            .tempdir()
            .expect("tempdir");
        let ca = Ca::new("BYOC test CA");
        let console = ca.console(&ca);
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("node.pem"), ca.node().keystore()).unwrap();
        std::fs::write(tls.join("ca.pem"), ca.pem()).unwrap();
        let tools_log = dir.path().join("tools-log4j2.yaml");
        std::fs::write(&tools_log, TOOLS_LOG4J2).unwrap();

        let nodes: Vec<Node> = (0..3)
            .map(|i| Node {
                id: i as i32,
                dir: dir.path().join(format!("node{i}")),
                client_port: ports[i],
                internal_port: ports[3 + i],
                controller_port: ports[6 + i],
                child: None,
            })
            .collect();
        let voters: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.controller_port))
            .collect();
        let cluster_id = kafka_uuid();
        let initial: Vec<String> = nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}:{}", n.id, n.controller_port, kafka_uuid()))
            .collect();
        let mut formats = Vec::new();
        for node in &nodes {
            std::fs::create_dir_all(node.dir.join("data")).unwrap();
            let props = node.dir.join("server.properties");
            std::fs::write(&props, server_properties(node, &voters.join(","), &tls)).unwrap();
            let mut cmd = java(&libs, "-Xmx128m");
            cmd.arg(format!(
                "-Dlog4j2.configurationFile={}",
                tools_log.display()
            ))
            .args(["kafka.tools.StorageTool", "format", "--config"])
            .arg(&props)
            .args([
                "--cluster-id",
                &cluster_id,
                "--initial-controllers",
                &initial.join(","),
            ]);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            formats.push((node.id, cmd.spawn().expect("java runs")));
        }
        for (id, child) in formats {
            let out = child.wait_with_output().expect("format ends");
            assert!(
                out.status.success(),
                "format of node {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        let log4j2 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka/log4j2.yaml");
        let mut cluster = Cluster {
            dir,
            libs,
            cluster_id,
            ca,
            console,
            nodes,
        };
        for i in 0..3 {
            cluster.spawn(i, &log4j2);
        }
        cluster.wait_ready(started).await;
        cluster
    }

    fn spawn(&mut self, i: usize, log4j2: &Path) {
        let node = &mut self.nodes[i];
        let out = std::fs::File::create(node.dir.join("node.out")).unwrap();
        let mut cmd = java(&self.libs, HEAP);
        cmd.arg(format!("-Dlog4j2.configurationFile={}", log4j2.display()))
            .arg(format!("-Dkafka.logs.dir={}", node.dir.display()))
            .arg("kafka.Kafka")
            .arg(node.dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        node.child = Some(cmd.spawn().expect("java starts"));
    }

    /// An admin client over the internal listeners, with the console's certificate.
    pub fn admin(&self) -> AdminClient {
        self.admin_as(Some(self.console.clone()))
    }

    /// An admin client over the internal listeners with another identity (`None`: plaintext).
    pub fn admin_as(&self, identity: Option<TlsIdentity>) -> AdminClient {
        let addrs: Vec<String> = self.nodes.iter().map(Node::internal_addr).collect();
        AdminClient::new(AdminConfig::new(addrs, identity)).expect("admin client")
    }

    async fn wait_ready(&mut self, started: Instant) {
        let admin = self.admin().with_deadline(Duration::from_secs(2));
        let deadline = started + READY_WITHIN;
        let mut answered = [false; 3];
        loop {
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!(
                        "node {i} exited ({status}) while starting:\n{}",
                        tail(&node.dir)
                    );
                }
                if !answered[i] {
                    answered[i] = admin.api_versions(&node.internal_addr()).await.is_ok();
                }
            }
            if answered.iter().all(|a| *a) {
                if let Ok(m) = admin.metadata(Some(&[][..])).await {
                    if m.brokers.len() == 3 {
                        eprintln!("cluster ready in {:.1} s", started.elapsed().as_secs_f64());
                        return;
                    }
                }
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self.nodes.iter().map(|n| tail(&n.dir)).collect();
                panic!(
                    "cluster not ready within {READY_WITHIN:?}:\n{}",
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILLs node `id` and waits for the process to be gone.
    pub fn kill(&mut self, id: i32) {
        if let Some(mut child) = self.nodes[id as usize].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kafka's own producer (ProducerPerformance) sends `records` records of 100 bytes to
    /// `topic` over the plaintext client listener, acks=all.
    pub fn produce(&self, topic: &str, records: u32) {
        let bootstrap: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(Node::client_addr)
            .collect();
        let tools_log = self.dir.path().join("tools-log4j2.yaml");
        let out = java(&self.libs, "-Xmx128m")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                tools_log.display()
            ))
            .args([
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                topic,
            ])
            .args([
                "--num-records",
                &records.to_string(),
                "--record-size",
                "100",
            ])
            .args(["--throughput", "-1", "--producer-props"])
            .arg(format!("bootstrap.servers={}", bootstrap.join(",")))
            .arg("acks=all")
            .output()
            .expect("java runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("{records} records sent")),
            "ProducerPerformance: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!("{}", tail(&node.dir));
            }
        }
    }
}

/// The last lines of a node's output and log, for a failure's message.
fn tail(dir: &Path) -> String {
    let mut out = String::new();
    for file in ["node.out", "server.log"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        let _ = writeln!(
            out,
            "--- {}/{file}\n{}",
            dir.display(),
            lines[from..].join("\n")
        );
    }
    out
}
