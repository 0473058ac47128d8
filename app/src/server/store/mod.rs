//! The only code that writes SQL, one module per table group. Functions take the pool (or a
//! transaction) and plain values, and return rows as plain structs.

pub mod audit;
pub mod broker_samples;
pub mod database;
pub mod decode;
pub mod environment;
pub mod instance_totals;
pub mod instances;
pub mod kafka_acls;
pub mod kafka_client_certificates;
pub mod kafka_plain_users;
pub mod kafka_security;
pub mod license;
pub mod marketplace;
pub mod message_browsing;
pub mod metering;
pub mod operations;
pub mod service_accounts;
pub mod users;
pub mod versions;
