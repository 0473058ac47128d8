//! One module per page.

pub mod account;
pub mod activate;
pub mod audit;
pub mod instance_acls;
pub mod instance_detail;
pub mod instance_groups;
pub mod instance_kafka;
pub mod instance_messages;
pub mod instance_moves;
pub mod instance_new;
pub mod instance_traffic;
pub mod instances;
pub mod license;
pub mod login;
pub mod marketplace;
pub mod not_found;
pub mod overview;
pub mod service_accounts;
pub mod setup;
pub mod usage;
pub mod users;
