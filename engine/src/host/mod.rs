//! *Where* a node runs. One trait, so that the next step (nodes on other hosts, through Docker
//! or Kubernetes) is another implementation of it; [`local`] runs each node as a `java`
//! process on this host, in a session of its own, so that nodes outlive the console and are
//! adopted by the next one.
//!
//! *What* a cluster must be is [`crate::layout`] and [`crate::config`]; whether a node should
//! run is the control loop's decision, never the host's.

pub mod local;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub type HostError = anyhow::Error;

/// One node to start: its directory holds `server.properties`, `tls/`, `data/`.
#[derive(Debug, Clone)]
pub struct NodeStart {
    pub instance_id: i64,
    pub node_id: u32,
    pub dir: PathBuf,
    pub heap_mib: u32,
    /// Loopback port of the node's Prometheus metrics.
    pub metrics_port: u16,
}

/// A node's process as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    pub pid: i32,
    /// How long it has run (a node still starting is not a hung one).
    pub age: Option<Duration>,
}

/// A started node that exited (the host reaps the nodes it started).
#[derive(Debug, Clone)]
pub struct NodeExit {
    pub instance_id: i64,
    pub node_id: u32,
    pub pid: i32,
    pub how: String,
}

/// Where nodes run.
#[async_trait::async_trait]
pub trait NodeHost: Send + Sync {
    /// Formats the node's storage once (Kafka's `StorageTool format`), before its first start:
    /// `initial_controllers` for a voter (see [`crate::config::initial_controllers`]), `None`
    /// for a broker-only node. A node already formatted is left alone.
    async fn format(
        &self,
        dir: &Path,
        cluster_id: &str,
        initial_controllers: Option<&str>,
    ) -> Result<(), HostError>;

    /// Starts the node; returns its pid once the process runs (not once it answers: the
    /// cluster's health is asked of Kafka itself).
    async fn start(&self, node: &NodeStart) -> Result<i32, HostError>;

    /// The node's live process, if one runs for its directory.
    fn find(&self, dir: &Path) -> Option<Running>;

    /// Stops the node's process: SIGTERM (Kafka's controlled shutdown moves leadership away
    /// and closes the logs cleanly), SIGKILL after `grace`. Returns the pid stopped.
    async fn stop(&self, dir: &Path, grace: Duration) -> Option<i32>;

    /// Nodes it started that exited, once (the control loop takes it).
    fn take_exits(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<NodeExit>>;
}

/// A Kafka id (`Uuid`): 16 random bytes as unpadded base64url, never starting with `-` (Kafka's
/// own `Uuid.randomUuid` rule: such ids read as flags on a command line).
pub fn kafka_uuid() -> String {
    use base64::Engine;
    loop {
        let bytes: [u8; 16] = rand::random();
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !text.starts_with('-') && bytes != [0; 16] {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kafka_uuids_are_22_characters_of_base64url() {
        for _ in 0..1000 {
            let id = super::kafka_uuid();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'));
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
