//! What an instance's Kafka endpoint offers on its detail page: how to connect, its topics
//! (list and create), and live traffic against its capacity. Reads need a viewer; creating a
//! topic needs an operator.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PartitionInfo {
    pub partition: i32,
    /// The offset the next record gets (records written so far, when nothing was deleted).
    pub latest_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    /// How long it keeps messages, as people read it.
    pub retention: String,
}

/// Rates between two readings of the broker, per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrafficPoint {
    pub at: i64,
    pub messages_in_s: f64,
    pub bytes_in_s: f64,
    pub messages_out_s: f64,
    pub bytes_out_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveTraffic {
    /// One point per reading (every few seconds), oldest first, over the last minutes.
    pub points: Vec<TrafficPoint>,
    pub messages_in_total: u64,
    /// Key and value bytes written since the instance was created.
    pub bytes_in_total: u64,
    pub messages_out_total: u64,
    pub bytes_retained: u64,
    /// The instance's capacity from the AKU catalog (bytes per second).
    pub write_capacity_bytes_s: u64,
    pub read_capacity_bytes_s: u64,
    /// How each figure is obtained (counted or estimated).
    pub basis: String,
}

/// How a client connects: only settings that are in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectInfo {
    pub bootstrap: String,
    pub security_protocol: String,
    pub authentication: String,
    /// Where the CA certificate is downloaded (TLS instances).
    pub ca_download: Option<String>,
    pub client_properties: String,
    pub producer_example: String,
    pub consumer_example: String,
}

/// A Kafka user of an instance as the page lists it (never a key or a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KafkaUserView {
    pub username: String,
    /// `SCRAM-SHA-512` or `SCRAM-SHA-256` (SASL/SCRAM instances), `PLAIN` (SASL/PLAIN),
    /// `certificate` (mutual TLS).
    pub mechanism: String,
    /// The console's own user.
    pub internal: bool,
    pub created_by: String,
    pub created_at: i64,
    /// A new password or certificate was issued then.
    pub rotated_at: Option<i64>,
    /// Mutual TLS: when the user's newest certificate expires (Unix seconds).
    #[serde(default)]
    pub certificate_expires_at: Option<i64>,
}

/// A user just created or given a new password: the password is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewKafkaUser {
    pub username: String,
    /// As in [`KafkaUserView::mechanism`].
    pub mechanism: String,
    /// The generated password, shown this once (empty for a mutual TLS user).
    pub password: String,
    /// Mutual TLS: the user's new client certificate and its key (PEM, PKCS#8), one file to
    /// save as `USERNAME.pem`. Shown this once: the console never keeps the key.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// Mutual TLS: the serial of the new certificate (hex).
    #[serde(default)]
    pub certificate_serial: Option<String>,
    /// Mutual TLS: when it expires (Unix seconds).
    #[serde(default)]
    pub certificate_expires_at: Option<i64>,
    pub client_properties: String,
    /// Whether the broker has it in force yet.
    pub applied: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KafkaPanel {
    /// False with the simulated provisioner: nothing answers the bootstrap address.
    pub real: bool,
    /// Why the panel has nothing to show now (simulated, not running, ...).
    pub note: Option<String>,
    pub connect: Option<ConnectInfo>,
    pub topics: Vec<TopicInfo>,
    /// The broker could not be asked for its topics.
    pub topics_error: Option<String>,
    pub traffic: Option<LiveTraffic>,
    /// The instance's Kafka users (SASL/SCRAM and SASL/PLAIN instances only).
    pub users: Option<Vec<KafkaUserView>>,
    /// The users' access rules (instances whose clients log in as users).
    pub acls: Option<Vec<crate::wire::acls::KafkaAclView>>,
    /// The mechanisms a new user of the instance may have (`PLAIN` alone on a SASL/PLAIN
    /// instance).
    #[serde(default)]
    pub user_mechanisms: Vec<String>,
    pub can_change: bool,
}

/// The URL of the environment's CA certificate.
pub const CA_DOWNLOAD: &str = "/kafka/ca.pem";
/// The file name the examples give the downloaded CA certificate.
const CA_FILE: &str = "byoc-ca.pem";

/// The client settings of an endpoint, with only what is in force: SASL/SCRAM when `scram`
/// (with the user's name and password when given, placeholders otherwise), TLS with the
/// console's CA when `tls`. The examples name `topic` (the broker creates no topic on first
/// use, so they name one that exists when there is one).
/// How clients of an instance authenticate, for its connect settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectAuth {
    None,
    Scram,
    Plain,
    /// Mutual TLS: the user's certificate and key, one file (`USERNAME.pem`).
    Certificate,
}

pub fn connect_info(
    bootstrap: &str,
    auth: ConnectAuth,
    tls: bool,
    login: Option<(&str, &str, &str)>,
    topic: &str,
) -> ConnectInfo {
    let sasl = matches!(auth, ConnectAuth::Scram | ConnectAuth::Plain);
    let protocol = match (sasl, tls) {
        (true, true) => "SASL_SSL",
        (true, false) => "SASL_PLAINTEXT",
        (false, true) => "SSL",
        (false, false) => "PLAINTEXT",
    };
    let placeholder = match auth {
        ConnectAuth::Plain => "PLAIN",
        _ => "SCRAM-SHA-512",
    };
    let (user, mechanism, password) = match login {
        Some((user, mechanism, password)) => (user.to_string(), mechanism, password.to_string()),
        None => ("USERNAME".into(), placeholder, "PASSWORD".into()),
    };
    let login_module = match auth {
        ConnectAuth::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
        _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
    };
    let mut properties = format!("bootstrap.servers={bootstrap}\nsecurity.protocol={protocol}\n");
    let mut python = format!(
        "\"bootstrap.servers\": \"{bootstrap}\",\n    \"security.protocol\": \"{protocol}\",\n"
    );
    if sasl {
        properties.push_str(&format!(
            "sasl.mechanism={mechanism}\nsasl.username={user}\nsasl.password={password}\n\
             sasl.jaas.config={login_module} required \
             username=\"{user}\" password=\"{password}\";\n"
        ));
        python.push_str(&format!(
            "    \"sasl.mechanism\": \"{mechanism}\",\n    \"sasl.username\": \"{user}\",\n    \
             \"sasl.password\": \"{password}\",\n"
        ));
    }
    if tls {
        properties.push_str(&format!(
            "ssl.ca.location={CA_FILE}\nssl.truststore.type=PEM\nssl.truststore.location={CA_FILE}\n"
        ));
        python.push_str(&format!("    \"ssl.ca.location\": \"{CA_FILE}\",\n"));
    }
    if auth == ConnectAuth::Certificate {
        let file = format!("{user}.pem");
        // librdkafka reads `ssl.keystore.location` as PKCS#12: the Java names go in a comment.
        properties.push_str(&format!(
            "ssl.certificate.location={file}\nssl.key.location={file}\n\
             # Java clients: ssl.keystore.type=PEM and ssl.keystore.location={file} instead of \
             the two lines above\n"
        ));
        python.push_str(&format!(
            "    \"ssl.certificate.location\": \"{file}\",\n    \"ssl.key.location\": \"{file}\",\n"
        ));
    }
    properties.push_str("acks=all\n");
    let authentication = match auth {
        ConnectAuth::Scram => "SASL/SCRAM (SHA-512 or SHA-256, per user)".to_string(),
        ConnectAuth::Plain => "SASL/PLAIN (checked against a salted hash on the nodes; use TLS \
            or a private network: PLAIN sends the password as it is)"
            .to_string(),
        ConnectAuth::Certificate => "mutual TLS (a client certificate per user, issued by the \
            console for this instance)"
            .to_string(),
        ConnectAuth::None => "none".to_string(),
    };
    let setup = if tls {
        format!(
            "# pip install confluent-kafka; save the CA certificate ({CA_DOWNLOAD}) as {CA_FILE}\n"
        )
    } else {
        "# pip install confluent-kafka\n".to_string()
    };
    ConnectInfo {
        bootstrap: bootstrap.to_string(),
        security_protocol: protocol.into(),
        authentication,
        ca_download: tls.then(|| CA_DOWNLOAD.to_string()),
        client_properties: properties,
        producer_example: format!(
            "{setup}\
             # The topic must exist: this broker creates none on first use (see Topics).\n\
             from confluent_kafka import Producer\n\
             conf = {{\n    {python}    \"acks\": \"all\",\n}}\n\
             p = Producer(conf)\n\
             for i in range(10):\n    p.produce(\"{topic}\", value=f\"message {{i}}\".encode())\n\
             p.flush()\n"
        ),
        consumer_example: format!(
            "from confluent_kafka import Consumer\n\
             conf = {{\n    {python}    \"group.id\": \"my-group\",\n    \"auto.offset.reset\": \"earliest\",\n}}\n\
             c = Consumer(conf)\n\
             c.subscribe([\"{topic}\"])\n\
             while (m := c.poll(5.0)) is not None:\n    print(m.value())\n\
             c.close()\n"
        ),
    }
}
