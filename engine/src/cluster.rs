//! One instance's cluster on its host: the nodes' directories made from the layout (properties,
//! key stores), their storage formatted once with the cluster's ids, missing nodes started,
//! all of them stopped. Which nodes should run is the caller's decision (the control loop).
//!
//! ```text
//! ROOT/                  one instance, owner-only
//!   cluster.json         cluster id and the voters' directory ids (the format's inputs)
//!   node-0/              server.properties, tls/{node,client,ca}.pem, data/, node.pid, node.log
//!   node-1/ ...
//! ```

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
        write_private(&dir.join(crate::host::local::PROPERTIES), &properties)?;
        write_private(&dir.join(config::TRUSTSTORE), &spec.key_stores.ca)?;
        write_private(&dir.join(config::NODE_KEYSTORE), &spec.key_stores.node)?;
        if let Some(client) = &spec.key_stores.client_listener {
            write_private(&dir.join(config::CLIENT_KEYSTORE), client)?;
        }
        Ok(())
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
        self.host.start(&self.start_of(spec, node)).await
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

fn private_dir(dir: &Path) -> Result<(), HostError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
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
