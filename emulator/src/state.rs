//! The emulator's memory: what was billed, what was seen (tokens, nonces), the switches the
//! control API sets, and counts of every outcome.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use crate::Config;

/// Faults injected through `POST /_emulator/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Faults {
    /// The next this many authenticated calls are throttled.
    pub throttle: u32,
    /// Then the next this many answer an internal error (HTTP 500).
    pub server_errors: u32,
    /// Every marketplace call answers 503 while set.
    pub outage: bool,
    /// Every marketplace answer is held this long after its effect (a billing) is done.
    pub delay_ms: u64,
}

/// One injected failure, consumed by a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerError,
}

/// A billed `MeterUsage` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsRecord {
    pub product_code: String,
    pub dimension: String,
    pub timestamp: f64,
    pub quantity: i32,
    pub record_id: String,
    pub client_token: Option<String>,
    pub access_key_id: String,
}

/// A billed entity of a `PushMeteringData` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlibabaEntry {
    pub service_instance_id: String,
    pub instance_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub key: String,
    pub value: u64,
}

/// The parameters a `ClientToken` is bound to.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsParams {
    pub product_code: String,
    pub dimension: String,
    pub timestamp: f64,
    pub quantity: i32,
}

#[derive(Debug)]
pub struct State {
    pub entitled: bool,
    /// While not entitled: usage dated before this is still taken.
    pub usage_until: Option<f64>,
    /// The host's role lost `aws-marketplace:MeterUsage` (every account answers
    /// `UnauthorizedException`, dry runs too) until a test grants it again.
    pub permission_revoked: bool,
    /// Whether the caller is on a host Compute Nest created for the service instance (when
    /// not, Compute Nest answers `EntityNotExist.ServiceInstance`).
    pub alibaba_compute_nest_host: bool,
    /// A pay-as-you-go service instance in arrears (`InstanceArrears`).
    pub alibaba_arrears: bool,
    pub faults: Faults,
    /// The usage clock (epoch seconds) when a test froze it; otherwise real time.
    pub usage_now: Option<f64>,
    /// When the software started on the buyer's host (epoch seconds), when a test set it:
    /// MeterUsage refuses a timestamp before it ("not before the start of the software usage").
    pub software_started: Option<f64>,
    pub aws_records: Vec<AwsRecord>,
    /// (product, dimension, hour) → index in `aws_records`.
    pub aws_by_hour: HashMap<(String, String, i64), usize>,
    /// ClientToken → the parameters it was first used with and the record it answered.
    pub aws_tokens: HashMap<String, (AwsParams, String)>,
    pub alibaba_entries: Vec<AlibabaEntry>,
    /// (service instance, instance, start time, key) already billed once.
    pub alibaba_seen: HashSet<(String, String, i64, String)>,
    pub double_billed: u64,
    /// Service instance → when its last push was accepted.
    pub alibaba_last_push: HashMap<String, Instant>,
    /// marketplace → outcome → count.
    pub calls: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

impl State {
    fn new() -> Self {
        State {
            entitled: true,
            usage_until: None,
            permission_revoked: false,
            alibaba_compute_nest_host: true,
            alibaba_arrears: false,
            faults: Faults::default(),
            usage_now: None,
            software_started: None,
            aws_records: Vec::new(),
            aws_by_hour: HashMap::new(),
            aws_tokens: HashMap::new(),
            alibaba_entries: Vec::new(),
            alibaba_seen: HashSet::new(),
            double_billed: 0,
            alibaba_last_push: HashMap::new(),
            calls: BTreeMap::new(),
        }
    }

    /// Consumes one injected failure, throttling first.
    /// Whether usage dated `timestamp` is taken: always while entitled; after a cancellation,
    /// only usage dated before it (when a test set when it took effect).
    pub fn takes_usage_at(&self, timestamp: f64) -> bool {
        self.entitled || self.usage_until.is_some_and(|until| timestamp < until)
    }

    pub fn take_fault(&mut self) -> Option<Fault> {
        if self.faults.throttle > 0 {
            self.faults.throttle -= 1;
            Some(Fault::Throttle)
        } else if self.faults.server_errors > 0 {
            self.faults.server_errors -= 1;
            Some(Fault::ServerError)
        } else {
            None
        }
    }

    pub fn count(&mut self, marketplace: &'static str, outcome: &str) {
        *self
            .calls
            .entry(marketplace)
            .or_default()
            .entry(outcome.to_string())
            .or_default() += 1;
    }
}

/// Configuration and state, shared by the handlers.
pub struct Shared {
    pub config: Config,
    state: Mutex<State>,
}

impl Shared {
    pub fn new(config: Config) -> Self {
        Shared {
            config,
            state: Mutex::new(State::new()),
        }
    }

    /// The state. A handler that panicked cannot leave it half-updated in a way that
    /// matters more than losing the emulator, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reset(&self) {
        *self.lock() = State::new();
    }
}

/// Real wall-clock time, epoch seconds.
pub fn real_now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// Sends a marketplace's answer the way both emulated services do: the call is counted, and
/// its effect (a billing) is done before the configured delay, so a client that gives up
/// meanwhile has been billed without learning it (what a lost response looks like). An
/// outage's 503 is not held.
pub async fn answer_late(
    shared: &Shared,
    marketplace: &'static str,
    outcome: &'static str,
    status: axum::http::StatusCode,
    body: &serde_json::Value,
    content_type: &'static str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let delay = {
        let mut mem = shared.lock();
        mem.count(marketplace, outcome);
        mem.faults.delay_ms
    };
    tracing::debug!(marketplace, outcome, status = status.as_u16(), "answer");
    if delay > 0 && status != axum::http::StatusCode::SERVICE_UNAVAILABLE {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(content_type),
    );
    resp
}
