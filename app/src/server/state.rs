//! The state every request and task shares: one pool, one clock, one hasher, the settings.

use super::{clock::Clock, password_hash::PasswordHasher};
use crate::domain::license::TrustedKey;
use leptos::prelude::LeptosOptions;
use sqlx::SqlitePool;
use std::sync::Arc;

/// Settings the binary reads from flags and the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Mark cookies `Secure` (and name them `__Host-`). Off only for plain HTTP.
    pub secure_cookies: bool,
    /// Sessions end after this long without a request.
    pub session_idle_minutes: i64,
    /// Sessions end this long after sign-in, however active.
    pub session_absolute_hours: i64,
    /// How long each step of the simulated provisioner takes: a few seconds so that people
    /// see an operation's progress, near zero in tests.
    pub provision_step: std::time::Duration,
    /// What stands behind each instance.
    pub provisioner: ProvisionerChoice,
    /// Stop every broker when the console stops (`serve --stop-brokers-on-exit`, for
    /// uninstalling). Off: brokers outlive the console and are adopted at its next start.
    pub stop_brokers_on_exit: bool,
    /// Marketplace billing: endpoints, grace period, reporting interval.
    pub marketplace: super::marketplace::MarketplaceSettings,
    /// `/metrics` answers loopback clients, and others that send this bearer token.
    pub metrics_token: Option<String>,
    /// The REST API's limit per service account: requests a second, and the burst.
    pub api_rate: (u32, u32),
    /// Reverse proxies whose forwarding headers name the client (`serve --trusted-proxy`).
    pub trusted_proxies: crate::domain::net::TrustedProxies,
    /// The `Host` names requests may carry (`serve --public-url`, `--allowed-host`).
    pub allowed_hosts: crate::domain::net::AllowedHosts,
    /// The console's public origin, `scheme://host[:port]` (`serve --public-url`): a browser's
    /// `Origin` must be this one, or this host's own address as the request names it.
    pub public_origin: Option<String>,
    /// Where nisshi storage files to move into an instance are (`serve --import-dir`); `None`:
    /// such moves are off.
    pub import_dir: Option<std::path::PathBuf>,
    /// Messages per Produce of a move's copy (`serve --move-batch-messages`, hidden: tests
    /// make it small to stop a copy in the middle), 1 to 500.
    pub move_batch_messages: u32,
}

/// `--provisioner`: an Apache Kafka cluster per instance (through the engine), or the
/// simulation (fast tests, demos of the operations alone).
#[derive(Clone, Debug)]
pub enum ProvisionerChoice {
    Simulated,
    Kafka(super::kafka::KafkaSettings),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: true,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            provision_step: std::time::Duration::from_millis(1500),
            provisioner: ProvisionerChoice::Simulated,
            stop_brokers_on_exit: false,
            marketplace: Default::default(),
            metrics_token: None,
            api_rate: (20, 100),
            trusted_proxies: Default::default(),
            allowed_hosts: Default::default(),
            public_origin: None,
            import_dir: None,
            move_batch_messages: 500,
        }
    }
}

/// What every request and task shares. Cloned many times a request (each middleware's state,
/// the render's context), so a clone is one reference count, not a dozen.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub pool: SqlitePool,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub config: Arc<Config>,
    /// Vendor public keys product keys are verified against.
    pub trusted_keys: Arc<[TrustedKey]>,
    /// Generated at first start, never changes.
    pub installation_id: String,
    pub leptos_options: LeptosOptions,
    /// The provisioner and the operations in flight.
    pub operations: Arc<super::operations::Operations>,
    /// Marketplace clients and the reporter's turn.
    pub marketplace: Arc<super::marketplace::Marketplaces>,
    /// The REST API's per-token rate limit (None: off, when configured with zeros).
    pub api_limits: Option<Arc<super::rate_limit::TokenLimits>>,
    /// The applied key's last verification, reused while the stored key is the same text.
    pub verified_license: Arc<super::license::VerifiedCache>,
    /// The instance totals (per state, AKU in use) and the version they were read at.
    pub instance_totals: Arc<super::totals::TotalsCache>,
    /// The rows every page's shell reads, kept while their version is unchanged.
    pub shell_reads: Arc<super::shell_reads::ShellReads>,
    /// The audit page's last intact walk of the hash chain.
    pub audit_chain: Arc<super::audit::KeptChainWalk>,
    /// Which access refusals are written to the audit log (a flood's are counted instead).
    pub refusals: Arc<super::audit::RefusalGate>,
    /// Set once setup has been seen done: it is never undone.
    pub set_up: Arc<std::sync::OnceLock<()>>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
