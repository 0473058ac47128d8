//! Each instance's broker port: chosen once from `--broker-ports`, one at a time, and recorded
//! in the instance's directory so that a restarted broker (or console) keeps it.

use super::{make_private_dir, process, BrokerProvisioner};
use crate::server::provisioner::ProvisionError;
use anyhow::{anyhow, Context};
use std::net::SocketAddr;

const PORT_FILE: &str = "port";

impl BrokerProvisioner {
    pub(super) fn port_of(&self, instance_id: i64) -> Option<u16> {
        std::fs::read_to_string(self.dir(instance_id).join(PORT_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The instance's port: the one recorded in its directory, or the first port of the
    /// range that no other instance holds and nothing on the host answers or holds.
    pub(super) async fn allocate_port(&self, instance_id: i64) -> Result<u16, ProvisionError> {
        let _one_at_a_time = self.allocating.lock().await;
        if let Some(port) = self.port_of(instance_id) {
            return Ok(port);
        }
        let held: Vec<u16> = std::fs::read_dir(&self.root)
            .with_context(|| format!("cannot read {}", self.root.display()))?
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join(PORT_FILE)).ok())
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let (first, last) = self.settings.ports;
        for port in first..=last {
            let loopback = SocketAddr::from(([127, 0, 0, 1], port));
            if held.contains(&port) || process::answers(loopback).await {
                continue;
            }
            if std::net::TcpListener::bind(("0.0.0.0", port)).is_err() {
                continue;
            }
            let dir = self.dir(instance_id);
            make_private_dir(&dir)?;
            std::fs::write(dir.join(PORT_FILE), port.to_string())
                .context("cannot record the port")?;
            return Ok(port);
        }
        Err(anyhow!(
            "no free port left in {first}-{last} (--broker-ports): every port is held by an \
             instance or in use on this host"
        ))
    }

    pub(super) fn recorded_port(&self, instance_id: i64) -> Result<u16, ProvisionError> {
        self.port_of(instance_id).with_context(|| {
            format!(
                "this instance's broker directory {} has no port recorded (was it removed?)",
                self.dir(instance_id).display()
            )
        })
    }
}
