//! How the console runs Kafka clusters (the flags of `serve`) and where their clients are
//! told to connect.

use std::net::IpAddr;
use std::path::PathBuf;

/// How the console runs Kafka clusters (flags of `serve`).
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// Kafka 4.4.0's jars (scripts/fetch_kafka.sh).
    pub libs: PathBuf,
    /// The ports instances' blocks are taken from, first to last (inclusive).
    pub ports: (u16, u16),
    /// Where nodes of instances exposed inside the network listen for clients.
    pub private: Listener,
    /// Where nodes of internet-facing instances listen; none configured: such instances are
    /// refused.
    pub public: Option<Listener>,
    /// KiB/s of produce one AKU buys (reads twice that): the vendor's 30 MiB/s
    /// (`byoc_domain::data_plane::DEFAULT_UNIT_KIB_S`), less on a small test machine
    /// (`--kafka-aku-mib-per-second`).
    pub aku_kib_per_second: u32,
}

/// One exposure's listener: the address nodes bind, and the host name or address clients
/// are told to use (in the bootstrap address and the TLS certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub bind: IpAddr,
    pub host: String,
}

impl Listener {
    /// Loopback only: the default, reachable from this host alone.
    pub fn loopback() -> Listener {
        Listener {
            bind: IpAddr::from([127, 0, 0, 1]),
            host: "127.0.0.1".into(),
        }
    }
}

pub const NO_PUBLIC_ADDRESS: &str = "This console has no public address for Kafka endpoints \
    (serve --broker-public-address, BYOC_BROKER_PUBLIC_ADDRESS): an internet endpoint would \
    not be reachable from the internet. Choose Inside the VPC, or ask the administrator of this \
    host to configure one.";
