//! The wire error, `crate::wire::error`, where the server imports it from too.

pub use crate::wire::error::*;
