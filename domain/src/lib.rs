//! Pure rules of the console: no web framework, no database, no clock reads. A crate of its
//! own, so the compiler enforces that (it depends on serde, time, decimals and crypto only).
//! Every function takes what it needs (including `now`) and returns a value or a typed error,
//! so the same code runs on the server and, compiled to WASM, in the browser.

pub mod account;
pub mod audit_chain;
pub mod capacity;
pub mod certificate;
pub mod csv_cell;
pub mod digest;
pub mod environment;
pub mod group_form;
pub mod instance;
pub mod instance_spec;
pub mod kafka_acl;
pub mod kafka_user;
pub mod license;
pub mod license_state;
pub mod marketplace;
pub mod message_browse;
pub mod metering;
pub mod navigation;
pub mod net;
pub mod offset_reset;
pub mod operation;
pub mod password;
pub mod pricing;
pub mod quota;
pub mod reconcile;
pub mod refusal_log;
pub mod service_account;
pub mod sizing;
pub mod throttle;
pub mod topic;

/// Exact decimals (quantities, prices, money), re-exported so every crate uses the same type.
pub use rust_decimal::Decimal;
