//! What can go wrong talking to a cluster: an error Kafka answered (its code, its name as
//! Kafka spells it, its message), or one of ours (the connection, TLS, the bytes, the deadline).

use std::fmt;
use std::time::Duration;

use kafka_protocol::ResponseError;

/// An error code Kafka answered with, e.g. `TOPIC_ALREADY_EXISTS (36): Topic 't' already exists.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    /// Kafka's error code (`Errors.java`).
    pub code: i16,
    /// Kafka's name for the code, e.g. `NOT_CONTROLLER` (`UNKNOWN_ERROR_CODE_<n>` if unknown).
    pub name: String,
    /// The message the broker sent with it, if any.
    pub message: Option<String>,
}

/// Kafka error codes the client looks at by number.
pub mod code {
    /// The topic or partition does not exist (or this node does not know it yet).
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    /// The partition has no leader (an election is under way, or every replica is down).
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    /// The node is not (or no longer) the partition's leader.
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    /// The request version is not supported by the node.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// The topic exists already.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    /// The group's coordinator is loading the group (retriable).
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    /// No coordinator yet (e.g. `__consumer_offsets` being created; retriable).
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// The node is not (or no longer) the group's coordinator (retriable).
    pub const NOT_COORDINATOR: i16 = 16;
    /// A commit with a generation the group is not at.
    pub const ILLEGAL_GENERATION: i16 = 22;
    /// A commit from a member the group does not have (the admin's, while it has members).
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    /// The group is rebalancing.
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    /// A group with members cannot be deleted.
    pub const NON_EMPTY_GROUP: i16 = 68;
    /// No such group.
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    /// A commit with a member epoch the consumer group is not at.
    pub const STALE_MEMBER_EPOCH: i16 = 113;
    /// The node is not the controller (or could not forward to it).
    pub const NOT_CONTROLLER: i16 = 41;
    /// The user, or the user's credential for the mechanism, does not exist.
    pub const RESOURCE_NOT_FOUND: i16 = 91;
    /// The partition's preferred replica leads it already (ElectLeaders).
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    /// No reassignment of the partition is in progress (a cancellation).
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
    /// The broker is not registered (UnregisterBroker of one already gone).
    pub const BROKER_ID_NOT_REGISTERED: i16 = 102;
}

impl KafkaError {
    /// `None` for code 0 (no error), else the error with Kafka's name for the code.
    pub fn from_code(code: i16, message: Option<&str>) -> Option<Self> {
        let err = ResponseError::try_from_code(code)?;
        let name = match err {
            ResponseError::Unknown(c) => format!("UNKNOWN_ERROR_CODE_{c}"),
            known => upper_snake(&known.to_string()),
        };
        Some(Self {
            code,
            name,
            message: message.map(str::to_owned),
        })
    }

    /// Whether Kafka marks the error retriable (leadership moving, a node loading...).
    pub fn is_retriable(&self) -> bool {
        ResponseError::try_from_code(self.code).is_some_and(|e| e.is_retriable())
    }
}

/// `Result<(), KafkaError>` from a code and an optional message of a response.
pub(crate) fn check(code: i16, message: Option<&str>) -> Result<(), KafkaError> {
    match KafkaError::from_code(code, message) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// `NotLeaderOrFollower` -> `NOT_LEADER_OR_FOLLOWER`, as Kafka names its errors.
fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.code)?;
        match &self.message {
            Some(m) if !m.is_empty() => write!(f, ": {m}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for KafkaError {}

/// Every failure of an [`AdminClient`](super::AdminClient) call.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Kafka answered with an error code.
    #[error("{0}")]
    Kafka(KafkaError),
    /// The connection could not be made, or broke, or a request timed out on it.
    #[error("{addr}: {source}")]
    Io {
        /// `host:port` of the node.
        addr: String,
        /// What the socket said.
        source: std::io::Error,
    },
    /// TLS failed: the node's certificate is not trusted, or the node refused ours.
    #[error("{addr}: TLS: {message}")]
    Tls {
        /// `host:port` of the node.
        addr: String,
        /// rustls' description (e.g. `received fatal alert: CertificateUnknown`).
        message: String,
    },
    /// Bytes that do not decode, a correlation id that does not match, a frame too large.
    #[error("{addr}: protocol: {message}")]
    Protocol {
        /// `host:port` of the node.
        addr: String,
        /// What was wrong.
        message: String,
    },
    /// No version of the request both sides support.
    #[error("{addr}: no version of {api} both sides support (ours {ours}, the node's {theirs})")]
    Unsupported {
        /// `host:port` of the node.
        addr: String,
        /// The API's name (e.g. `DescribeQuorum`).
        api: String,
        /// Our range, `min..max`.
        ours: String,
        /// The node's range, or `none`.
        theirs: String,
    },
    /// The request must go to a node the cluster's metadata does not list (down, or never was).
    #[error("node {0} is not among the cluster's brokers")]
    UnknownNode(i32),
    /// A bad argument or bad PEM: nothing was sent.
    #[error("{0}")]
    Config(String),
    /// A group's offsets cannot change while it has active members (Kafka refuses commits
    /// from outside the group then): stop its consumers first.
    #[error(
        "group {group} has {members} active member(s) (state {state}): its offsets can be reset \
         only while no consumer of the group runs"
    )]
    GroupNotEmpty {
        /// The group id.
        group: String,
        /// Its state as Kafka names it (`Stable`, `PreparingRebalance`...).
        state: String,
        /// How many members it has (0 if Kafka refused a commit with no member listed).
        members: usize,
    },
    /// A reset refused by its rule (`byoc_domain::offset_reset`), naming the field: nothing
    /// was sent.
    #[error("{}: {}", .0.field, .0.message)]
    Reset(byoc_domain::offset_reset::ResetError),
    /// Retriable failures until the call's deadline; the last one is kept.
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    Deadline {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: Box<AdminError>,
    },
}

impl AdminError {
    /// Whether trying again (after a metadata refresh, on another node) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            AdminError::Kafka(e) => e.is_retriable(),
            AdminError::Io { .. } | AdminError::UnknownNode(_) => true,
            _ => false,
        }
    }

    /// The Kafka error behind this one, if Kafka answered with one (also under a deadline).
    pub fn kafka(&self) -> Option<&KafkaError> {
        match self {
            AdminError::Kafka(e) => Some(e),
            AdminError::Deadline { last, .. } => last.kafka(),
            _ => None,
        }
    }

    /// Whether Kafka answered with this error code (also under a deadline).
    pub fn is_code(&self, code: i16) -> bool {
        self.kafka().is_some_and(|e| e.code == code)
    }

    /// An I/O error on `addr`, as [`AdminError::Tls`] when rustls is behind it: a certificate
    /// refused by either side is not a broken connection, retrying will not heal it.
    pub(crate) fn io(addr: &str, source: std::io::Error) -> Self {
        let tls = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|e| e.to_string());
        match tls {
            Some(message) => AdminError::Tls {
                addr: addr.to_owned(),
                message,
            },
            None => AdminError::Io {
                addr: addr.to_owned(),
                source,
            },
        }
    }

    pub(crate) fn protocol(addr: &str, message: impl fmt::Display) -> Self {
        AdminError::Protocol {
            addr: addr.to_owned(),
            message: message.to_string(),
        }
    }
}

impl From<KafkaError> for AdminError {
    fn from(e: KafkaError) -> Self {
        AdminError::Kafka(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_kafka_spells_them() {
        let e = KafkaError::from_code(41, Some("moved")).unwrap();
        assert_eq!(e.name, "NOT_CONTROLLER");
        assert!(e.is_retriable());
        assert_eq!(e.to_string(), "NOT_CONTROLLER (41): moved");
        let e = KafkaError::from_code(36, None).unwrap();
        assert_eq!(e.name, "TOPIC_ALREADY_EXISTS");
        assert!(!e.is_retriable());
        assert_eq!(KafkaError::from_code(0, Some("x")), None);
        assert_eq!(
            KafkaError::from_code(9999, None).unwrap().name,
            "UNKNOWN_ERROR_CODE_9999"
        );
        assert_eq!(
            KafkaError::from_code(-1, None).unwrap().name,
            "UNKNOWN_SERVER_ERROR"
        );
    }
}
