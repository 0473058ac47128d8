//! A three-node Kafka 4.4 cluster made by the engine, for benchmarks and by hand:
//!
//! ```text
//! cargo run -p byoc-engine --example cluster -- DIR
//! ```
//!
//! Lays out, formats and starts three combined nodes in `DIR` (as the console does: layout,
//! `server.properties`, `StorageTool format`, local `java` processes), the plaintext client
//! listener on 127.0.0.1 and the ports from a free block, the internal and controller
//! listeners with certificates of a CA made here (rcgen, as engine/tests/cluster.rs). Once every
//! node's client port accepts connections it prints one JSON line on stdout:
//!
//! ```text
//! {"bootstrap": "127.0.0.1:P0,127.0.0.1:P1,127.0.0.1:P2", "pids": [..], "formatted_ms": ..,
//!  "started_ms": ..}
//! ```
//!
//! `formatted_ms`: directories written and the three storages formatted (one `StorageTool` JVM
//! each, one after another); `started_ms`: from then until every client port accepts (three
//! JVMs started; a node binds its listeners before it serves, so the first produce may come
//! a little later). Then it waits until stdin closes, SIGTERM or SIGINT, and stops the nodes
//! (SIGTERM each, all at once, SIGKILL after 30 s: `Cluster::stop_all`), saying so on stderr.
//! Kafka's jars come from `BYOC_KAFKA_HOME` (scripts/fetch_kafka.sh).

use byoc_engine::cluster::{Cluster, ClusterSpec, KeyStores};
use byoc_engine::config::{ClientListener, ClientProtocol};
use byoc_engine::host::local::{alive, log_tail, KafkaInstall, LocalHost};
use byoc_engine::layout::{ClusterLayout, PORTS_PER_INSTANCE};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

/// How long a node may take to bind its client port.
const START_LIMIT: Duration = Duration::from_secs(300);
/// Each node's controlled shutdown before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A CA and the nodes' certificate (`CN=broker`, server and client): what the internal and
/// controller listeners need. Clients use the plaintext client listener.
fn key_stores() -> anyhow::Result<KeyStores> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "example CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let node_key = KeyPair::generate()?;
    let mut node = CertificateParams::new(vec!["localhost".to_string()])?;
    node.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    node.distinguished_name.push(DnType::CommonName, "broker");
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node_cert = node.signed_by(&node_key, &ca_cert, &ca_key)?;
    Ok(KeyStores {
        ca: ca_cert.pem(),
        node: format!("{}{}", node_key.serialize_pem(), node_cert.pem()),
        client_listener: None,
    })
}

/// A block of free ports on loopback, below Linux's ephemeral range (32768 up).
fn free_block() -> anyhow::Result<u16> {
    for attempt in 0..250u32 {
        let first =
            20000 + ((std::process::id() * 7 + attempt * 97) % 250) as u16 * PORTS_PER_INSTANCE;
        let free = (first..first + PORTS_PER_INSTANCE)
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return Ok(first);
        }
    }
    anyhow::bail!("no free block of {PORTS_PER_INSTANCE} ports on 127.0.0.1")
}

fn accepts(port: u16) -> bool {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// Until stdin closes, SIGTERM or SIGINT.
async fn wait_for_the_end() -> anyhow::Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // A thread of its own reads stdin (tokio's stdin is a feature the engine does not take).
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buffer = [0u8; 256];
        while matches!(std::io::stdin().read(&mut buffer), Ok(n) if n > 0) {}
        let _ = closed.send(());
    });
    Ok(tokio::select! {
        _ = stdin_closed => "stdin closed",
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        anyhow::bail!("usage: cluster DIR (the cluster's directory, made if missing)");
    };
    std::fs::create_dir_all(&root)?;
    let root = std::fs::canonicalize(&root)?;
    let libs = KafkaInstall::default_libs();
    anyhow::ensure!(
        libs.join("kafka_2.13-4.4.0.jar").exists(),
        "Kafka 4.4.0's jars are not in {} (scripts/fetch_kafka.sh puts them there)",
        libs.display()
    );
    let host = LocalHost::new(KafkaInstall::new(libs, &root.join("conf"))?);
    let layout = ClusterLayout::new(0, &[], free_block()?)?;
    let spec = ClusterSpec {
        instance_id: 1,
        layout: layout.clone(),
        client: ClientListener {
            bind: "127.0.0.1".parse()?,
            host: "127.0.0.1".into(),
            protocol: ClientProtocol::Plaintext,
            sasl: Default::default(),
            certificate_unit: None,
        },
        key_stores: key_stores()?,
    };
    let cluster = Cluster::new(root.join("instance-1"), &host);

    let formatting = Instant::now();
    cluster.prepare(&spec).await?;
    let formatted = formatting.elapsed();
    let starting = Instant::now();
    let served = async {
        let mut started = cluster.start_missing(&spec).await?;
        started.sort_unstable();
        loop {
            if let Some((node, _)) = started.iter().find(|(_, pid)| !alive(*pid)) {
                anyhow::bail!(
                    "node {node} exited while starting:\n{}",
                    log_tail(&cluster.node_dir(*node), 20)
                );
            }
            if layout.nodes.iter().all(|n| accepts(n.ports.client)) {
                return Ok(started);
            }
            anyhow::ensure!(
                starting.elapsed() < START_LIMIT,
                "the nodes' client ports did not accept within {START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let started = match served.await {
        Ok(started) => started,
        Err(e) => {
            cluster.stop_all(STOP_GRACE).await;
            return Err(e);
        }
    };
    let line = serde_json::json!({
        "bootstrap": layout.bootstrap("127.0.0.1"),
        "pids": started.iter().map(|(_, pid)| *pid).collect::<Vec<_>>(),
        "formatted_ms": formatted.as_millis() as u64,
        "started_ms": starting.elapsed().as_millis() as u64,
    });
    println!("{line}");
    use std::io::Write;
    std::io::stdout().flush()?;

    let why = wait_for_the_end().await;
    let stopping = Instant::now();
    let stopped = cluster.stop_all(STOP_GRACE).await;
    eprintln!(
        "cluster example: {}; stopped pids {stopped:?} in {} ms",
        why.as_ref().map_or("error", |w| *w),
        stopping.elapsed().as_millis()
    );
    why.map(|_| ())
}
