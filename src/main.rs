//! `byoc-console`: the command line. Parses flags, sets up logging, and hands over to the
//! wiring in `lib.rs`. The vendor commands live here too: the customer never needs them, the
//! tests and the demo do.

use anyhow::{bail, Context};
use app::domain::license::{
    self, BillingModel, DimensionPrice, LicensePayload, PriceTier, Pricing, TrustedKey,
};
use app::server::marketplace::{client::Endpoints, MarketplaceSettings};
use app::server::{
    broker::{BrokerSettings, Listener},
    clock::SystemClock,
    db, store, vendor, Config, ProvisionerChoice,
};
use byoc_console::{leptos_options, Console};
use clap::{Parser, Subcommand, ValueEnum};
use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "byoc-console",
    version,
    about = "Self-hosted BYOC environment console for managed Kafka"
)]
struct Cli {
    /// Log format on stdout.
    #[arg(long, global = true, env = "BYOC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the console's web server.
    Serve(ServeArgs),
    /// Run a demo: a data directory of its own, a demo vendor key trusted at run time, and a
    /// printed one-year product key for this installation.
    Demo {
        #[arg(long, env = "BYOC_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The demo's data directory (kept between runs; remove it to start over).
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        /// Where the demo's own marketplace emulator listens (AWS Marketplace and Alibaba
        /// Cloud Compute Nest, in memory); the demo's pay-as-you-go key is billed through it.
        #[arg(long, default_value = "127.0.0.1:9300")]
        emulator_listen: SocketAddr,
        #[command(flatten)]
        brokers: BrokerArgs,
    },
    /// Run the marketplace emulator alone (AWS Marketplace Metering and Alibaba Cloud Compute
    /// Nest, in memory, with request signatures verified): for tests and demos. It prints
    /// its demo credentials.
    MarketplaceEmulator {
        #[arg(long, default_value = "127.0.0.1:9300")]
        listen: SocketAddr,
        /// Alibaba's one push per service instance per this many seconds.
        #[arg(long, default_value_t = 60)]
        alibaba_push_interval_seconds: u64,
    },
    /// Print this installation's ID (creating the data directory and ID if needed).
    InstallationId {
        /// Directory holding the console's SQLite database.
        #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Vendor tooling: signing keys and product keys.
    #[command(subcommand)]
    Vendor(VendorCommand),
    /// Administrator commands on the data directory (they work while the console runs).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent copy of the database to FILE (while the console runs). Restore: stop
    /// the console, copy FILE to DATA_DIR/console.db (removing console.db-wal and -shm), start.
    Backup {
        #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// The backup file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give USER a random temporary password (printed), to be changed at the next sign-in;
    /// ends the user's sessions. For an administrator who is locked out.
    ResetPassword {
        #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain; exits 1 and names the first entry that breaks it.
    Verify {
        #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "BYOC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding the console's SQLite database (created with mode 0700).
    #[arg(long, env = "BYOC_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Mark the session cookie Secure (sent over HTTPS only). Set to false only when users
    /// reach the console over plain HTTP, e.g. on a private network without TLS.
    #[arg(long, env = "BYOC_SECURE_COOKIES", default_value_t = true, action = clap::ArgAction::Set)]
    secure_cookies: bool,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "BYOC_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=1440))]
    session_idle_minutes: i64,
    /// Also trust this vendor public key file (for tests and demos; licenses it signs are
    /// marked as such on every page and in the audit log). Repeatable.
    #[arg(long, env = "BYOC_TRUST_KEY", value_delimiter = ',')]
    trust_key: Vec<PathBuf>,
    /// Milliseconds each step of the simulated provisioner takes (create has five steps).
    #[arg(long, env = "BYOC_PROVISION_STEP_MS", default_value_t = 1500, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    provision_step_ms: u64,
    #[command(flatten)]
    brokers: BrokerArgs,
    #[command(flatten)]
    marketplace: MarketplaceArgs,
}

/// Marketplace billing. Credentials are the host's own, from each cloud's standard chain
/// (AWS: environment, profile, web identity, ECS, instance role; Alibaba Cloud: the
/// `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET` environment or the RAM role named by
/// `ALIBABA_CLOUD_ECS_METADATA`).
#[derive(clap::Args)]
struct MarketplaceArgs {
    /// The AWS Marketplace Metering endpoint [default: the SDK's, or
    /// AWS_ENDPOINT_URL_MARKETPLACE_METERING].
    #[arg(long, env = "BYOC_MARKETPLACE_AWS_ENDPOINT")]
    marketplace_aws_endpoint: Option<String>,
    /// The AWS region [default: the standard chain's, else us-east-1].
    #[arg(long, env = "BYOC_MARKETPLACE_AWS_REGION")]
    marketplace_aws_region: Option<String>,
    /// The Alibaba Cloud Compute Nest endpoint [default:
    /// https://computenest.cn-hangzhou.aliyuncs.com].
    #[arg(long, env = "BYOC_MARKETPLACE_ALIBABA_ENDPOINT")]
    marketplace_alibaba_endpoint: Option<String>,
    /// Hours instances keep running after the marketplace says the subscription ended
    /// (nothing can be created or scaled up meanwhile); then they are suspended, data kept.
    #[arg(long, env = "BYOC_MARKETPLACE_GRACE_HOURS", default_value_t = 72, value_parser = clap::value_parser!(i64).range(0..=8760))]
    marketplace_grace_hours: i64,
    /// How often the reporter looks for closed hours to report (seconds).
    #[arg(long, env = "BYOC_MARKETPLACE_REPORT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    marketplace_report_seconds: u64,
    /// Alibaba takes one push per service instance a minute (seconds between pushes).
    #[arg(long, env = "BYOC_MARKETPLACE_ALIBABA_PUSH_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    marketplace_alibaba_push_seconds: u64,
}

impl MarketplaceArgs {
    fn settings(&self) -> MarketplaceSettings {
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
enum ProvisionerKind {
    /// A real Kafka broker (nisshi) per instance on this host.
    Broker,
    /// No broker: operations only take time (`--provision-step-ms`); for tests and demos of
    /// the console alone.
    Simulated,
}

#[derive(clap::Args)]
struct BrokerArgs {
    /// What stands behind each instance.
    #[arg(long, env = "BYOC_PROVISIONER", value_enum, default_value_t = ProvisionerKind::Broker)]
    provisioner: ProvisionerKind,
    /// The broker program, nisshi 0.8.1 [default: nisshi on PATH, else ~/.cargo/bin/nisshi].
    #[arg(long, env = "BYOC_BROKER_BIN")]
    broker_bin: Option<PathBuf>,
    /// The ports instances' brokers get, FIRST-LAST.
    #[arg(long, env = "BYOC_BROKER_PORTS", default_value = "19092-19591", value_parser = parse_port_range)]
    broker_ports: (u16, u16),
    /// The address brokers of instances exposed inside the network listen on: a private
    /// address of this host (0.0.0.0 means every interface, public ones included).
    #[arg(long, env = "BYOC_BROKER_PRIVATE_ADDRESS", default_value = "127.0.0.1")]
    broker_private_address: IpAddr,
    /// The host name or address Kafka clients inside the network use (bootstrap addresses
    /// and TLS certificates) [default: the private address].
    #[arg(long, env = "BYOC_BROKER_HOST")]
    broker_host: Option<String>,
    /// The address brokers of internet endpoints listen on: a public address of this host.
    /// Without it, internet endpoints are refused.
    #[arg(long, env = "BYOC_BROKER_PUBLIC_ADDRESS")]
    broker_public_address: Option<IpAddr>,
    /// The host name or address internet clients use [default: the public address].
    #[arg(long, env = "BYOC_BROKER_PUBLIC_HOST")]
    broker_public_host: Option<String>,
    /// How often each broker deletes messages past their topic's retention (seconds).
    #[arg(long, env = "BYOC_BROKER_MAINTENANCE_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    broker_maintenance_seconds: u64,
    /// Stop every instance's broker when the console stops (for uninstalling). Without it the
    /// brokers go on serving Kafka clients while the console is stopped, restarted or
    /// upgraded, and the next console adopts them.
    #[arg(long, env = "BYOC_STOP_BROKERS_ON_EXIT", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    stop_brokers_on_exit: bool,
}

fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
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
    fn choice(&self) -> anyhow::Result<ProvisionerChoice> {
        if self.provisioner == ProvisionerKind::Broker {
            if self.broker_private_address.is_unspecified() {
                anyhow::bail!(
                    "--broker-private-address {} would listen on every interface, public ones \
                     included: give a private address of this host (127.0.0.1 by default)",
                    self.broker_private_address
                );
            }
            if self.broker_public_address == Some(self.broker_private_address) {
                anyhow::bail!(
                    "--broker-public-address and --broker-private-address are both {}: an \
                     instance inside the network would be reachable from the internet",
                    self.broker_private_address
                );
            }
        }
        Ok(match self.provisioner {
            ProvisionerKind::Simulated => ProvisionerChoice::Simulated,
            ProvisionerKind::Broker => ProvisionerChoice::Broker(BrokerSettings {
                bin: self.broker_bin.clone().unwrap_or_else(default_broker_bin),
                ports: self.broker_ports,
                private: listener(self.broker_private_address, self.broker_host.as_deref()),
                public: self
                    .broker_public_address
                    .map(|bind| listener(bind, self.broker_public_host.as_deref())),
                maintenance_every: std::time::Duration::from_secs(self.broker_maintenance_seconds),
            }),
        })
    }
}

/// A listener on `bind`, advertised as `host` (the bound address when none is given, or this
/// host's loopback address when a public listener binds every address).
fn listener(bind: IpAddr, host: Option<&str>) -> Listener {
    let host = match host {
        Some(host) => host.trim().to_string(),
        None if bind.is_unspecified() => "127.0.0.1".into(),
        None => bind.to_string(),
    };
    Listener { bind, host }
}

/// `nisshi` from PATH, else where `cargo install` puts it.
fn default_broker_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nisshi"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cargo/bin/nisshi")
    })
}

#[derive(Subcommand)]
enum VendorCommand {
    /// Generate an Ed25519 signing key pair: DIR/signing-key.json (mode 0600) and
    /// DIR/public-key.json.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// The key id written into every key it signs.
        #[arg(long, default_value = "vendor-dev")]
        key_id: String,
    },
    /// Issue a product key; prints it as the last line.
    Issue(Box<IssueArgs>),
}

#[derive(clap::Args)]
struct IssueArgs {
    #[arg(long)]
    signing_key: PathBuf,
    #[arg(long)]
    installation_id: String,
    #[arg(long)]
    customer: String,
    #[arg(long, value_parser = ["prepaid", "payg", "trial"])]
    billing: String,
    /// AKU quota (prepaid, trial); for payg an optional cap.
    #[arg(long)]
    aku: Option<u32>,
    /// Length of the license in calendar months from the start.
    #[arg(long, conflicts_with = "expires", required_unless_present = "expires")]
    months: Option<u32>,
    /// Expiry: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    expires: Option<String>,
    /// Start: YYYY-MM-DD or RFC 3339 (default: now).
    #[arg(long)]
    starts: Option<String>,
    /// Issue time: YYYY-MM-DD or RFC 3339 (default: now).
    #[arg(long)]
    issued: Option<String>,
    #[arg(long, default_value_t = 500)]
    max_aku_per_instance: u32,
    #[arg(long, default_value_t = 14)]
    grace_days: u32,
    /// Default: a new random id.
    #[arg(long)]
    license_id: Option<String>,
    /// Currency of the unit prices (payg).
    #[arg(long, default_value = "USD")]
    currency: String,
    /// Tiered unit prices of one dimension (payg), e.g. `aku_hours:0=0.12,10000=0.10`: from
    /// 0 units a month on 0.12 each, from 10000 on 0.10. Repeatable.
    #[arg(long)]
    price: Vec<String>,
    /// The marketplace listing a pay-as-you-go license is billed through:
    /// `aws:PRODUCT_CODE` or `alibaba:SERVICE_ID` (optional).
    #[arg(long)]
    listing: Option<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Demo {
            listen,
            data_dir,
            emulator_listen,
            brokers,
        } => demo(listen, data_dir, emulator_listen, brokers).await,
        Command::MarketplaceEmulator {
            listen,
            alibaba_push_interval_seconds,
        } => {
            let config = marketplace_emulator::Config {
                alibaba_push_interval_s: alibaba_push_interval_seconds,
                ..marketplace_emulator::Config::demo()
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            print_emulator(listen, &config);
            marketplace_emulator::serve(listener, config).await?;
            Ok(())
        }
        Command::InstallationId { data_dir } => {
            let pool = db::open(&data_dir).await?;
            let now = OffsetDateTime::now_utc().unix_timestamp();
            println!("{}", store::environment::installation_id(&pool, now).await?);
            pool.close().await;
            Ok(())
        }
        Command::Admin(AdminCommand::ResetPassword { data_dir, user }) => {
            let (temporary, disabled) =
                byoc_console::admin::reset_password(&data_dir, &user).await?;
            println!("Temporary password for {user} (to be changed at the next sign-in):");
            println!("{temporary}");
            if disabled {
                println!("Note: this user is disabled; another administrator must enable it.");
            }
            Ok(())
        }
        Command::Backup { data_dir, out } => {
            let bytes = byoc_console::admin::backup(&data_dir, &out).await?;
            println!("backup written: {} ({bytes} bytes)", out.display());
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { data_dir }) => {
            match byoc_console::admin::verify_audit(&data_dir).await? {
                Ok(n) => {
                    println!("audit log intact: {n} entries, hash chain verified");
                    Ok(())
                }
                Err(broken) => bail!("the audit log's hash chain is broken: {broken}"),
            }
        }
        Command::Vendor(VendorCommand::Keygen { out, key_id }) => {
            let (secret, public) = vendor::generate(&out, &key_id)?;
            println!("signing key (keep secret): {}", secret.display());
            println!("public key: {}", public.display());
            Ok(())
        }
        Command::Vendor(VendorCommand::Issue(args)) => {
            let key = issue(*args, OffsetDateTime::now_utc())?;
            println!("{key}");
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        secure_cookies: args.secure_cookies,
        session_idle_minutes: args.session_idle_minutes,
        provision_step: std::time::Duration::from_millis(args.provision_step_ms),
        provisioner: args.brokers.choice()?,
        stop_brokers_on_exit: args.brokers.stop_brokers_on_exit,
        marketplace: args.marketplace.settings(),
        ..Config::default()
    };
    let extra_keys = args
        .trust_key
        .iter()
        .map(|path| vendor::read_public_key(path))
        .collect::<Result<Vec<TrustedKey>, _>>()?;
    let console = Console::open(
        &args.data_dir,
        config,
        Arc::new(SystemClock),
        leptos_options(args.listen),
        extra_keys,
    )
    .await?;
    listen_and_serve(console, args.listen, args.secure_cookies).await
}

async fn listen_and_serve(
    console: Console,
    addr: SocketAddr,
    secure_cookies: bool,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(address = %addr, secure_cookies, "console listening");
    println!("BYOC console listening on http://{addr}");
    console.serve(listener, shutdown_signal()).await
}

/// Prints where the emulator listens and the credentials it knows.
fn print_emulator(listen: SocketAddr, config: &marketplace_emulator::Config) {
    println!("Marketplace emulator on http://{listen} (AWS at /, Alibaba Cloud at /alibaba/)");
    for account in &config.aws {
        println!(
            "  AWS access key {} secret {} ({})",
            account.access_key_id,
            account.secret,
            if account.authorized {
                "may call MeterUsage"
            } else {
                "without the MeterUsage permission"
            }
        );
    }
    println!("  AWS product code {}", config.aws_product_code);
    for account in &config.alibaba {
        println!(
            "  Alibaba access key {} secret {}",
            account.access_key_id, account.secret
        );
    }
    println!(
        "  Alibaba service instance {}",
        config.alibaba_service_instance_id
    );
    println!("  Switch the subscription off: curl -XPOST http://{listen}/_emulator/entitlement -d '{{\"entitled\":false}}' -H 'content-type: application/json'");
}

async fn demo(
    listen: SocketAddr,
    data_dir: PathBuf,
    emulator_listen: SocketAddr,
    brokers: BrokerArgs,
) -> anyhow::Result<()> {
    // The demo's own marketplace: the console reports to it with the emulator's demo
    // credentials, given the standard way (the environment), and nothing reaches a cloud.
    let emulator = marketplace_emulator::Config::demo();
    let emulator_listener = tokio::net::TcpListener::bind(emulator_listen)
        .await
        .with_context(|| format!("the marketplace emulator cannot listen on {emulator_listen}"))?;
    let aws = emulator
        .aws
        .first()
        .cloned()
        .context("the emulator knows no AWS account")?;
    let alibaba = emulator
        .alibaba
        .first()
        .cloned()
        .context("the emulator knows no Alibaba account")?;
    std::env::set_var("AWS_ACCESS_KEY_ID", &aws.access_key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &aws.secret);
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("ALIBABA_CLOUD_ACCESS_KEY_ID", &alibaba.access_key_id);
    std::env::set_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &alibaba.secret);
    let product_code = emulator.aws_product_code.clone();
    let service_instance = emulator.alibaba_service_instance_id.clone();
    print_emulator(emulator_listen, &emulator);
    tokio::spawn(async move {
        if let Err(error) = marketplace_emulator::serve(emulator_listener, emulator).await {
            tracing::error!(%error, "marketplace emulator stopped");
        }
    });
    let vendor_dir = data_dir.join("demo-vendor");
    if !vendor_dir.join(vendor::SIGNING_KEY_FILE).exists() {
        vendor::generate(&vendor_dir, "demo-vendor")?;
    }
    let trusted = vendor::read_public_key(&vendor_dir.join(vendor::PUBLIC_KEY_FILE))?;
    let console = Console::open(
        &data_dir,
        Config {
            provisioner: brokers.choice()?,
            stop_brokers_on_exit: brokers.stop_brokers_on_exit,
            marketplace: MarketplaceSettings {
                endpoints: Endpoints {
                    aws: Some(format!("http://{emulator_listen}")),
                    aws_region: Some("us-east-1".into()),
                    alibaba: Some(format!("http://{emulator_listen}/alibaba")),
                },
                ..MarketplaceSettings::default()
            },
            ..Config::default()
        },
        Arc::new(SystemClock),
        leptos_options(listen),
        vec![trusted],
    )
    .await?;
    let demo_key =
        |billing: &str, aku: u32, license_id: &str, price: Vec<String>, listing: Option<String>| {
            issue(
                IssueArgs {
                    signing_key: vendor_dir.join(vendor::SIGNING_KEY_FILE),
                    installation_id: console.state.installation_id.clone(),
                    customer: "Demo customer".into(),
                    billing: billing.into(),
                    aku: Some(aku),
                    months: Some(12),
                    expires: None,
                    starts: None,
                    issued: None,
                    max_aku_per_instance: 500,
                    grace_days: 14,
                    license_id: Some(license_id.into()),
                    currency: "USD".into(),
                    price,
                    listing,
                },
                OffsetDateTime::now_utc(),
            )
        };
    let prepaid = demo_key("prepaid", 100, "DEMO-PREPAID", vec![], None)?;
    // Tiered like the vendor's usage-based billing: the more used in a month, the lower the
    // unit price beyond each threshold.
    let payg = demo_key(
        "payg",
        200,
        "DEMO-PAYG",
        [
            "aku_hours:0=0.12,10000=0.10,50000=0.08",
            "data_in_gib:0=0.02,10000=0.015",
            "data_out_gib:0=0.01",
            "data_retained_gib_hours:0=0.00005",
            "uptime_hours_dev:0=0.05",
            "uptime_hours_pro:0=0.20",
            "uptime_hours_enterprise:0=0.50",
        ]
        .map(String::from)
        .to_vec(),
        Some(format!("aws:{product_code}")),
    )?;
    println!();
    println!("BYOC console demo: open http://{listen}");
    println!("  1. Set up the first administrator.");
    println!("  2. On the activation page, paste one of these product keys for this installation.");
    println!();
    println!("One-year prepaid, 100 AKU:");
    println!("{prepaid}");
    println!();
    println!("One-year pay-as-you-go (usage and charges on the Usage page), capped at 200 AKU:");
    println!("{payg}");
    println!();
    println!("It is billed through the emulator's AWS listing: on the Marketplace page, link AWS Marketplace");
    println!("with product code {product_code} (or Alibaba Cloud with service instance {service_instance}");
    println!("after applying a key issued with --listing alibaba:SERVICE_ID). Each hour is reported within a minute after it closes:\nwatch them on the Usage page.");
    println!();
    println!("The demo vendor key is trusted only by this demo; every page says so.");
    listen_and_serve(console, listen, true).await
}

fn parse_time(field: &str, text: &str) -> anyhow::Result<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("--{field} {text:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(date.midnight().assume_utc())
}

/// `aku_hours:0=0.12,10000=0.10`
fn parse_price(text: &str) -> anyhow::Result<DimensionPrice> {
    let (dimension, tiers) = text
        .split_once(':')
        .with_context(|| format!("--price {text:?}: expected DIMENSION:FROM=PRICE,..."))?;
    let tiers = tiers
        .split(',')
        .map(|tier| {
            let (from, price) = tier
                .split_once('=')
                .with_context(|| format!("--price tier {tier:?}: expected FROM=PRICE"))?;
            Ok(PriceTier {
                from_quantity: from.trim().parse().with_context(|| {
                    format!("--price tier {tier:?}: FROM is not a whole number")
                })?,
                unit_price: price
                    .trim()
                    .parse()
                    .with_context(|| format!("--price tier {tier:?}: PRICE is not a decimal"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(DimensionPrice {
        dimension: dimension.trim().to_string(),
        tiers,
    })
}

fn issue(args: IssueArgs, now: OffsetDateTime) -> anyhow::Result<String> {
    let (key_id, signing_key) = vendor::read_signing_key(&args.signing_key)?;
    let billing =
        BillingModel::parse(&args.billing).context("--billing must be prepaid, payg or trial")?;
    let starts_at = args
        .starts
        .as_deref()
        .map(|s| parse_time("starts", s))
        .transpose()?
        .unwrap_or(now);
    let issued_at = args
        .issued
        .as_deref()
        .map(|s| parse_time("issued", s))
        .transpose()?
        .unwrap_or(now);
    let expires_at = match (args.months, args.expires.as_deref()) {
        (Some(0), _) => bail!("--months must be at least 1"),
        (Some(months), _) => {
            license::add_months(starts_at, months).context("--months is too large")?
        }
        (None, Some(text)) => parse_time("expires", text)?,
        (None, None) => bail!("give --months or --expires"),
    };
    if expires_at <= starts_at {
        bail!("--expires must be after the start ({})", starts_at.date());
    }
    if args.aku == Some(0) {
        bail!("--aku must be at least 1");
    }
    let pricing = if args.price.is_empty() {
        None
    } else {
        Some(Pricing {
            currency: args.currency.clone(),
            dimensions: args
                .price
                .iter()
                .map(|p| parse_price(p))
                .collect::<anyhow::Result<_>>()?,
        })
    };
    let payload = LicensePayload {
        format: license::FORMAT_VERSION,
        key_id,
        license_id: args.license_id.unwrap_or_else(|| {
            format!(
                "LIC-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase()
            )
        }),
        customer: args.customer,
        installation_id: args.installation_id.trim().to_string(),
        billing,
        aku_quota: args.aku,
        max_aku_per_instance: args.max_aku_per_instance,
        issued_at,
        starts_at,
        expires_at,
        grace_days: args.grace_days,
        pricing,
        listing: args
            .listing
            .as_deref()
            .map(license::Listing::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--listing: {e}"))?,
    };
    license::issue(&payload, &signing_key).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(colours);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
