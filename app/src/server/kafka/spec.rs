//! What an instance's Kafka cluster must be, from its row and the console's settings: the
//! engine's layout (its block of ports, its zones), the client listener of its exposure and
//! security, and the key stores signed by the environment's authority. Also how the console
//! reaches it (the Admin client over the internal listener, with its own certificate).

use super::certs::{CLIENT_LISTENER_PEM, CONSOLE_IDENTITY, NODE_PEM};
use super::KafkaProvisioner;
use super::NO_PUBLIC_ADDRESS;
use crate::domain::instance_spec::{ClientAuth, EndpointExposure, TransitEncryption};
use crate::server::provisioner::ProvisionError;
use crate::server::store::instances::InstanceRow;
use anyhow::{anyhow, Context};
use byoc_engine::admin::{AdminClient, AdminConfig, TlsIdentity};
use byoc_engine::cluster::{ClusterSpec, KeyStores};
use byoc_engine::config::{
    ClientListener, ClientProtocol, SaslLogin, CONSOLE_PRINCIPAL, INTERNAL_HOST,
};
use byoc_engine::layout::{ClusterLayout, PORTS_PER_INSTANCE};
use std::path::Path;

/// The instance's first port, recorded in its directory once chosen.
const PORTS_FILE: &str = "ports";
/// How long a probe waits for a node on loopback: a live node answers in milliseconds, but a
/// host busy with other JVMs (a roll, a cluster starting) has been seen taking over 2 s for a
/// TLS handshake.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl KafkaProvisioner {
    pub(super) fn first_port(&self, instance_id: i64) -> Option<u16> {
        std::fs::read_to_string(self.dir(instance_id).join(PORTS_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The instance's block of ports: the recorded one, or the first block of the range that
    /// no other instance holds and nothing on this host uses. The instance's size (`aku`) is
    /// recorded with it, for the capacity rule.
    pub(super) async fn allocate_ports(
        &self,
        instance_id: i64,
        aku: u32,
    ) -> Result<u16, ProvisionError> {
        let _one_at_a_time = self.allocating.lock().await;
        if let Some(first) = self.first_port(instance_id) {
            return Ok(first);
        }
        // Checked again here, one at a time: two creates that both passed the form's check
        // cannot both take the host's last room.
        self.capacity(Some(instance_id), aku)
            .map_err(|too_much| anyhow!("{too_much}"))?;
        let held: Vec<u16> = self
            .instance_dirs()
            .into_iter()
            .filter_map(|id| self.first_port(id))
            .collect();
        let (low, high) = self.settings.ports;
        let size = u32::from(PORTS_PER_INSTANCE);
        let mut first = u32::from(low);
        while first + size - 1 <= u32::from(high) {
            // Blocks overlap when either starts inside the other (the range may have moved).
            let taken = held
                .iter()
                .map(|h| u32::from(*h))
                .any(|h| h < first + size && first < h + size);
            let free = (first..first + size).all(|p| u16::try_from(p).is_ok_and(port_free));
            if !taken && free {
                let first =
                    u16::try_from(first).map_err(|_| anyhow!("port {first} out of range"))?;
                super::private_dir(&self.dir(instance_id))?;
                self.record_aku(instance_id, aku)?;
                std::fs::write(self.dir(instance_id).join(PORTS_FILE), first.to_string())
                    .context("cannot record the instance's ports")?;
                return Ok(first);
            }
            first += size;
        }
        Err(anyhow!(
            "no free block of {PORTS_PER_INSTANCE} ports left in {low}-{high} (--kafka-ports): \
             each instance takes one block (4 ports a node, room for 12 nodes)"
        ))
    }

    /// The cluster `row` wants: the nodes and heaps its size buys (`domain::data_plane`).
    pub(super) async fn spec(&self, row: &InstanceRow) -> Result<ClusterSpec, ProvisionError> {
        self.spec_sized(row, row.size()).await
    }

    /// The cluster `row` would be at `aku` (a scale's old or new size).
    pub(super) async fn spec_sized(
        &self,
        row: &InstanceRow,
        aku: u32,
    ) -> Result<ClusterSpec, ProvisionError> {
        let first = self.first_port(row.id).with_context(|| {
            format!(
                "the instance's directory {} has no ports recorded (was it removed?)",
                self.dir(row.id).display()
            )
        })?;
        let layout = ClusterLayout::for_plane(&self.plane(aku), &row.zones(), first)
            .map_err(|e| anyhow!("{e}"))?;
        let client = self.client_listener(row)?;
        let key_stores = self.key_stores(row, &client).await?;
        Ok(ClusterSpec {
            instance_id: row.id,
            layout,
            client,
            key_stores,
        })
    }

    /// The client listener `row` wants: its exposure's address and host (the console's
    /// settings of today), its security.
    pub(super) fn client_listener(
        &self,
        row: &InstanceRow,
    ) -> Result<ClientListener, ProvisionError> {
        let listener = match row.endpoint_exposure {
            EndpointExposure::Vpc => &self.settings.private,
            EndpointExposure::Internet => {
                self.settings.public.as_ref().context(NO_PUBLIC_ADDRESS)?
            }
        };
        let tls = row.transit_encryption == TransitEncryption::Tls;
        Ok(ClientListener {
            bind: listener.bind,
            host: listener.host.clone(),
            protocol: ClientProtocol::new(
                tls,
                matches!(
                    row.client_auth,
                    ClientAuth::SaslScram | ClientAuth::SaslPlain
                ),
            ),
            sasl: match row.client_auth {
                ClientAuth::SaslPlain => SaslLogin::Plain,
                _ => SaslLogin::Scram,
            },
            // Mutual TLS: only certificates of this instance's unit map to a user.
            certificate_unit: (row.client_auth == ClientAuth::Mtls && tls)
                .then(|| crate::domain::certificate::instance_unit(row.id)),
        })
    }

    /// The nodes' key stores, as kept in the instance's directory: made the first time,
    /// renewed by the control loop ([`super::certs`]).
    async fn key_stores(
        &self,
        row: &InstanceRow,
        client: &ClientListener,
    ) -> Result<KeyStores, ProvisionError> {
        let authority = self.authority().await?;
        let dir = self.dir(row.id);
        let now = self.clock.unix();
        let node = kept(&dir.join(NODE_PEM), || {
            let cert = authority.issue_node(now)?;
            Ok(format!("{}{}", cert.key_pem, cert.cert_pem))
        })?;
        let client_listener = if client.protocol.tls() {
            let names = crate::domain::certificate::names(&[client.host.as_str()]);
            Some(kept(&dir.join(CLIENT_LISTENER_PEM), || {
                let cert = authority.issue(&names, now)?;
                Ok(format!("{}{}", cert.key_pem, cert.cert_pem))
            })?)
        } else {
            None
        };
        Ok(KeyStores {
            ca: authority.cert_pem().to_string(),
            node,
            client_listener,
        })
    }

    /// The console's Admin client for the instance: every node's internal listener, TLS with
    /// the console's own certificate (`CN=byoc-console`, a super user of the cluster).
    pub(super) async fn admin(&self, spec: &ClusterSpec) -> Result<AdminClient, ProvisionError> {
        let config = self.admin_config(spec).await?;
        AdminClient::new(config).map_err(|e| anyhow!("{e}"))
    }

    /// [`Self::admin`] for the control loop's probes, kept per instance (its connections
    /// stay open between probes): a node that takes longer than [`PROBE_TIMEOUT`] to answer
    /// on loopback counts as not answering (a hung node must not hold a pass up for the Admin
    /// client's usual 10 s per request).
    pub(super) async fn probe_admin(
        &self,
        spec: &ClusterSpec,
    ) -> Result<AdminClient, ProvisionError> {
        let kept = self
            .probe_admins
            .lock()
            .ok()
            .and_then(|admins| admins.get(&spec.instance_id).cloned());
        if let Some(admin) = kept {
            return Ok(admin);
        }
        let mut config = self.admin_config(spec).await?;
        config.request_timeout = PROBE_TIMEOUT;
        config.connect_timeout = PROBE_TIMEOUT;
        config.deadline = PROBE_TIMEOUT * 2;
        let admin = AdminClient::new(config).map_err(|e| anyhow!("{e}"))?;
        if let Ok(mut admins) = self.probe_admins.lock() {
            admins.insert(spec.instance_id, admin.clone());
        }
        Ok(admin)
    }

    async fn admin_config(&self, spec: &ClusterSpec) -> Result<AdminConfig, ProvisionError> {
        let authority = self.authority().await?;
        let dir = self.dir(spec.instance_id);
        let now = self.clock.unix();
        // Key and certificate in one file, written whole (renewed by the control loop).
        let pair = kept(&dir.join(CONSOLE_IDENTITY), || {
            let cert = authority.issue_client(CONSOLE_PRINCIPAL, now)?;
            Ok(format!("{}{}", cert.key_pem, cert.cert_pem))
        })?;
        let identity = TlsIdentity {
            ca_pem: authority.cert_pem().to_string(),
            cert_chain_pem: pair.clone(),
            key_pem: pair,
        };
        let internal = spec
            .layout
            .nodes
            .iter()
            .map(|n| format!("{INTERNAL_HOST}:{}", n.ports.internal));
        Ok(AdminConfig::new(internal, Some(identity)))
    }
}

/// Reads `path`, or makes it with `make` (owner-only) the first time.
fn kept(
    path: &Path,
    make: impl FnOnce() -> Result<String, ProvisionError>,
) -> Result<String, ProvisionError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text);
    }
    let text = make()?;
    super::write_private(path, &text)?;
    Ok(text)
}

/// Nothing on this host listens on `port` (any address).
fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
        && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}
