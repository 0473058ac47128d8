//! The `serve` flags: the web server's, the brokers' and marketplace billing's, each with its
//! environment variable.

use app::domain::net;
use app::server::kafka::KafkaSettings;
use app::server::kafka::Listener;
use app::server::marketplace::{client::Endpoints, MarketplaceSettings};
use app::server::ProvisionerChoice;
use clap::ValueEnum;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "BYOC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory holding the console's SQLite database (created with mode 0700).
    #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Mark the session cookie Secure (sent over HTTPS only). Set to false only when users
    /// reach the console over plain HTTP, e.g. on a private network without TLS.
    #[arg(long, env = "BYOC_SECURE_COOKIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "BYOC_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub session_idle_minutes: i64,
    /// Also trust this vendor public key file (for tests and demos; licenses it signs are
    /// marked as such on every page and in the audit log). Repeatable.
    #[arg(long, env = "BYOC_TRUST_KEY", value_delimiter = ',')]
    pub trust_key: Vec<PathBuf>,
    /// Milliseconds each step of the simulated provisioner takes (create has five steps).
    #[arg(long, env = "BYOC_PROVISION_STEP_MS", default_value_t = 1500, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub provision_step_ms: u64,
    /// Requests a second each REST API token may send once its burst is spent.
    #[arg(long, env = "BYOC_API_RATE", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub api_rate: u32,
    /// Requests each REST API token may send at once before the rate applies.
    #[arg(long, env = "BYOC_API_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub api_burst: u32,
    /// A bearer token that also opens /metrics to scrapers not on this host (loopback clients
    /// need none). At least 24 characters.
    #[arg(long, env = "BYOC_METRICS_TOKEN", value_parser = metrics_token)]
    pub metrics_token: Option<String>,
    /// The directory operators put nisshi 0.8.1 storage files in, to move their data into a
    /// Kafka-cluster instance (docs/moving-data.md); a move names a file inside it. Unset:
    /// moves from nisshi files are off.
    #[arg(long, env = "BYOC_IMPORT_DIR")]
    pub import_dir: Option<std::path::PathBuf>,
    /// Messages per Produce of a move's copy (tests make it small to cut a copy off midway).
    #[arg(long, default_value_t = 500, hide = true, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub move_batch_messages: u32,
    /// The address users reach the console at, e.g. https://console.example.com: requests
    /// must name its host (or this host's loopback or listen address), and a browser's
    /// Origin must be it. Without it any address of this host and localhost are answered, and
    /// no host name is (DNS rebinding).
    #[arg(long, env = "BYOC_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<PublicUrl>,
    /// Another host name requests may carry (repeatable, or comma-separated).
    #[arg(long, env = "BYOC_ALLOWED_HOST", value_delimiter = ',')]
    pub allowed_host: Vec<String>,
    /// Reverse proxies on whose word the client's address is taken from X-Forwarded-For or
    /// Forwarded: addresses or networks (ADDR/PREFIX), comma-separated. None by default.
    #[arg(long, env = "BYOC_TRUSTED_PROXY", value_delimiter = ',', value_parser = trusted_proxy)]
    pub trusted_proxy: Vec<String>,
    #[command(flatten)]
    pub brokers: BrokerArgs,
    #[command(flatten)]
    pub marketplace: MarketplaceArgs,
}

/// `--public-url`, checked: its origin and host.
#[derive(Clone, Debug)]
pub struct PublicUrl {
    /// `scheme://host[:port]`
    pub origin: String,
    pub host: String,
}

fn public_url(text: &str) -> Result<PublicUrl, String> {
    let rule =
        "give the console's address as http(s)://HOST[:PORT], e.g. https://console.example.com";
    let text = text.trim().trim_end_matches('/');
    let (scheme, authority) = text.split_once("://").ok_or(rule)?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") || authority.contains('/')
    {
        return Err(rule.into());
    }
    let host = app::domain::net::host_of(authority).ok_or(rule)?;
    Ok(PublicUrl {
        origin: format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ),
        host,
    })
}

fn trusted_proxy(text: &str) -> Result<String, String> {
    app::domain::net::TrustedProxies::parse([text]).map(|_| text.trim().to_string())
}

impl ServeArgs {
    /// The hosts, origin and proxies the flags describe.
    pub fn front_door(&self) -> anyhow::Result<FrontDoor> {
        let mut names: Vec<String> = self.public_url.iter().map(|u| u.host.clone()).collect();
        for name in &self.allowed_host {
            let host = app::domain::net::host_of(name).ok_or_else(|| {
                anyhow::anyhow!("--allowed-host {name:?} is not a host name or address")
            })?;
            names.push(host);
        }
        let listen = Some(self.listen.ip());
        Ok(FrontDoor {
            allowed_hosts: app::domain::net::AllowedHosts::new(names, listen),
            public_origin: self.public_url.as_ref().map(|u| u.origin.clone()),
            trusted_proxies: app::domain::net::TrustedProxies::parse(
                self.trusted_proxy.iter().map(String::as_str),
            )
            .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))?,
        })
    }
}

pub struct FrontDoor {
    pub allowed_hosts: app::domain::net::AllowedHosts,
    pub public_origin: Option<String>,
    pub trusted_proxies: app::domain::net::TrustedProxies,
}

/// Marketplace billing. AWS: the host's own credentials from the standard chain (environment,
/// profile, web identity, ECS, instance role; temporary credentials only). Alibaba Cloud:
/// Compute Nest's in-instance calls, no access key: the service key in
/// `DATA_DIR/marketplace/alibaba-service-key` (owner-only).
#[derive(clap::Args)]
pub struct MarketplaceArgs {
    /// The AWS Marketplace Metering endpoint [default: the SDK's, or
    /// AWS_ENDPOINT_URL_MARKETPLACE_METERING].
    #[arg(long, env = "BYOC_MARKETPLACE_AWS_ENDPOINT")]
    pub marketplace_aws_endpoint: Option<String>,
    /// The AWS region [default: the standard chain's, else us-east-1].
    #[arg(long, env = "BYOC_MARKETPLACE_AWS_REGION")]
    pub marketplace_aws_region: Option<String>,
    /// One base for the ECS metadata service and Compute Nest's in-instance API [default: the
    /// metadata service at http://100.100.100.200, then https://{region}.axt.aliyun.com].
    #[arg(long, env = "BYOC_MARKETPLACE_ALIBABA_ENDPOINT")]
    pub marketplace_alibaba_endpoint: Option<String>,
    /// Hours instances keep running after the marketplace says the subscription ended
    /// (nothing can be created or scaled up meanwhile); then they are suspended, data kept.
    /// Also the link grace: a license bound to a listing must be linked (with reports
    /// permitted) within these hours of activation, an unlink or a permission failure, or
    /// growth is refused.
    #[arg(long, env = "BYOC_MARKETPLACE_GRACE_HOURS", default_value_t = 72, value_parser = clap::value_parser!(i64).range(0..=8760))]
    pub marketplace_grace_hours: i64,
    /// How often the reporter looks for closed hours to report (seconds).
    #[arg(long, env = "BYOC_MARKETPLACE_REPORT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub marketplace_report_seconds: u64,
    /// Alibaba takes one push per service instance a minute (seconds between pushes).
    #[arg(long, env = "BYOC_MARKETPLACE_ALIBABA_PUSH_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub marketplace_alibaba_push_seconds: u64,
}

impl MarketplaceArgs {
    pub fn settings(&self) -> MarketplaceSettings {
        MarketplaceSettings {
            endpoints: Endpoints {
                aws: self.marketplace_aws_endpoint.clone(),
                aws_region: self.marketplace_aws_region.clone(),
                alibaba: self.marketplace_alibaba_endpoint.clone(),
            },
            grace_s: self.marketplace_grace_hours * 3600,
            report_every: std::time::Duration::from_secs(self.marketplace_report_seconds),
            alibaba_push_interval: std::time::Duration::from_secs(
                self.marketplace_alibaba_push_seconds,
            ),
        }
    }
}

/// What stands behind each instance.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProvisionerKind {
    /// No broker: operations only take time (`--provision-step-ms`); for tests and demos of
    /// the console alone.
    Simulated,
    /// An Apache Kafka 4.4 KRaft cluster of three nodes per instance on this host (see
    /// docs/instances.md).
    Kafka,
}

#[derive(clap::Args)]
pub struct BrokerArgs {
    /// What stands behind each instance.
    #[arg(long, env = "BYOC_PROVISIONER", value_enum, default_value_t = ProvisionerKind::Kafka)]
    pub provisioner: ProvisionerKind,
    /// Kafka 4.4.0's jars [default: BYOC_KAFKA_HOME/libs, else
    /// ~/.local/share/byoc/kafka-4.4.0/libs, where scripts/setup.sh puts them].
    #[arg(long, env = "BYOC_KAFKA_LIBS")]
    pub kafka_libs: Option<PathBuf>,
    /// The ports Kafka clusters' blocks are taken from, FIRST-LAST (48 per instance).
    #[arg(long, env = "BYOC_KAFKA_PORTS", default_value = "20000-29983", value_parser = parse_port_range)]
    pub kafka_ports: (u16, u16),
    /// MiB/s of writes one AKU buys on a Kafka cluster (reads twice that): the instance-wide
    /// client quotas are its AKU times this. The vendor's unit is 30; a smaller one (to the
    /// KiB, e.g. 0.25) lets tests on a small machine reach an instance's quota.
    #[arg(long, env = "BYOC_KAFKA_AKU_MIB_PER_SECOND", default_value = "30", value_parser = parse_aku_unit)]
    pub kafka_aku_mib_per_second: u32,
    /// The address brokers of instances exposed inside the network listen on: a private
    /// address of this host (0.0.0.0 means every interface, public ones included).
    #[arg(long, env = "BYOC_BROKER_PRIVATE_ADDRESS", default_value = "127.0.0.1")]
    pub broker_private_address: IpAddr,
    /// The host name or address Kafka clients inside the network use (bootstrap addresses
    /// and TLS certificates) [default: the private address].
    #[arg(long, env = "BYOC_BROKER_HOST")]
    pub broker_host: Option<String>,
    /// The address brokers of internet endpoints listen on: a public address of this host.
    /// Without it, internet endpoints are refused.
    #[arg(long, env = "BYOC_BROKER_PUBLIC_ADDRESS")]
    pub broker_public_address: Option<IpAddr>,
    /// The host name or address internet clients use [default: the public address].
    #[arg(long, env = "BYOC_BROKER_PUBLIC_HOST")]
    pub broker_public_host: Option<String>,
    /// Stop every instance's broker when the console stops (for uninstalling). Without it the
    /// brokers go on serving Kafka clients while the console is stopped, restarted or
    /// upgraded, and the next console adopts them.
    #[arg(long, env = "BYOC_STOP_BROKERS_ON_EXIT", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub stop_brokers_on_exit: bool,
}

fn metrics_token(text: &str) -> Result<String, String> {
    let ok = text.len() >= 24 && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_string())
        .ok_or_else(|| "the metrics token must be at least 24 visible ASCII characters".into())
}

/// `--kafka-aku-mib-per-second`: MiB/s, to the KiB, from 1 KiB/s to 1,024 MiB/s; in KiB/s.
pub fn parse_aku_unit(text: &str) -> Result<u32, String> {
    let rule = "give the MiB/s one AKU buys, e.g. 30 or 0.25 (at least 1 KiB/s, at most 1024)";
    let mib: f64 = text.trim().parse().map_err(|_| rule)?;
    let kib = (mib * 1024.0).round();
    if !(1.0..=1024.0 * 1024.0).contains(&kib) {
        return Err(rule.into());
    }
    Ok(kib as u32)
}

pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let rule = "give the ports as FIRST-LAST, e.g. 19092-19591, with 1024 <= FIRST <= LAST";
    let (first, last) = text.split_once('-').ok_or(rule)?;
    let first: u16 = first.trim().parse().map_err(|_| rule)?;
    let last: u16 = last.trim().parse().map_err(|_| rule)?;
    if first < 1024 || first > last {
        return Err(rule.into());
    }
    Ok((first, last))
}

impl BrokerArgs {
    /// The provisioner the flags describe. Exposure must be what it says: the private
    /// address cannot be every interface (instances "inside the network" would listen on
    /// public ones too), nor the public address.
    pub fn choice(&self) -> anyhow::Result<ProvisionerChoice> {
        if self.provisioner != ProvisionerKind::Simulated {
            if net::is_every_interface(self.broker_private_address) {
                anyhow::bail!(
                    "--broker-private-address {} would listen on every interface, public ones \
                     included: give a private address of this host (127.0.0.1 by default)",
                    self.broker_private_address
                );
            }
            if self
                .broker_public_address
                .is_some_and(|public| net::same_address(public, self.broker_private_address))
            {
                anyhow::bail!(
                    "--broker-public-address and --broker-private-address are both {}: an \
                     instance inside the network would be reachable from the internet",
                    self.broker_private_address
                );
            }
        }
        Ok(match self.provisioner {
            ProvisionerKind::Simulated => ProvisionerChoice::Simulated,
            ProvisionerKind::Kafka => ProvisionerChoice::Kafka(KafkaSettings {
                libs: self
                    .kafka_libs
                    .clone()
                    .unwrap_or_else(byoc_engine::host::local::KafkaInstall::default_libs),
                ports: self.kafka_ports,
                aku_kib_per_second: self.kafka_aku_mib_per_second,
                private: listener(
                    net::canonical(self.broker_private_address),
                    self.broker_host.as_deref(),
                ),
                public: self
                    .broker_public_address
                    .map(|bind| listener(net::canonical(bind), self.broker_public_host.as_deref())),
            }),
        })
    }
}

/// A listener on `bind`, advertised as `host` (the bound address when none is given, or this
/// host's loopback address when a public listener binds every address).
pub fn listener(bind: IpAddr, host: Option<&str>) -> Listener {
    let host = match host {
        Some(host) => host.trim().to_string(),
        None if net::is_every_interface(bind) => "127.0.0.1".into(),
        None => bind.to_string(),
    };
    Listener { bind, host }
}
