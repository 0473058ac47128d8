//! The command line's parts beside `main.rs`: the `serve` flags, the vendor's commands and the
//! demo.

pub mod demo;
pub mod flags;
pub mod vendor;
