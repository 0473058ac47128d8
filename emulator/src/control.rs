//! `/_emulator/…`: what a test needs to steer the emulated marketplaces and to see what
//! they billed. Unauthenticated: the emulator only ever listens where tests run.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    entitled: bool,
    /// With `entitled: false`: when the subscription ended (epoch seconds). Usage dated
    /// before it is still taken (the customer was subscribed then); without it, nothing is.
    usage_until: Option<f64>,
}

/// `{"entitled": bool, "usage_until": t}`: the customer's subscription, on both
/// marketplaces. `usage_until` is this emulator's model of a cancellation that takes effect
/// at a moment; neither marketplace documents whether it takes usage dated before a
/// cancellation once it has happened, so by default it takes none.
pub async fn entitlement(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Entitlement>,
) -> Json<Value> {
    let mut mem = shared.lock();
    mem.entitled = req.entitled;
    mem.usage_until = if req.entitled { None } else { req.usage_until };
    Json(json!({ "entitled": req.entitled, "usage_until": mem.usage_until }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    granted: bool,
}

/// `{"granted": bool}`: whether the host's role may call MeterUsage (a role whose policy
/// lost the permission answers `UnauthorizedException`).
pub async fn permission(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Permission>,
) -> Json<Value> {
    shared.lock().permission_revoked = !req.granted;
    Json(json!({ "granted": req.granted }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaHost {
    compute_nest_host: Option<bool>,
    arrears: Option<bool>,
}

/// `{"compute_nest_host": bool, "arrears": bool}`: whether the caller is on a host Compute
/// Nest created, and whether the service instance is in arrears.
pub async fn alibaba_host(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<AlibabaHost>,
) -> Json<Value> {
    let mut mem = shared.lock();
    if let Some(host) = req.compute_nest_host {
        mem.alibaba_compute_nest_host = host;
    }
    if let Some(arrears) = req.arrears {
        mem.alibaba_arrears = arrears;
    }
    Json(
        json!({ "compute_nest_host": mem.alibaba_compute_nest_host, "arrears": mem.alibaba_arrears }),
    )
}

/// Fields left out keep their current value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsRequest {
    throttle: Option<u32>,
    server_errors: Option<u32>,
    outage: Option<bool>,
    delay_ms: Option<u64>,
}

/// `{"throttle": n, "server_errors": n, "outage": bool, "delay_ms": n}`; answers the faults
/// now in force.
pub async fn faults(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<FaultsRequest>,
) -> Json<Value> {
    let mut mem = shared.lock();
    let f = &mut mem.faults;
    if let Some(n) = req.throttle {
        f.throttle = n;
    }
    if let Some(n) = req.server_errors {
        f.server_errors = n;
    }
    if let Some(b) = req.outage {
        f.outage = b;
    }
    if let Some(ms) = req.delay_ms {
        f.delay_ms = ms;
    }
    Json(json!(f))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    now: Option<f64>,
}

/// `{"now": epoch_seconds}` freezes the usage clock (MeterUsage's six-hour window) there;
/// `{"now": null}` returns it to real time. Signature expiry always uses real time.
pub async fn clock(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Clock>,
) -> (StatusCode, Json<Value>) {
    if req.now.is_some_and(|n| !n.is_finite()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "now must be finite" })),
        );
    }
    shared.lock().usage_now = req.now;
    (StatusCode::OK, Json(json!({ "now": req.now })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Software {
    started: Option<f64>,
}

/// `{"started": epoch_seconds}`: the software started on the buyer's host then, and
/// MeterUsage refuses usage timestamped before it; `{"started": null}`: no such bound.
pub async fn software(
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Software>,
) -> (StatusCode, Json<Value>) {
    if req.started.is_some_and(|s| !s.is_finite()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "started must be finite" })),
        );
    }
    shared.lock().software_started = req.started;
    (StatusCode::OK, Json(json!({ "started": req.started })))
}

/// Everything billed, totals, how many Alibaba entries were billed a second time, and
/// counts of every outcome.
pub async fn billed(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mem = shared.lock();
    let mut aws_totals: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &mem.aws_records {
        *aws_totals.entry(&r.dimension).or_default() += i64::from(r.quantity);
    }
    let mut alibaba_totals: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &mem.alibaba_entries {
        let t = alibaba_totals.entry(&e.key).or_default();
        *t = t.saturating_add(e.value);
    }
    let mut calls: BTreeMap<&str, u64> = BTreeMap::new();
    for outcomes in mem.calls.values() {
        for (name, n) in outcomes {
            *calls.entry(name).or_default() += n;
        }
    }
    Json(json!({
        "aws": mem.aws_records,
        "alibaba": mem.alibaba_entries,
        "totals": { "aws": aws_totals, "alibaba": alibaba_totals },
        "double_billed": mem.double_billed,
        "calls": calls,
        "calls_by_marketplace": mem.calls,
        "entitled": mem.entitled,
        "faults": mem.faults,
        "usage_now": mem.usage_now,
    }))
}

/// Forgets everything: records, tokens, nonces, faults, clock, counts; entitled again.
pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
