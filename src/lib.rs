//! Wiring of the console's server: state, router, middleware, background tasks. The command
//! line (`main.rs`) and the integration tests both build the server through here.

pub mod admin;

use app::domain::license::TrustedKey;
use app::server::{
    audit_export, client_addr,
    clock::Clock,
    db, guard, instances, license,
    marketplace::{self, Marketplaces},
    metering,
    operations::{self, Operations},
    password_hash::PasswordHasher,
    provisioner::{Provisioner, SimulatedProvisioner},
    rate_limit::{self, RateLimits},
    reconciler, security, store, usage, AppState, Config, ProvisionerChoice, Shared,
};
use axum::{
    extract::State,
    handler::Handler,
    http::{header, HeaderValue, StatusCode},
    middleware,
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};
use tower_http::{
    limit::RequestBodyLimitLayer, services::ServeDir, set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tower_sessions::{
    cookie::SameSite, session_store::ExpiredDeletion, CachingSessionStore, Expiry,
    SessionManagerLayer,
};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_sqlx_store::SqliteStore;

/// Largest request body accepted (forms and server-function arguments are small).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything `serve` needs that is not a flag of the HTTP server itself.
pub struct Console {
    pub state: AppState,
    pub sessions: SqliteStore,
    pub rate_limits: Arc<RateLimits>,
    /// Held while this console runs: a second console on the same data directory would drive
    /// the same operations twice. (An OS file lock: it ends with the process, kill -9 too.)
    _lock: std::fs::File,
}

/// Takes the data directory's lock file, or says which directory is in use.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("console.lock");
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another console is already running on the data directory {}; stop it first",
            data_dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot lock {}: {e}", path.display()))
        }
    }
}

impl Console {
    /// Opens the data directory and database, runs migrations, prepares sessions and hashing.
    /// `extra_trusted_keys` are vendor public keys trusted at run time (tests and the demo).
    pub async fn open(
        data_dir: &Path,
        config: Config,
        clock: Arc<dyn Clock>,
        leptos_options: LeptosOptions,
        extra_trusted_keys: Vec<TrustedKey>,
    ) -> anyhow::Result<Console> {
        let pool = db::open(data_dir).await?;
        let lock = lock_data_dir(data_dir)?;
        // Entries written before the hash chain existed are sealed once, in order.
        let sealed = store::audit::seal_unsealed(&pool).await?;
        if sealed > 0 {
            tracing::info!(sealed, "audit entries sealed into the hash chain");
        }
        let sessions = SqliteStore::new(pool.clone());
        sessions.migrate().await?;
        // Generated once, on the very first start; later starts read it back.
        let installation_id = store::environment::installation_id(&pool, clock.unix()).await?;
        tracing::info!(%installation_id, data_dir = %data_dir.display(), "database ready");
        // Two hashes at a time: the machine has two cores, and each takes 19 MiB.
        let hasher = PasswordHasher::new(2).map_err(|e| anyhow::anyhow!("{e}"))?;
        for key in &extra_trusted_keys {
            tracing::warn!(key_id = %key.key_id, "trusting a vendor key given at run time: licenses it signs are marked as such");
        }
        let provisioner: Arc<dyn Provisioner> = match &config.provisioner {
            ProvisionerChoice::Simulated => Arc::new(SimulatedProvisioner {
                step_duration: config.provision_step,
            }),
            ProvisionerChoice::Kafka(settings) => app::server::kafka::KafkaProvisioner::open(
                settings.clone(),
                data_dir,
                pool.clone(),
                clock.clone(),
            )
            .map_err(|e| anyhow::anyhow!("Kafka clusters: {e:#}"))?,
        };
        tracing::info!(provisioner = provisioner.name(), "provisioner ready");
        let state = AppState::new(Shared {
            pool,
            clock,
            hasher,
            operations: Operations::new(provisioner),
            marketplace: Arc::new(Marketplaces::new(config.marketplace.clone())),
            api_limits: app::server::rate_limit::TokenLimits::new(
                config.api_rate.0,
                config.api_rate.1,
            )
            .map(Arc::new),
            config: Arc::new(config),
            trusted_keys: license::trusted_keys(extra_trusted_keys).into(),
            verified_license: Default::default(),
            instance_totals: Default::default(),
            shell_reads: Default::default(),
            set_up: Default::default(),
            audit_chain: Default::default(),
            refusals: Default::default(),
            installation_id,
            leptos_options,
        });
        Ok(Console {
            state,
            sessions,
            rate_limits: RateLimits::new(),
            _lock: lock,
        })
    }

    /// The full HTTP surface: pages, server functions, static files, `/healthz`.
    pub fn router(&self) -> Router {
        app::server::metrics::install();
        let state = self.state.clone();
        let routes = generate_route_list(app::App);
        let context = {
            let state = state.clone();
            move || provide_context(state.clone())
        };
        let shell = {
            let options = state.leptos_options.clone();
            move || page(options.clone())
        };
        let server_fns = {
            let context = context.clone();
            move |req: axum::extract::Request| {
                leptos_axum::handle_server_fns_with_context(context.clone(), req)
            }
        };

        let config = &state.config;
        let cookie_name = if config.secure_cookies {
            "__Host-byoc_session"
        } else {
            "byoc_session"
        };
        // Sessions are read from memory, written to both (tower-sessions' CachingSessionStore):
        // a signed-in page asks SQLite nothing for its session. A cached session lives no
        // longer than its expiry; what ends a session early (password change, disabled user)
        // is checked against the user's row on every request (`server::auth`).
        let cached = CachingSessionStore::new(MokaStore::new(Some(10_000)), self.sessions.clone());
        let sessions = SessionManagerLayer::new(cached)
            .with_name(cookie_name)
            .with_secure(config.secure_cookies)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
                config.session_idle_minutes,
            )));

        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(app::server::metrics::scrape))
            .route("/audit.csv", get(audit_export::audit_csv))
            .route("/usage.csv", get(usage::usage_csv))
            .route("/usage.json", get(usage::usage_json))
            .route(
                "/usage/marketplace-late.csv",
                get(usage::marketplace_late_csv),
            )
            .route("/kafka/ca.pem", get(app::server::broker_panel::ca_pem))
            .nest("/api/v1", app::rest::router())
            // Anything else under /api/v1 is the REST API's 404, not a server function's.
            .route("/api/v1/{*rest}", axum::routing::any(app::rest::not_found))
            .route("/api/{*fn_name}", get(server_fns.clone()).post(server_fns))
            .leptos_routes_with_context(&state, routes, context.clone(), shell)
            // The site's files (WASM modules, JS, CSS, `public/`), as their precompressed `.br`
            // or `.gz` copy when the browser takes it; any other address is the app's "page not
            // found", which leptos renders in a root owner of its own.
            //
            // Not leptos' `file_and_error_handler` for the files: it answers a file inside an
            // owner made as a child of whatever owner its thread last had, and applies that
            // owner's response options to the file. When a page was rendering on the same
            // thread, the file took the page's headers and the page went out without its
            // security policy, so the browser ran none of its scripts (about one page load in
            // eight while the previous page's modules were still downloading).
            .fallback_service(
                ServeDir::new(state.leptos_options.site_root.as_ref())
                    .precompressed_br()
                    .precompressed_gzip()
                    .fallback(
                        leptos_axum::file_and_error_handler_with_context::<AppState, _>(
                            context, page,
                        )
                        .with_state(state.clone()),
                    ),
            )
            .layer(middleware::from_fn_with_state(
                state.clone(),
                guard::pages_need_session,
            ))
            // Inside the router's layers, where the matched route is known.
            .layer(middleware::from_fn(app::server::metrics::track))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                guard::reject_cross_site,
            ))
            .layer(middleware::from_fn_with_state(
                (self.rate_limits.clone(), state.clone()),
                rate_limit::limit,
            ))
            .layer(middleware::from_fn(
                guard::framework_errors_are_bad_requests,
            ))
            // Before anything reads the request: to which host (421 for a name the console
            // does not answer to), then from whom (behind a trusted proxy, the forwarded client).
            .layer(middleware::from_fn_with_state(
                state.clone(),
                client_addr::check_host,
            ))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                client_addr::resolve,
            ))
            .layer(sessions)
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            // Pages set their own policy (with the render's nonce); everything else gets this.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(security::DEFAULT_POLICY),
            ))
            // The request's span travels with the request, for the access check to name the
            // user in it (a server function's own code may run outside the span).
            .layer(middleware::from_fn(app::server::auth::keep_request_span))
            // One span per request (method and path), so every log line of a request, an
            // internal error's reference among them, says which request it was.
            .layer(TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        // Recorded once the access check knows who it is.
                        user = tracing::field::Empty,
                    )
                },
            ))
            .with_state(state)
    }

    /// Deletes expired sessions every few minutes, for as long as the server runs.
    pub fn spawn_session_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let store = self.sessions.clone();
        let limits = self.rate_limits.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(300));
            loop {
                every.tick().await;
                limits.forget_idle();
                if let Err(error) = store.delete_expired().await {
                    tracing::warn!(%error, "could not delete expired sessions");
                }
            }
        })
    }

    /// Every minute: keeps the clock watermark moving, audits license state changes
    /// (expiring, expired, lapsed) when they happen, suspends or resumes instances to follow
    /// the license, and writes the summaries of refusals that were counted, not logged.
    pub fn spawn_license_watcher(&self) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                if let Err(error) = license::notice_phase_change(&state).await {
                    tracing::warn!(error = %error, "license watcher");
                }
                if let Err(error) = instances::follow_license(&state).await {
                    tracing::warn!(error = %error, "license watcher: instances");
                }
                app::server::audit::summarise_refusals(&state).await;
            }
        })
    }

    /// Meters every closed hour: at start (back-filling the hours missed while the console was
    /// down), then just after each hour boundary.
    pub fn spawn_metering(&self) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = metering::run_due(&state).await {
                    tracing::warn!(error = %error, "metering; retrying in a minute");
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    continue;
                }
                let now = state.clock.unix();
                let to_next_hour = 3600 - now.rem_euclid(3600) + 2;
                tokio::time::sleep(Duration::from_secs(to_next_hour as u64)).await;
            }
        })
    }

    /// Reports the ledger's closed hours to the linked marketplace, every
    /// `--marketplace-report-seconds` (a minute by default).
    pub fn spawn_marketplace_reporter(&self) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let every = state.marketplace.settings.report_every;
            loop {
                match marketplace::reporter::run_once(&state).await {
                    Ok(pass) if pass != Default::default() => {
                        tracing::info!(?pass, "marketplace reports");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error, "marketplace reporter"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Operations cut off by the previous stop go on from their first step not done.
        let resumed = operations::resume_all(&self.state)
            .await
            .map_err(|e| anyhow::anyhow!("taking up operations: {e}"))?;
        if resumed > 0 {
            tracing::info!(resumed, "operations taken up again");
        }
        // Moves of nisshi files cut off by the previous stop go on where they stopped.
        let moves = app::server::nisshi::copy::resume_all(&self.state)
            .await
            .map_err(|e| anyhow::anyhow!("taking up moves: {e}"))?;
        if moves > 0 {
            tracing::info!(moves, "moves of nisshi files taken up again");
        }
        // The control loop: adopts the brokers that outlived the previous console, starts
        // or stops the others as recorded, and watches them from now on.
        reconciler::start(&self.state);
        let sweeper = self.spawn_session_sweeper();
        let meter = self.spawn_metering();
        let watcher = self.spawn_license_watcher();
        let reporter = self.spawn_marketplace_reporter();
        let router = self.router();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        sweeper.abort();
        meter.abort();
        watcher.abort();
        reporter.abort();
        // The data plane outlives the console: brokers go on serving (and are adopted at the
        // next start) unless asked to stop with it.
        // The control loop first: it would take the nodes' stop for a failure and start them
        // again.
        reconciler::stop(&self.state).await;
        let stop_brokers = self.state.config.stop_brokers_on_exit;
        self.state
            .operations
            .provisioner()
            .shutdown(stop_brokers)
            .await;
        self.state.pool.close().await;
        Ok(())
    }
}

/// `GET /healthz`: 200 when the database answers, 503 when it does not.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = app::server::store::database::answers(&state.pool).await;
    let body = serde_json::json!({
        "status": if database_ok { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": if database_ok { "reachable" } else { "unreachable" },
    });
    let status = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The Leptos site settings: where the WASM, JS and CSS are (`scripts/build.sh` writes them to
/// `target/site`, or `LEPTOS_SITE_ROOT`) and the address to listen on.
pub fn leptos_options(site_addr: SocketAddr) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    LeptosOptions::builder()
        .output_name("byoc-console")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .build()
}

/// A page: its content security policy (with the nonce its scripts carry), then the document.
fn page(options: leptos::config::LeptosOptions) -> impl leptos::IntoView {
    app::server::security::set_page_policy();
    app::shell(options)
}
