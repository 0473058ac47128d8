//! Display formats used across pages: the crate's `format` module, also used by the server.

pub use crate::format::*;
