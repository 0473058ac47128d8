//! One instance's cluster on its host: the nodes' directories made from the layout (properties,
//! key stores), their storage formatted once with the cluster's ids, missing nodes started,
//! all of them stopped. Which nodes should run is the caller's decision (the control loop).
//!
//! ```text
//! ROOT/                  one instance, owner-only
//!   cluster.json         cluster id and the voters' directory ids (the format's inputs)
//!   node-0/              server.properties, tls/{node,client,ca}.pem, data/, node.pid, node.log,
//!                        started (the digest of the configuration it was last started with)
//!   node-1/ ...
//! ```
//!
//! A node reads its properties and key stores only when it starts. [`Cluster::prepare`] writes
//! what the cluster must be; every start records the digest of those files beside them
//! ([`STARTED_FILE`]), so that [`Cluster::stale_nodes`] names the nodes that run on something
//! older than what is on disk (a renewed certificate, a changed setting): the ones a roll must
//! restart. The files are the whole state of a roll: a console stopped half-way finds the same
//! nodes stale at its next look.

use crate::config::{self, ClientListener};
use crate::host::{kafka_uuid, HostError, NodeHost, NodeStart, Running};
use crate::layout::{ClusterLayout, NodeLayout, Role};
use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ids a cluster is formatted with, kept so that a node formatted later (a replaced disk,
/// a node added) joins the same cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterIds {
    pub cluster_id: String,
    /// One per voter (the combined nodes), in node id order.
    pub voter_directory_ids: Vec<String>,
}

const IDS_FILE: &str = "cluster.json";
/// In a node's directory: the digest of the configuration files it was last started with.
pub const STARTED_FILE: &str = "started";
/// The files a node reads at start (relative to its directory), digested in this order.
const CONFIG_FILES: [&str; 4] = [
    crate::host::local::PROPERTIES,
    config::TRUSTSTORE,
    config::NODE_KEYSTORE,
    config::CLIENT_KEYSTORE,
];

/// The PEM files a cluster's nodes need.
#[derive(Debug, Clone)]
pub struct KeyStores {
    /// The environment's CA certificate.
    pub ca: String,
    /// The nodes' own key (PKCS#8) and certificate chain, `CN=broker`, for the internal and
    /// controller listeners (as server and as client).
    pub node: String,
    /// The client listener's key and certificate chain, when it speaks TLS.
    pub client_listener: Option<String>,
}

/// What the cluster must be.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub instance_id: i64,
    pub layout: ClusterLayout,
    pub client: ClientListener,
    pub key_stores: KeyStores,
}

/// An instance's cluster on a host.
pub struct Cluster<'a> {
    root: PathBuf,
    host: &'a dyn NodeHost,
}

impl<'a> Cluster<'a> {
    pub fn new(root: PathBuf, host: &'a dyn NodeHost) -> Cluster<'a> {
        Cluster { root, host }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn node_dir(&self, node_id: u32) -> PathBuf {
        self.root.join(format!("node-{node_id}"))
    }

    /// The cluster's ids: read back, or made (and kept) the first time.
    pub fn ids(&self, layout: &ClusterLayout) -> Result<ClusterIds, HostError> {
        let path = self.root.join(IDS_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let ids: ClusterIds = serde_json::from_str(&text)
                .with_context(|| format!("{} is damaged", path.display()))?;
            if ids.voter_directory_ids.len() != layout.voters().count() {
                anyhow::bail!(
                    "{} names {} voters, the layout has {}",
                    path.display(),
                    ids.voter_directory_ids.len(),
                    layout.voters().count()
                );
            }
            return Ok(ids);
        }
        let ids = ClusterIds {
            cluster_id: kafka_uuid(),
            voter_directory_ids: layout.voters().map(|_| kafka_uuid()).collect(),
        };
        private_dir(&self.root)?;
        write_private(&path, &serde_json::to_string_pretty(&ids)?)?;
        Ok(ids)
    }

    /// Writes every node's directory as `spec` says (properties and key stores; a node reads
    /// them at its next start) and formats the storage of nodes not formatted yet.
    pub async fn prepare(&self, spec: &ClusterSpec) -> Result<ClusterIds, HostError> {
        let ids = self.ids(&spec.layout)?;
        let voters = config::initial_controllers(&spec.layout, &ids.voter_directory_ids);
        for node in &spec.layout.nodes {
            let dir = self.node_dir(node.node_id);
            self.write_node(spec, node, &dir)?;
            let initial = (node.role == Role::Combined).then_some(voters.as_str());
            self.host
                .format(&dir, &ids.cluster_id, initial)
                .await
                .with_context(|| format!("node {}", node.node_id))?;
        }
        Ok(ids)
    }

    fn write_node(
        &self,
        spec: &ClusterSpec,
        node: &NodeLayout,
        dir: &Path,
    ) -> Result<(), HostError> {
        private_dir(&dir.join("tls"))?;
        private_dir(&dir.join(config::DATA_DIR))?;
        let dir = std::fs::canonicalize(dir)?;
        let properties = config::server_properties(&spec.layout, node, &spec.client, &dir);
        write_changed(&dir.join(crate::host::local::PROPERTIES), &properties)?;
        write_changed(&dir.join(config::TRUSTSTORE), &spec.key_stores.ca)?;
        write_changed(&dir.join(config::NODE_KEYSTORE), &spec.key_stores.node)?;
        match &spec.key_stores.client_listener {
            Some(client) => write_changed(&dir.join(config::CLIENT_KEYSTORE), client)?,
            None => match std::fs::remove_file(dir.join(config::CLIENT_KEYSTORE)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            },
        }
        Ok(())
    }

    /// Writes the instance's client quotas into every node's directory of `layout` (the quota
    /// callback reads the file again within a second of a change; no restart): what all clients
    /// together may produce and fetch, bytes per second, and the brokers that share it until
    /// Kafka's metadata says how many serve. Unchanged files are left as they are.
    pub fn write_quotas(
        &self,
        layout: &ClusterLayout,
        produce_bytes_per_second: u64,
        fetch_bytes_per_second: u64,
    ) -> Result<(), HostError> {
        let text = quota_file(
            produce_bytes_per_second,
            fetch_bytes_per_second,
            layout.nodes.len(),
        );
        for node in &layout.nodes {
            let dir = self.node_dir(node.node_id);
            private_dir(&dir)?;
            write_changed(&dir.join(config::QUOTA_FILE), &text)?;
        }
        Ok(())
    }

    /// The quotas written in node `node_id`'s directory (produce, fetch), if any.
    pub fn quotas(&self, node_id: u32) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(self.node_dir(node_id).join(config::QUOTA_FILE)).ok()?;
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
        };
        Some((
            value("produce.bytes.per.second")?,
            value("fetch.bytes.per.second")?,
        ))
    }

    /// The digest of node `node_id`'s configuration files as they are on disk now (a missing
    /// file counts as empty, and differs from an empty one).
    pub fn config_digest(&self, node_id: u32) -> String {
        use sha2::{Digest, Sha256};
        let dir = self.node_dir(node_id);
        let mut hash = Sha256::new();
        for file in CONFIG_FILES {
            match std::fs::read(dir.join(file)) {
                Ok(bytes) => {
                    hash.update(b"+");
                    hash.update((bytes.len() as u64).to_be_bytes());
                    hash.update(&bytes);
                }
                Err(_) => hash.update(b"-"),
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The nodes of `layout` that run, but on a configuration other than the one on disk:
    /// started before the files last changed, or by a console that recorded nothing (each is
    /// restarted once, then known).
    pub fn stale_nodes(&self, layout: &ClusterLayout) -> Vec<u32> {
        self.processes(layout)
            .into_iter()
            .filter(|(_, process)| process.is_some())
            .map(|(node_id, _)| node_id)
            .filter(|node_id| {
                let started = std::fs::read_to_string(self.node_dir(*node_id).join(STARTED_FILE));
                started.map_or(true, |s| s.trim() != self.config_digest(*node_id))
            })
            .collect()
    }

    /// Records that node `node_id` starts on its files as they are now. Written before the
    /// start: a console stopped in between leaves a node that does not run (started again
    /// from the same files), never one that runs on files it is not recorded with.
    fn record_start(&self, node_id: u32) -> Result<(), HostError> {
        let path = self.node_dir(node_id).join(STARTED_FILE);
        write_private(&path, &self.config_digest(node_id))
    }

    /// Each node's process, if one runs.
    pub fn processes(&self, layout: &ClusterLayout) -> Vec<(u32, Option<Running>)> {
        layout
            .nodes
            .iter()
            .map(|n| (n.node_id, self.host.find(&self.node_dir(n.node_id))))
            .collect()
    }

    /// Starts the nodes of `spec` that do not run; answers those started with their pids.
    pub async fn start_missing(&self, spec: &ClusterSpec) -> Result<Vec<(u32, i32)>, HostError> {
        let mut started = Vec::new();
        for node in &spec.layout.nodes {
            let dir = self.node_dir(node.node_id);
            if self.host.find(&dir).is_some() {
                continue;
            }
            self.record_start(node.node_id)?;
            let pid = self.host.start(&self.start_of(spec, node)).await?;
            started.push((node.node_id, pid));
        }
        Ok(started)
    }

    /// Restarts one node: stopped with `grace` for its controlled shutdown, started again.
    pub async fn restart(
        &self,
        spec: &ClusterSpec,
        node_id: u32,
        grace: Duration,
    ) -> Result<i32, HostError> {
        let node = spec
            .layout
            .node(node_id)
            .with_context(|| format!("no node {node_id} in the layout"))?;
        self.host.stop(&self.node_dir(node_id), grace).await;
        self.record_start(node_id)?;
        self.host.start(&self.start_of(spec, node)).await
    }

    /// Stops one node (SIGTERM: Kafka's controlled shutdown, which moves its leaderships away;
    /// SIGKILL after `grace`) and waits until its process is gone; answers its pid, `None`
    /// when none ran.
    pub async fn stop_node(&self, node_id: u32, grace: Duration) -> Option<i32> {
        self.host.stop(&self.node_dir(node_id), grace).await
    }

    /// Removes a node's directory (its data and files) once it no longer belongs to the
    /// cluster. A directory already gone is fine.
    pub fn remove_node(&self, node_id: u32) -> Result<(), HostError> {
        let dir = self.node_dir(node_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("cannot remove {}", dir.display())))
            }
        }
    }

    fn start_of(&self, spec: &ClusterSpec, node: &NodeLayout) -> NodeStart {
        NodeStart {
            instance_id: spec.instance_id,
            node_id: node.node_id,
            dir: std::fs::canonicalize(self.node_dir(node.node_id))
                .unwrap_or_else(|_| self.node_dir(node.node_id)),
            heap_mib: node.heap_mib,
            metrics_port: node.ports.metrics,
        }
    }

    /// Stops every node of the directory (all at once, each with `grace`); answers the pids.
    pub async fn stop_all(&self, grace: Duration) -> Vec<i32> {
        let dirs: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("node-"))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        // All at once: three controlled shutdowns take as long as the slowest.
        let stops = dirs.iter().map(|dir| self.host.stop(dir, grace));
        futures::future::join_all(stops)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The quota callback's file (Java properties).
fn quota_file(produce: u64, fetch: u64, brokers: usize) -> String {
    format!(
        "# The instance's client quotas, all clients together (written by the console).\n\
         produce.bytes.per.second={produce}\nfetch.bytes.per.second={fetch}\nbrokers={brokers}\n"
    )
}

fn private_dir(dir: &Path) -> Result<(), HostError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// [`write_private`], unless the file already holds `text` (a node's files are written at
/// every look; rewriting the same bytes would only wear the disk).
fn write_changed(path: &Path, text: &str) -> Result<(), HostError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    write_private(path, text)
}

/// Written whole, owner-only (key stores hold private keys).
fn write_private(path: &Path, text: &str) -> Result<(), HostError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientProtocol, CLIENT_KEYSTORE, NODE_KEYSTORE};
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// A host whose nodes "run" while their directory is in a set; starts add to it.
    #[derive(Default)]
    struct FakeHost {
        running: Mutex<HashSet<PathBuf>>,
    }

    #[async_trait::async_trait]
    impl NodeHost for FakeHost {
        async fn format(&self, _: &Path, _: &str, _: Option<&str>) -> Result<(), HostError> {
            Ok(())
        }
        async fn start(&self, node: &NodeStart) -> Result<i32, HostError> {
            self.running.lock().unwrap().insert(node.dir.clone());
            Ok(1000 + node.node_id as i32)
        }
        fn find(&self, dir: &Path) -> Option<Running> {
            let dir = std::fs::canonicalize(dir).ok()?;
            self.running
                .lock()
                .unwrap()
                .contains(&dir)
                .then_some(Running { pid: 1, age: None })
        }
        async fn stop(&self, dir: &Path, _: Duration) -> Option<i32> {
            let dir = std::fs::canonicalize(dir).ok()?;
            self.running.lock().unwrap().remove(&dir).then_some(1)
        }
        fn take_exits(
            &self,
        ) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::host::NodeExit>> {
            None
        }
    }

    fn spec(host: &str, client_pem: &str) -> ClusterSpec {
        ClusterSpec {
            instance_id: 1,
            layout: ClusterLayout::new(0, &[], 30000).unwrap(),
            client: ClientListener {
                bind: "127.0.0.1".parse().unwrap(),
                host: host.into(),
                protocol: ClientProtocol::SaslSsl,
                sasl: Default::default(),
                certificate_unit: None,
            },
            key_stores: KeyStores {
                ca: "CA".into(),
                node: "NODE".into(),
                client_listener: Some(client_pem.into()),
            },
        }
    }

    #[tokio::test]
    async fn quotas_are_written_beside_each_node_and_are_no_reason_to_restart() {
        let root = tempfile::tempdir().unwrap();
        let host = FakeHost::default();
        let cluster = Cluster::new(root.path().join("c"), &host);
        let spec = spec("127.0.0.1", "CERT");
        cluster.prepare(&spec).await.unwrap();
        cluster.start_missing(&spec).await.unwrap();
        cluster
            .write_quotas(&spec.layout, 3 << 20, 6 << 20)
            .unwrap();
        for node in 0..3 {
            assert_eq!(cluster.quotas(node), Some((3 << 20, 6 << 20)));
        }
        let text = std::fs::read_to_string(cluster.node_dir(1).join(config::QUOTA_FILE)).unwrap();
        assert!(text.contains("brokers=3\n"), "{text}");
        cluster
            .write_quotas(&spec.layout, 6 << 20, 12 << 20)
            .unwrap();
        assert_eq!(cluster.quotas(2), Some((6 << 20, 12 << 20)));
        assert!(cluster.stale_nodes(&spec.layout).is_empty());
    }

    #[tokio::test]
    async fn nodes_started_on_older_files_are_stale_until_restarted() {
        let root = tempfile::tempdir().unwrap();
        let host = FakeHost::default();
        let cluster = Cluster::new(root.path().join("c"), &host);
        let first = spec("127.0.0.1", "CERT-1");
        cluster.prepare(&first).await.unwrap();
        assert!(cluster.stale_nodes(&first.layout).is_empty(), "none runs");
        cluster.start_missing(&first).await.unwrap();
        assert!(cluster.stale_nodes(&first.layout).is_empty());

        // A renewed client certificate: every running node is stale.
        let renewed = spec("127.0.0.1", "CERT-2");
        cluster.prepare(&renewed).await.unwrap();
        let client = std::fs::read_to_string(cluster.node_dir(0).join(CLIENT_KEYSTORE));
        assert_eq!(client.unwrap(), "CERT-2");
        assert_eq!(cluster.stale_nodes(&renewed.layout), [0, 1, 2]);
        // One restarted: the others are left; a later look (a new console) sees the same.
        cluster.restart(&renewed, 1, Duration::ZERO).await.unwrap();
        assert_eq!(cluster.stale_nodes(&renewed.layout), [0, 2]);
        let again = Cluster::new(root.path().join("c"), &host);
        assert_eq!(again.stale_nodes(&renewed.layout), [0, 2]);
        // Writing the same files again changes nothing.
        let before = std::fs::metadata(cluster.node_dir(0).join(NODE_KEYSTORE))
            .unwrap()
            .modified()
            .unwrap();
        cluster.prepare(&renewed).await.unwrap();
        let after = std::fs::metadata(cluster.node_dir(0).join(NODE_KEYSTORE))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(cluster.stale_nodes(&renewed.layout), [0, 2]);

        // A new client-facing host changes the properties (the advertised address).
        cluster.restart(&renewed, 0, Duration::ZERO).await.unwrap();
        cluster.restart(&renewed, 2, Duration::ZERO).await.unwrap();
        assert!(cluster.stale_nodes(&renewed.layout).is_empty());
        cluster.prepare(&spec("localhost", "CERT-2")).await.unwrap();
        assert_eq!(cluster.stale_nodes(&renewed.layout), [0, 1, 2]);

        // A node started by a console that recorded nothing is restarted once.
        cluster.start_missing(&renewed).await.unwrap();
        std::fs::remove_file(cluster.node_dir(0).join(STARTED_FILE)).unwrap();
        assert!(cluster.stale_nodes(&renewed.layout).contains(&0));
    }
}
