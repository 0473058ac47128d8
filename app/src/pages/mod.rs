//! One module per page.

pub mod activate;
pub mod license;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod placeholder;
pub mod setup;
