//! A node's `server.properties`, rendered from the cluster's layout: the recipe verified on
//! Kafka 4.4.0 in docs/research/kafka-4.4-cluster.md.
//!
//! Three listeners per node. `CLIENT` on the instance's exposure address, as the instance's
//! security asks (plaintext or TLS; anonymous or SASL/SCRAM). `INTERNAL` (between nodes, and
//! the console's Admin client) and `CONTROLLER` (the quorum) on loopback, TLS with client
//! certificates required, issued by the environment's CA: `CN=broker` is `User:broker`,
//! `CN=byoc-console` is `User:byoc-console` (the principal mapping rule), the only super
//! users.

use crate::layout::{bracketed, ClusterLayout, NodeLayout};
use std::fmt::Write;
use std::net::IpAddr;
use std::path::Path;

/// The principal of the nodes' own certificate (between nodes, and on the quorum). The
/// domain's names, so that no client user can be given a super user's name.
pub const BROKER_PRINCIPAL: &str = byoc_domain::kafka_user::BROKER_USER;
/// The principal of the console's client certificate.
pub const CONSOLE_PRINCIPAL: &str = byoc_domain::kafka_user::CONSOLE_USER;
/// Where the internal and controller listeners bind.
pub const INTERNAL_HOST: &str = "127.0.0.1";
/// Clients re-authenticate this often: a deleted or rotated SCRAM user's open connections end
/// within this bound, with no restart.
pub const REAUTH_MS: u64 = 60_000;

/// Files of a node's directory, as the properties name them.
pub const DATA_DIR: &str = "data";
/// The node's key and certificate chain (PEM, PKCS#8 key), for the internal and controller
/// listeners.
pub const NODE_KEYSTORE: &str = "tls/node.pem";
/// The instance's server key and certificate for a TLS client listener.
pub const CLIENT_KEYSTORE: &str = "tls/client.pem";
/// The environment's CA certificate.
pub const TRUSTSTORE: &str = "tls/ca.pem";
/// The instance's client quotas in force, read by the quota callback (kafka/plugins/quota)
/// when it changes: not among the files a node is restarted for.
pub const QUOTA_FILE: &str = "quota.properties";
/// The console's `ClientQuotaCallback` (kafka/plugins/quota, `libs/byoc-quota.jar`): every
/// client of the instance shares one quota, each node enforcing its share.
pub const QUOTA_CALLBACK: &str = "byoc.quota.InstanceQuotaCallback";
/// The plug-in's jar in Kafka's `libs/` (scripts/build_kafka_plugins.sh).
pub const QUOTA_JAR: &str = "byoc-quota.jar";
/// SASL/PLAIN users, one salted hash a line, read by [`PLAIN_HANDLER`] (written by the console
/// whenever its users change; not a start-time file: the handler reloads it).
pub const PLAIN_USERS: &str = "plain-users";
/// The console's SASL/PLAIN server callback handler (kafka/plugins/plain-auth).
pub const PLAIN_HANDLER: &str = "byoc.kafka.plain.HashedPlainCallbackHandler";

/// How Kafka clients reach the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl ClientProtocol {
    pub fn new(tls: bool, scram: bool) -> Self {
        match (tls, scram) {
            (false, false) => ClientProtocol::Plaintext,
            (true, false) => ClientProtocol::Ssl,
            (false, true) => ClientProtocol::SaslPlaintext,
            (true, true) => ClientProtocol::SaslSsl,
        }
    }

    /// Kafka's name of the protocol (`security.protocol` of clients).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientProtocol::Plaintext => "PLAINTEXT",
            ClientProtocol::Ssl => "SSL",
            ClientProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            ClientProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn tls(self) -> bool {
        matches!(self, ClientProtocol::Ssl | ClientProtocol::SaslSsl)
    }

    pub fn scram(self) -> bool {
        matches!(
            self,
            ClientProtocol::SaslPlaintext | ClientProtocol::SaslSsl
        )
    }
}

/// How a SASL client listener checks logins (ignored by a listener without SASL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslLogin {
    /// SCRAM-SHA-256 and SCRAM-SHA-512, users in the cluster's metadata.
    #[default]
    Scram,
    /// PLAIN, checked by [`PLAIN_HANDLER`] against the hashes in [`PLAIN_USERS`].
    Plain,
}

/// The instance's client listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientListener {
    /// The address the listener binds (the exposure's).
    pub bind: IpAddr,
    /// The name or address clients are told to use.
    pub host: String,
    pub protocol: ClientProtocol,
    /// The SASL mechanism of a SASL listener.
    pub sasl: SaslLogin,
    /// Mutual TLS (a TLS listener only): the organizational unit (`OU`) a client
    /// certificate's subject must name, the instance's own; `None`: no client certificates.
    pub certificate_unit: Option<String>,
}

/// The client listener's principal mapping rule with mutual TLS: a certificate whose subject
/// is exactly `CN=<name>,OU=<unit>` (RFC 2253 order) is `User:<name>`; there is no `DEFAULT`,
/// so a certificate of another unit (another instance, the nodes', the console's) maps to no
/// principal and Kafka closes its connection.
pub fn certificate_rule(unit: &str) -> String {
    format!("RULE:^CN=([A-Za-z0-9._-]+),OU={unit}$/$1/")
}

/// `server.properties` of `node`, whose directory is `dir` (absolute).
pub fn server_properties(
    layout: &ClusterLayout,
    node: &NodeLayout,
    client: &ClientListener,
    dir: &Path,
) -> String {
    let d = dir.display();
    let ports = node.ports;
    let internal = INTERNAL_HOST;
    let bind = bracketed(&client.bind.to_string());
    let advertised = bracketed(&client.host);
    let mut p = String::new();
    let mut line = |text: String| {
        let _ = writeln!(p, "{text}");
    };
    line(format!("process.roles={}", node.role.process_roles()));
    line(format!("node.id={}", node.node_id));
    line("controller.listener.names=CONTROLLER".into());
    line(format!(
        "controller.quorum.bootstrap.servers={}",
        layout.quorum_bootstrap(internal)
    ));
    let controller = matches!(node.role, crate::layout::Role::Combined);
    let mut listeners = format!(
        "CLIENT://{bind}:{},INTERNAL://{internal}:{}",
        ports.client, ports.internal
    );
    let mut advertised_listeners = format!(
        "CLIENT://{advertised}:{},INTERNAL://{internal}:{}",
        ports.client, ports.internal
    );
    if controller {
        let _ = write!(listeners, ",CONTROLLER://{internal}:{}", ports.controller);
        let _ = write!(
            advertised_listeners,
            ",CONTROLLER://{internal}:{}",
            ports.controller
        );
    }
    line(format!("listeners={listeners}"));
    line(format!("advertised.listeners={advertised_listeners}"));
    line(format!(
        "listener.security.protocol.map=CLIENT:{},INTERNAL:SSL,CONTROLLER:SSL",
        client.protocol.as_str()
    ));
    line("inter.broker.listener.name=INTERNAL".into());
    line(format!("log.dirs={d}/{DATA_DIR}"));
    if let Some(rack) = &node.rack {
        line(format!("broker.rack={rack}"));
    }
    // The two certificate-authenticated listeners (the controller's also on broker-only
    // nodes: they connect to the quorum as clients with the same key store).
    for listener in ["internal", "controller"] {
        line(format!("listener.name.{listener}.ssl.keystore.type=PEM"));
        line(format!(
            "listener.name.{listener}.ssl.keystore.location={d}/{NODE_KEYSTORE}"
        ));
        line(format!("listener.name.{listener}.ssl.truststore.type=PEM"));
        line(format!(
            "listener.name.{listener}.ssl.truststore.location={d}/{TRUSTSTORE}"
        ));
        line(format!("listener.name.{listener}.ssl.client.auth=required"));
    }
    // The client certificate's subject `CN=name` is the principal `User:name`.
    line("ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT".into());
    if client.protocol.tls() {
        line("listener.name.client.ssl.keystore.type=PEM".into());
        line(format!(
            "listener.name.client.ssl.keystore.location={d}/{CLIENT_KEYSTORE}"
        ));
        match &client.certificate_unit {
            Some(unit) => {
                line("listener.name.client.ssl.client.auth=required".into());
                line("listener.name.client.ssl.truststore.type=PEM".into());
                line(format!(
                    "listener.name.client.ssl.truststore.location={d}/{TRUSTSTORE}"
                ));
                line(format!(
                    "listener.name.client.ssl.principal.mapping.rules={}",
                    certificate_rule(unit)
                ));
            }
            None => line("listener.name.client.ssl.client.auth=none".into()),
        }
    }
    if client.protocol.scram() && client.sasl == SaslLogin::Plain {
        // No `user_` entries: the handler checks each login against the console's hashes.
        line("listener.name.client.sasl.enabled.mechanisms=PLAIN".into());
        line(format!(
            "listener.name.client.plain.sasl.server.callback.handler.class={PLAIN_HANDLER}"
        ));
        line(format!(
            "listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required byoc.users.file=\"{d}/{PLAIN_USERS}\";"
        ));
    } else if client.protocol.scram() {
        line("listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512".into());
        for mechanism in ["scram-sha-256", "scram-sha-512"] {
            line(format!(
                "listener.name.client.{mechanism}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ));
        }
    }
    line(format!("connections.max.reauth.ms={REAUTH_MS}"));
    // The instance's quotas as a whole (KIP-257): totals from a file the console rewrites
    // when the instance is scaled, no restart.
    line(format!("client.quota.callback.class={QUOTA_CALLBACK}"));
    line(format!("byoc.quota.file={d}/{QUOTA_FILE}"));
    // A client may do only what an ACL allows it (the console writes each user's rules, and
    // on an anonymous instance the rules of User:ANONYMOUS); the nodes' and the console's
    // certificates are the only super users.
    line("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer".into());
    line("allow.everyone.if.no.acl.found=false".into());
    line(format!(
        "super.users=User:{BROKER_PRINCIPAL};User:{CONSOLE_PRINCIPAL}"
    ));
    line("num.partitions=3".into());
    line(format!(
        "default.replication.factor={}",
        layout.replication_factor
    ));
    line(format!(
        "min.insync.replicas={}",
        layout.min_insync_replicas
    ));
    line(format!(
        "offsets.topic.replication.factor={}",
        layout.replication_factor
    ));
    line(format!(
        "transaction.state.log.replication.factor={}",
        layout.replication_factor
    ));
    line(format!(
        "transaction.state.log.min.isr={}",
        layout.min_insync_replicas
    ));
    line("log.retention.hours=168".into());
    // A node back from a restart takes its partitions' leadership back at once, so a roll
    // leaves leaders spread as before.
    line("auto.leader.rebalance.enable=true".into());
    line("leader.imbalance.check.interval.seconds=30".into());
    p
}

/// `--initial-controllers` of the storage format: `id@host:port:directory-id` per voter, with
/// the directory ids the format gives each voter's log directory.
pub fn initial_controllers(layout: &ClusterLayout, directory_ids: &[String]) -> String {
    layout
        .voters()
        .zip(directory_ids)
        .map(|(n, dir_id)| {
            format!(
                "{}@{INTERNAL_HOST}:{}:{dir_id}",
                n.node_id, n.ports.controller
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::ClusterLayout;

    fn props(protocol: ClientProtocol, node_id: usize, broker_only: u32) -> String {
        let layout =
            ClusterLayout::new(broker_only, &["a".into(), "b".into(), "c".into()], 20000).unwrap();
        let client = ClientListener {
            bind: "10.0.0.5".parse().unwrap(),
            host: "kafka.internal".into(),
            protocol,
            sasl: SaslLogin::Scram,
            certificate_unit: None,
        };
        server_properties(&layout, &layout.nodes[node_id], &client, Path::new("/d/n"))
    }

    #[test]
    fn a_combined_node_has_three_listeners_and_the_quorum() {
        let p = props(ClientProtocol::SaslSsl, 1, 0);
        assert!(p.contains("process.roles=broker,controller\n"));
        assert!(p.contains("node.id=1\n"));
        assert!(p.contains("listeners=CLIENT://10.0.0.5:20004,INTERNAL://127.0.0.1:20005,CONTROLLER://127.0.0.1:20006\n"));
        assert!(p.contains("advertised.listeners=CLIENT://kafka.internal:20004,"));
        assert!(p.contains(
            "controller.quorum.bootstrap.servers=127.0.0.1:20002,127.0.0.1:20006,127.0.0.1:20010\n"
        ));
        assert!(p.contains(
            "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL\n"
        ));
        assert!(p.contains("listener.name.internal.ssl.client.auth=required\n"));
        assert!(p.contains("listener.name.controller.ssl.client.auth=required\n"));
        assert!(p.contains("listener.name.client.ssl.keystore.location=/d/n/tls/client.pem\n"));
        assert!(p.contains(
            "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n"
        ));
        assert!(p.contains("super.users=User:broker;User:byoc-console\n"));
        // Nothing is allowed without an ACL: a new user may do nothing.
        assert!(p.contains("allow.everyone.if.no.acl.found=false\n"));
        assert!(p.contains("broker.rack=b\n"));
        assert!(p.contains("min.insync.replicas=2\n"));
        assert!(p.contains("log.dirs=/d/n/data\n"));
        assert!(p.contains("client.quota.callback.class=byoc.quota.InstanceQuotaCallback\n"));
        assert!(p.contains("byoc.quota.file=/d/n/quota.properties\n"));
    }

    #[test]
    fn a_plain_listener_names_the_console_s_handler_and_no_password() {
        let layout = ClusterLayout::new(0, &[], 20000).unwrap();
        let client = ClientListener {
            bind: "127.0.0.1".parse().unwrap(),
            host: "127.0.0.1".into(),
            protocol: ClientProtocol::SaslSsl,
            sasl: SaslLogin::Plain,
            certificate_unit: None,
        };
        let p = server_properties(&layout, &layout.nodes[0], &client, Path::new("/d/n"));
        assert!(p.contains("listener.name.client.sasl.enabled.mechanisms=PLAIN\n"));
        assert!(p.contains(
            "listener.name.client.plain.sasl.server.callback.handler.class=byoc.kafka.plain.HashedPlainCallbackHandler\n"
        ));
        assert!(p.contains("byoc.users.file=\"/d/n/plain-users\";\n"));
        assert!(!p.contains("user_"));
        assert!(!p.contains("SCRAM"));
    }

    #[test]
    fn mutual_tls_requires_a_certificate_of_the_instance_s_unit_and_no_default() {
        let layout = ClusterLayout::new(0, &[], 20000).unwrap();
        let client = ClientListener {
            bind: "127.0.0.1".parse().unwrap(),
            host: "127.0.0.1".into(),
            protocol: ClientProtocol::Ssl,
            sasl: SaslLogin::Scram,
            certificate_unit: Some("byoc-instance-7".into()),
        };
        let p = server_properties(&layout, &layout.nodes[0], &client, Path::new("/d/n"));
        assert!(p.contains("listener.name.client.ssl.client.auth=required\n"));
        assert!(p.contains("listener.name.client.ssl.truststore.location=/d/n/tls/ca.pem\n"));
        assert!(p.contains(
            "listener.name.client.ssl.principal.mapping.rules=RULE:^CN=([A-Za-z0-9._-]+),OU=byoc-instance-7$/$1/\n"
        ));
        assert!(!p.contains("sasl.enabled"));
    }

    #[test]
    fn a_broker_only_node_has_no_controller_listener() {
        let p = props(ClientProtocol::Plaintext, 3, 1);
        assert!(p.contains("process.roles=broker\n"));
        assert!(!p.contains("CONTROLLER://"));
        assert!(p.contains("CLIENT:PLAINTEXT"));
        assert!(!p.contains("sasl.enabled"));
        assert!(!p.contains("listener.name.client.ssl"));
    }

    #[test]
    fn initial_controllers_name_each_voter_with_its_directory_id() {
        let layout = ClusterLayout::new(1, &[], 20000).unwrap();
        let ids = ["A".to_string(), "B".into(), "C".into()];
        assert_eq!(
            initial_controllers(&layout, &ids),
            "0@127.0.0.1:20002:A,1@127.0.0.1:20006:B,2@127.0.0.1:20010:C"
        );
    }
}
