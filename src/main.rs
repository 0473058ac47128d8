//! `byoc-console`: the command line. Parses flags, sets up logging, and hands over to the
//! wiring in `lib.rs`. The flags, the vendor's commands and the demo are in `cli/`.

mod cli;

use anyhow::{bail, Context};
use app::domain::license::TrustedKey;
use app::server::{clock::SystemClock, db, store, vendor, Config};
use byoc_console::{leptos_options, Console};
use clap::{Parser, Subcommand, ValueEnum};
use cli::demo::{demo, demo_aws_dimensions, print_emulator};
use cli::flags::{BrokerArgs, ServeArgs};
use cli::vendor::{issue, VendorCommand};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
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

// Parsed once at start: the size of the largest variant (serve's flags) costs nothing.
#[allow(clippy::large_enum_variant)]
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

/// The size from which glibc maps each allocation on its own and unmaps it when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MAP_LARGE_BLOCKS_FROM: libc::c_int = 1 << 20;

/// glibc keeps what is freed in the heap of the thread that allocated it, and after a large
/// mapped block is freed it raises the size from which it maps blocks. Each Argon2 hash takes
/// one 19 MiB block on whichever blocking-pool thread runs it, so those blocks stayed in up to
/// 16 per-thread heaps: after a dozen sign-ins the console held 300 MiB instead of 23. A fixed
/// threshold maps every block of 1 MiB or more on its own, and gives it back when freed.
/// Returns whether the allocator took it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() -> bool {
    // SAFETY: mallopt sets an allocator parameter and touches no memory of ours; it runs first
    // in main, before any other thread exists.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MAP_LARGE_BLOCKS_FROM) == 1 }
}

/// The threshold is glibc's; there is nothing to set elsewhere.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() -> bool {
    true
}

fn main() -> std::process::ExitCode {
    let large_blocks_returned = return_large_blocks_to_the_system();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if !large_blocks_returned {
        tracing::warn!("the allocator did not take its threshold for mapping large blocks: memory freed by password hashing may stay with the process");
    }
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
                // The tier dimensions of the demo's tiered prices too (AWS, #31).
                aws_dimensions: demo_aws_dimensions()?,
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
    let front_door = args.front_door()?;
    let config = Config {
        allowed_hosts: front_door.allowed_hosts,
        public_origin: front_door.public_origin,
        trusted_proxies: front_door.trusted_proxies,
        secure_cookies: args.secure_cookies,
        session_idle_minutes: args.session_idle_minutes,
        provision_step: std::time::Duration::from_millis(args.provision_step_ms),
        provisioner: args.brokers.choice()?,
        stop_brokers_on_exit: args.brokers.stop_brokers_on_exit,
        marketplace: args.marketplace.settings(),
        metrics_token: args.metrics_token,
        import_dir: args.import_dir,
        move_batch_messages: args.move_batch_messages,
        api_rate: (args.api_rate, args.api_burst),
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

pub(crate) async fn listen_and_serve(
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
