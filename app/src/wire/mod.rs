//! What crosses the wire between the browser and the server: the one error type and the
//! values the services answer with. It imports nothing from `server`, `api` or the pages, so
//! the layers depend one way: pages → api → server → (wire, domain), and api → wire.

pub mod acls;
pub mod audit;
pub mod error;
pub mod groups;
pub mod instances;
pub mod kafka;
pub mod license;
pub mod marketplace;
pub mod messages;
pub mod overview;
pub mod service_accounts;
pub mod usage;
pub mod users;
