//! Server functions: the console's HTTP surface under `/api/<endpoint>`, each with an explicit,
//! stable endpoint name (listed in the README). Thin: authenticate, authorize, call the
//! service in `server`, map the error. They compile to HTTP calls in the browser.

pub mod audit;
pub mod auth;
pub mod error;
pub mod groups;
pub mod instances;
pub mod kafka;
pub mod kafka_acls;
pub mod license;
pub mod marketplace;
pub mod messages;
pub mod moves;
pub mod overview;
pub mod service_accounts;
pub mod usage;
pub mod users;
