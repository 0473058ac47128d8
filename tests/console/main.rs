//! The console's integration tests that run in this process with the simulated provisioner:
//! one binary, so one link of the whole console instead of one per file. Each test starts its
//! own router on a free port with its own SQLite file, so they run side by side. Tests that
//! start broker or console processes stay in binaries of their own (`tests/*.rs`).

#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod audit_rule;
mod cli;
mod hardening;
mod instances;
mod license;
mod openapi;
mod rest_api;
mod roles;
mod setup_and_sessions;
mod storage;
mod usage;
mod users_and_audit;
