//! What a test node's directory holds before its first start: `server.properties`, the
//! Kafka UUIDs of the cluster and of the nodes' metadata directories, the tools' logging.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use super::Node;

/// A Kafka UUID (22 characters of URL-safe base64), from 16 random bytes.
pub fn kafka_uuid() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut urandom = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    loop {
        let mut bytes = [0u8; 18]; // 16 used; 18 makes whole groups of 3
        urandom.read_exact(&mut bytes[..16]).expect("random bytes");
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
            for shift in [18, 12, 6, 0] {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            }
        }
        out.truncate(22);
        // Like Kafka's Uuid.randomUuid(): never one a command line would take for an option.
        if !out.starts_with('-') {
            return out;
        }
    }
}

pub fn server_properties(node: &Node, voters: &str, tls: &Path) -> String {
    let (d, i) = (node.dir.display(), node.id);
    let (c, n, k) = (node.client_port, node.internal_port, node.controller_port);
    let mut p = String::new();
    let _ = write!(
        p,
        "process.roles=broker,controller\nnode.id={i}\nbroker.rack=zone-{i}\n\
         controller.listener.names=CONTROLLER\ncontroller.quorum.bootstrap.servers={voters}\n\
         listeners=CLIENT://127.0.0.1:{c},INTERNAL://127.0.0.1:{n},CONTROLLER://127.0.0.1:{k}\n\
         advertised.listeners=CLIENT://127.0.0.1:{c},INTERNAL://127.0.0.1:{n},CONTROLLER://127.0.0.1:{k}\n\
         listener.security.protocol.map=CLIENT:PLAINTEXT,INTERNAL:SSL,CONTROLLER:SSL\n\
         inter.broker.listener.name=INTERNAL\nlog.dirs={d}/data\n"
    );
    for listener in ["internal", "controller"] {
        let t = tls.display();
        let _ = write!(
            p,
            "listener.name.{listener}.ssl.keystore.type=PEM\n\
             listener.name.{listener}.ssl.keystore.location={t}/node.pem\n\
             listener.name.{listener}.ssl.truststore.type=PEM\n\
             listener.name.{listener}.ssl.truststore.location={t}/ca.pem\n\
             listener.name.{listener}.ssl.client.auth=required\n"
        );
    }
    p.push_str(
        "ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT\n\
         authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
         allow.everyone.if.no.acl.found=true\nsuper.users=User:broker;User:byoc-console\n\
         num.partitions=3\ndefault.replication.factor=3\nmin.insync.replicas=2\n\
         offsets.topic.replication.factor=3\ntransaction.state.log.replication.factor=3\n\
         transaction.state.log.min.isr=2\nlog.retention.hours=168\n",
    );
    p
}

pub const TOOLS_LOG4J2: &str = "Configuration:\n  Appenders:\n    Console:\n      name: STDERR\n      \
target: SYSTEM_ERR\n      PatternLayout:\n        pattern: \"%p %m (%c)%n\"\n  Loggers:\n    Root:\n      \
level: WARN\n      AppenderRef:\n        - ref: STDERR\n";
