//! Pure rules of the console: no web framework, no database, no clock reads.
//! Every function takes what it needs (including `now`) and returns a value or a typed error,
//! so the same code runs on the server and, compiled to WASM, in the browser.

pub mod account;
pub mod environment;
pub mod license;
pub mod license_state;
pub mod password;
pub mod throttle;
