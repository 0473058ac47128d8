//! A real three-node Kafka 4.4 cluster made by the engine (layout, properties, format, local
//! `java` processes), checked with a client nobody here wrote (confluent-kafka): every node
//! lists the same three brokers, a six-partition topic has a leader on each, and an `acks=all`
//! producer loses nothing while a node is SIGKILLed and started again, and while the cluster
//! rolls. One cluster at a time (the machine has two cores).

use byoc_engine::admin::{AclBinding, AdminClient, AdminConfig, TlsIdentity};
use byoc_engine::cluster::{Cluster, ClusterSpec, KeyStores};
use byoc_engine::config::{ClientListener, ClientProtocol};
use byoc_engine::heal::NodeAction;
use byoc_engine::host::local::{KafkaInstall, LocalHost};
use byoc_engine::host::NodeHost;
use byoc_engine::layout::{ClusterLayout, PORTS_PER_INSTANCE};
use byoc_engine::observe::observe;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kafka's codes: TOPIC, GROUP, TRANSACTIONAL_ID; LITERAL; ALL; ALLOW.
async fn allow_anonymous(admin: &AdminClient) {
    let bindings: Vec<AclBinding> = [2i8, 3, 5]
        .into_iter()
        .map(|resource_type| AclBinding {
            resource_type,
            resource_name: "*".into(),
            pattern_type: 3,
            principal: "User:ANONYMOUS".into(),
            host: "*".into(),
            operation: 2,
            permission: 3,
        })
        .collect();
    let results = admin
        .create_acls(&bindings)
        .await
        .expect("CreateAcls answers");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Kafka as scripts/setup.sh installs it (BYOC_KAFKA_HOME, else its default place).
fn install(conf: &Path) -> KafkaInstall {
    let libs = KafkaInstall::default_libs();
    assert!(
        libs.join("kafka_2.13-4.4.0.jar").exists(),
        "Kafka 4.4.0's jars are in {} (scripts/setup.sh puts them there)",
        libs.display()
    );
    KafkaInstall::new(libs, conf).unwrap()
}

/// A CA, the nodes' certificate (`CN=broker`, server and client) and the console's client
/// certificate (`CN=byoc-console`) for the internal listener; the test's Kafka clients use the
/// plaintext client listener.
fn key_stores() -> (KeyStores, TlsIdentity) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let node_key = KeyPair::generate().unwrap();
    let mut node = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    node.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    node.distinguished_name.push(DnType::CommonName, "broker");
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node_cert = node.signed_by(&node_key, &ca_cert, &ca_key).unwrap();
    let console_key = KeyPair::generate().unwrap();
    let mut console = CertificateParams::new(Vec::<String>::new()).unwrap();
    console
        .distinguished_name
        .push(DnType::CommonName, "byoc-console");
    console.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let console_cert = console.signed_by(&console_key, &ca_cert, &ca_key).unwrap();
    (
        KeyStores {
            ca: ca_cert.pem(),
            node: format!("{}{}", node_key.serialize_pem(), node_cert.pem()),
            client_listener: None,
        },
        TlsIdentity {
            ca_pem: ca_cert.pem(),
            cert_chain_pem: console_cert.pem(),
            key_pem: console_key.serialize_pem(),
        },
    )
}

/// A block of free ports on loopback.
fn free_block() -> u16 {
    for attempt in 0..200u32 {
        let first =
            30000 + ((std::process::id() * 7 + attempt * 97) % 300) as u16 * PORTS_PER_INSTANCE;
        let free = (first..first + PORTS_PER_INSTANCE)
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return first;
        }
    }
    panic!("no free block of ports");
}

fn client(args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(repo().join("engine/tests/clients/kafka_client.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kafka_client.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from kafka_client.py")
}

/// Polls `check` until it holds, or fails after `limit` naming `what`.
fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    started.elapsed()
}

/// Every node answers Metadata listing all three brokers.
fn all_listed(bootstrap: &str) -> bool {
    let out = Command::new("python3")
        .arg(repo().join("engine/tests/clients/kafka_client.py"))
        .args(["brokers", bootstrap])
        .output();
    let Ok(out) = out else { return false };
    let Ok(seen) = serde_json::from_slice::<Value>(&out.stdout) else {
        return false;
    };
    let nodes = bootstrap.split(',').count();
    seen.as_object().is_some_and(|m| {
        m.len() == nodes
            && m.values()
                .all(|v| v["brokers"] == serde_json::json!([0, 1, 2]))
    })
}

/// Runs an async probe from the synchronous poll loop (on this multi-threaded runtime).
fn futures_lite_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

struct Producer {
    child: Child,
    stop: PathBuf,
    acked: PathBuf,
}

/// A producer left behind by a failed test would hold the test run's output open.
impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Producer {
    fn start(dir: &Path, bootstrap: &str, topic: &str) -> Producer {
        let stop = dir.join("stop");
        let acked = dir.join("acked");
        let _ = std::fs::remove_file(&stop);
        let child = Command::new("python3")
            .arg(repo().join("engine/tests/clients/kafka_client.py"))
            .args(["produce", bootstrap, topic])
            .arg(&stop)
            .arg(&acked)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Producer { child, stop, acked }
    }

    fn acked(&self) -> usize {
        std::fs::read_to_string(&self.acked)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn finish(mut self) -> (Value, PathBuf) {
        std::fs::write(&self.stop, "").unwrap();
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stdout).unwrap();
        }
        self.child.wait().unwrap();
        (serde_json::from_str(&stdout).unwrap(), self.acked.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_serves_and_loses_nothing_when_a_node_is_killed_or_rolled() {
    let dir = tempfile::tempdir().unwrap();
    let host = LocalHost::new(install(&dir.path().join("conf")));
    let layout = ClusterLayout::new(0, &[], free_block()).unwrap();
    let (key_stores, console_identity) = key_stores();
    let spec = ClusterSpec {
        instance_id: 1,
        layout: layout.clone(),
        client: ClientListener {
            bind: "127.0.0.1".parse().unwrap(),
            host: "127.0.0.1".into(),
            protocol: ClientProtocol::Plaintext,
            sasl: Default::default(),
            certificate_unit: None,
        },
        key_stores,
    };
    let cluster = Cluster::new(dir.path().join("instance-1"), &host);
    let formatting = Instant::now();
    cluster.prepare(&spec).await.expect("formatted");
    let formatted_in = formatting.elapsed();
    let started = cluster.start_missing(&spec).await.expect("started");
    assert_eq!(started.len(), 3);
    let bootstrap = layout.bootstrap("127.0.0.1");
    let serving_in = until(
        "every node lists three brokers",
        Duration::from_secs(180),
        || all_listed(&bootstrap),
    );
    eprintln!("format {formatted_in:?}; start to all listed {serving_in:?}");

    // Three JVMs, each in its node's directory.
    let processes = cluster.processes(&layout);
    assert!(processes.iter().all(|(_, p)| p.is_some()), "{processes:?}");

    // The console's view over the internal listener (TLS, its client certificate): every
    // node answers, the quorum has three voters and a leader.
    let internal: Vec<String> = layout
        .nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.ports.internal))
        .collect();
    let admin = AdminClient::new(AdminConfig::new(
        internal.clone(),
        Some(console_identity.clone()),
    ))
    .unwrap();
    let state = observe(&cluster, &layout, &admin).await;
    assert!(state.is_healthy(), "{state:?}");
    let quorum = state.quorum.as_ref().unwrap();
    let mut voters: Vec<i32> = quorum.voters.iter().map(|v| v.id).collect();
    voters.sort_unstable();
    assert_eq!(voters, [0, 1, 2]);
    assert!((0..3).contains(&quorum.leader_id));

    // The engine's nodes allow nothing without a rule (allow.everyone.if.no.acl.found=false);
    // the test's anonymous clients get every right on topics, groups and transactional ids,
    // as the console gives an anonymous instance's.
    allow_anonymous(&admin).await;

    // A six-partition topic has a leader on each node, three replicas each.
    client(&["create-topic", &bootstrap, "orders", "6"]);
    let leaders = until("leaders on every node", Duration::from_secs(60), || {
        let parts = client(&["leaders", &bootstrap, "orders"]);
        let mut nodes: Vec<i64> = parts
            .as_object()
            .unwrap()
            .values()
            .map(|p| p["leader"].as_i64().unwrap())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        parts.as_object().unwrap().len() == 6
            && nodes == [0, 1, 2]
            && parts
                .as_object()
                .unwrap()
                .values()
                .all(|p| p["replicas"].as_array().unwrap().len() == 3)
    });
    eprintln!("leaders spread after {leaders:?}");

    // SIGKILL a node under an acks=all producer; start it again as the control loop would.
    let producer = Producer::start(dir.path(), &bootstrap, "orders");
    until(
        "the producer's first acknowledgements",
        Duration::from_secs(60),
        || producer.acked() > 100,
    );
    let (victim, running) = processes[1];
    let pid = running.unwrap().pid;
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    until("the killed node is gone", Duration::from_secs(10), || {
        host.find(&cluster.node_dir(victim)).is_none()
    });
    let seen = observe(&cluster, &layout, &admin).await;
    let victim_state = seen.nodes.iter().find(|n| n.node_id == victim).unwrap();
    assert_eq!(victim_state.action, NodeAction::Start, "{victim_state:?}");
    let before = producer.acked();
    until(
        "acknowledgements go on with one node down",
        Duration::from_secs(60),
        || producer.acked() > before + 100,
    );
    let restarted = cluster.start_missing(&spec).await.unwrap();
    assert_eq!(
        restarted.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [victim]
    );
    // As the control loop does: a node that exits while it starts is started again (once
    // seen here, the restarted node had exited; its log says why on stderr).
    until(
        "the restarted node is listed again",
        Duration::from_secs(180),
        || {
            if host.find(&cluster.node_dir(victim)).is_none() {
                eprintln!(
                    "node {victim} exited while starting; its log ends:\n{}",
                    byoc_engine::host::local::log_tail(&cluster.node_dir(victim), 15)
                );
                futures_lite_block(cluster.start_missing(&spec)).unwrap();
            }
            all_listed(&bootstrap)
        },
    );

    // A rolling restart: one node at a time, each once every node lists three brokers.
    for node in byoc_engine::roll::order(&[0, 1, 2], None) {
        cluster
            .restart(&spec, node, Duration::from_secs(30))
            .await
            .unwrap();
        until("the rolled node is back", Duration::from_secs(180), || {
            all_listed(&bootstrap)
        });
    }

    // A console restarted (a new host handle, as after kill -9) adopts the nodes: the same
    // processes, none started, the cluster healthy through its view.
    let pids: Vec<_> = cluster
        .processes(&layout)
        .iter()
        .map(|(_, p)| p.unwrap().pid)
        .collect();
    let next_console = LocalHost::new(install(&dir.path().join("conf")));
    let adopted = Cluster::new(dir.path().join("instance-1"), &next_console);
    assert_eq!(adopted.start_missing(&spec).await.unwrap(), []);
    let again: Vec<_> = adopted
        .processes(&layout)
        .iter()
        .map(|(_, p)| p.unwrap().pid)
        .collect();
    assert_eq!(again, pids);
    let fresh_admin = AdminClient::new(AdminConfig::new(internal, Some(console_identity))).unwrap();
    until("healthy after the roll", Duration::from_secs(120), || {
        futures_lite_block(observe(&adopted, &layout, &fresh_admin)).is_healthy()
    });

    let (figures, acked) = producer.finish();
    eprintln!("producer: {figures}");
    assert_eq!(figures["failed"], 0, "{figures}");
    let consumed = client(&[
        "consume",
        &bootstrap,
        "orders",
        acked.to_str().unwrap(),
        "120",
    ]);
    assert_eq!(consumed["missing"], serde_json::json!([]), "{consumed}");
    assert_eq!(consumed["seen"], consumed["expected"]);
    assert!(consumed["expected"].as_u64().unwrap() > 200, "{consumed}");

    let stopped = cluster.stop_all(Duration::from_secs(30)).await;
    assert_eq!(stopped.len(), 3);
    assert!(cluster.processes(&layout).iter().all(|(_, p)| p.is_none()));
}
