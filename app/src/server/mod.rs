//! Server-only code (feature `ssr`): state, database, sessions, password hashing, the
//! services behind the server functions, and the HTTP guards. Nothing here reaches the WASM.

pub mod access;
pub mod audit;
pub mod audit_export;
pub mod auth;
pub mod broker_panel;
pub mod client_addr;
pub mod clock;
pub mod consumer_groups;
pub mod db;
pub mod download;
pub mod endpoints;
pub mod error;
pub mod guard;
pub mod idempotency;
pub mod instances;
pub mod kafka;
pub mod kafka_acls;
pub mod kafka_certificates;
pub mod kafka_plain_users;
pub mod kafka_users;
pub mod license;
pub mod marketplace;
pub mod metering;
pub mod metrics;
pub mod operations;
pub mod overview;
pub mod page_preloads;
pub mod page_reads;
pub mod paging;
pub mod password_hash;
pub mod provisioner;
pub mod rate_limit;
pub mod reconciler;
pub mod security;
pub mod service_accounts;
pub mod setup;
pub mod shell_reads;
pub mod state;
pub mod store;
pub mod totals;
pub mod usage;
pub mod users;
pub mod vendor;

pub use error::ServerError;
pub use state::{AppState, Config, ProvisionerChoice, Shared};
