//! `byoc-console`: the command line. Parses flags, sets up logging, and hands over to the
//! wiring in `lib.rs`.

use anyhow::Context;
use app::server::{clock::SystemClock, db, store, Config};
use byoc_console::{leptos_options, Console};
use clap::{Parser, Subcommand, ValueEnum};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

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
    /// Print this installation's ID (creating the data directory and ID if needed).
    InstallationId {
        /// Directory holding the console's SQLite database.
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
        Command::InstallationId { data_dir } => {
            let pool = db::open(&data_dir).await?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            println!("{}", store::environment::installation_id(&pool, now).await?);
            pool.close().await;
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        secure_cookies: args.secure_cookies,
        session_idle_minutes: args.session_idle_minutes,
        ..Config::default()
    };
    let console = Console::open(
        &args.data_dir,
        config,
        Arc::new(SystemClock),
        leptos_options(args.listen),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let scheme = if args.secure_cookies {
        "https (behind TLS)"
    } else {
        "http"
    };
    tracing::info!(address = %args.listen, cookies = scheme, "console listening");
    println!("BYOC console listening on http://{}", args.listen);
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
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stdout);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
