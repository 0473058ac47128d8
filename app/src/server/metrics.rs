//! Prometheus metrics at `/metrics`: the `metrics` facade with its Prometheus text renderer
//! (metrics-exporter-prometheus, no listener of its own) and the process' own figures
//! (metrics-process). Counters and histograms are recorded where things happen (requests,
//! sign-in failures, operations); the state figures (license, AKU, instances by state, traffic
//! per instance, marketplace reports) are read from the database at each scrape, so they are
//! never stale and cost nothing between scrapes.
//!
//! Names follow Prometheus' conventions: `byoc_` prefix, base units (`_seconds`, `_bytes`),
//! `_total` for counters. Per-instance series are bounded: the first
//! [`PER_INSTANCE_LIMIT`] instances that are not deleted, by id; beyond them only the totals
//! by state are shown, and `byoc_instances_unlisted` says how many were left out.

use super::client_addr::ClientAddr;
use super::store::broker_samples::Counters;
use super::{license, store, AppState, ServerError};
use crate::domain::instance::State;
use crate::domain::marketplace::ReportState;
use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

/// Instances with series of their own.
pub const PER_INSTANCE_LIMIT: i64 = 1000;

/// Seconds: from a fast page to a slow create.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Seconds: operations take from seconds (simulated) to minutes (a broker's restart).
const OPERATION_BUCKETS: &[f64] = &[1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

struct Recorder {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();

/// Installs the process-wide recorder once (a second console in the same process, as in
/// tests, shares it). None if another recorder was installed first.
fn recorder() -> Option<&'static Recorder> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("byoc_http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("byoc_operation_duration_seconds".into()),
                        OPERATION_BUCKETS,
                    )
                });
            let handle = match builder.and_then(|b| b.install_recorder()) {
                Ok(handle) => handle,
                Err(error) => {
                    tracing::warn!(%error, "metrics are off: no recorder");
                    return None;
                }
            };
            describe();
            let process = metrics_process::Collector::default();
            process.describe();
            Some(Recorder { handle, process })
        })
        .as_ref()
}

/// Installs the recorder at start-up, so that counters count from the first request.
pub fn install() {
    recorder();
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "byoc_http_requests_total",
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        "byoc_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route."
    );
    describe_counter!(
        "byoc_control_loop_passes_total",
        "Passes of the control loop over every instance (one every 2 s while it is alive)."
    );
    describe_counter!(
        "byoc_sign_in_failures_total",
        "Sign-ins refused: wrong name or password, disabled, throttled."
    );
    describe_counter!(
        "byoc_operations_started_total",
        "Operations started, by kind."
    );
    describe_counter!(
        "byoc_operations_failed_total",
        "Operations that failed, by kind."
    );
    describe_histogram!(
        "byoc_operation_duration_seconds",
        Unit::Seconds,
        "Time from an operation's request to its end, by kind and outcome."
    );
    describe_gauge!(
        "byoc_license_remaining_seconds",
        Unit::Seconds,
        "Time until the license expires (negative: since it expired); NaN without a license."
    );
    describe_gauge!(
        "byoc_license_expiry_timestamp_seconds",
        Unit::Seconds,
        "When the license expires (unix time); NaN without a license."
    );
    describe_gauge!("byoc_license_phase", "1 for the license's current phase.");
    describe_gauge!(
        "byoc_aku_licensed",
        "AKU the license allows; NaN when uncapped (pay-as-you-go) or without a license."
    );
    describe_gauge!(
        "byoc_aku_in_use",
        "AKU held by instances that are not deleted."
    );
    describe_gauge!(
        "byoc_instances",
        "Instances by state (deleted ones not counted)."
    );
    describe_gauge!(
        "byoc_instances_unlisted",
        "Instances beyond the per-instance series bound."
    );
    describe_gauge!(
        "byoc_marketplace_reports",
        "Marketplace usage reports by state."
    );
}

/// The control loop finished a pass over every instance.
pub fn control_loop_pass() {
    metrics::counter!("byoc_control_loop_passes_total").increment(1);
}

/// A sign-in refused (any reason).
pub fn sign_in_failed() {
    metrics::counter!("byoc_sign_in_failures_total").increment(1);
}

/// An operation started.
pub fn operation_started(kind: &'static str) {
    metrics::counter!("byoc_operations_started_total", "kind" => kind).increment(1);
}

/// An operation ended after `seconds`, failed or not.
pub fn operation_ended(kind: &'static str, failed: bool, seconds: f64) {
    let outcome = if failed { "failed" } else { "succeeded" };
    if failed {
        metrics::counter!("byoc_operations_failed_total", "kind" => kind).increment(1);
    }
    metrics::histogram!("byoc_operation_duration_seconds", "kind" => kind, "outcome" => outcome)
        .record(seconds.max(0.0));
}

/// Middleware: counts each request and its latency by route (the router's pattern, so that
/// the label set stays bounded: ids are not labels; unknown paths are `unmatched`).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let route = match req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
    {
        // Server functions share one pattern; their own paths are a fixed set.
        Some("/api/{*fn_name}") => {
            if super::endpoints::ENDPOINTS.iter().any(|e| e.path == path) {
                path
            } else {
                "/api/{*fn_name}".to_string()
            }
        }
        Some(pattern) => pattern.to_string(),
        None => "unmatched".to_string(),
    };
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("byoc_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("byoc_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: loopback clients, or a scraper with `Authorization: Bearer <token>` when
/// `--metrics-token` is set; anyone else gets 403. The client is the one a trusted proxy
/// forwarded for (a stranger behind a proxy on this host is not loopback).
pub async fn scrape(AxumState(state): AxumState<AppState>, request: Request) -> Response {
    let client = ClientAddr::of(request.extensions());
    if !may_scrape(&state, client, request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "Metrics are answered to this host (loopback) or with the scrape token (--metrics-token).\n",
        )
            .into_response();
    }
    match render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            let message = error.into_app_error().to_string();
            (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}

fn may_scrape(state: &AppState, client: IpAddr, headers: &HeaderMap) -> bool {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    allowed(client, state.config.metrics_token.as_deref(), sent)
}

/// The scrape rule: a loopback client, or the configured token sent as `Bearer <token>`.
fn allowed(client: IpAddr, token: Option<&str>, authorization: Option<&str>) -> bool {
    if crate::domain::net::is_loopback(client) {
        return true;
    }
    let (Some(token), Some(sent)) = (token, authorization.and_then(|v| v.strip_prefix("Bearer ")))
    else {
        return false;
    };
    use subtle::ConstantTimeEq;
    bool::from(sent.as_bytes().ct_eq(token.as_bytes()))
}

/// The state figures, read now, then everything rendered.
pub async fn render(state: &AppState) -> Result<String, ServerError> {
    let Some(recorder) = recorder() else {
        return Ok(String::new());
    };
    let now = license::now(state).await?;
    let expires = now
        .current
        .as_ref()
        .map(|c| c.payload.expires_at.unix_timestamp());
    let remaining = expires.map(|at| at - state.clock.unix());
    metrics::gauge!("byoc_license_expiry_timestamp_seconds")
        .set(expires.map_or(f64::NAN, |t| t as f64));
    metrics::gauge!("byoc_license_remaining_seconds").set(remaining.map_or(f64::NAN, |t| t as f64));
    let phase = now.status.phase.as_str();
    for candidate in crate::domain::license_state::Phase::ALL {
        let value = if candidate.as_str() == phase {
            1.0
        } else {
            0.0
        };
        metrics::gauge!("byoc_license_phase", "phase" => candidate.as_str()).set(value);
    }
    let quota = now.current.as_ref().and_then(|c| c.payload.aku_quota);
    metrics::gauge!("byoc_aku_licensed").set(quota.map_or(f64::NAN, f64::from));
    metrics::gauge!("byoc_aku_in_use").set(f64::from(now.used_aku));
    let counts = now.totals.by_state();
    let mut total = 0;
    for candidate in State::ALL.iter().filter(|s| **s != State::Deleted) {
        let n = counts
            .iter()
            .find(|(s, _)| s == candidate)
            .map_or(0, |(_, n)| *n);
        total += i64::from(n);
        metrics::gauge!("byoc_instances", "state" => candidate.as_str()).set(f64::from(n));
    }
    metrics::gauge!("byoc_instances_unlisted").set((total - PER_INSTANCE_LIMIT).max(0) as f64);
    // Every state, so that one that empties reads 0 rather than its last count.
    let reports = store::marketplace::counts(&state.pool).await?;
    for kind in ReportState::KINDS {
        let n = reports
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("byoc_marketplace_reports", "state" => kind).set(n as f64);
    }
    recorder.process.collect();
    let mut text = recorder.handle.render();
    // The freshest reading: this process' own (seconds old), else the last stored one.
    let provisioner = state.operations.provisioner();
    let readings: Vec<(i64, String, Counters)> =
        store::broker_samples::latest_of_live(&state.pool, PER_INSTANCE_LIMIT)
            .await?
            .into_iter()
            .map(|(id, name, stored)| {
                let latest = provisioner.latest_reading(id).unwrap_or(stored);
                (id, name, latest)
            })
            .collect();
    text.push_str(&instance_families(&readings));
    text.push_str(&group_lag_family(
        &readings,
        &provisioner.consumer_group_lags(),
    ));
    Ok(text)
}

/// Each instance's traffic in Prometheus' text format. Written here rather than through the
/// recorder, which keeps a series until the process ends: these follow the instances, so a
/// deleted one's series go with it.
fn instance_families(readings: &[(i64, String, Counters)]) -> String {
    type Figure = fn(&Counters) -> u64;
    let families: [(&str, &str, &str, Figure); 5] = [
        (
            "byoc_instance_messages_in_total",
            "counter",
            "Messages produced to the instance since it was created (counted by its Kafka nodes).",
            |c| c.messages_in,
        ),
        (
            "byoc_instance_messages_out_total",
            "counter",
            "Messages consumed since the instance was created (estimated: bytes out at the mean message size in).",
            |c| c.messages_out,
        ),
        (
            "byoc_instance_received_bytes_total",
            "counter",
            "Bytes produced to the instance since it was created (counted by its Kafka nodes; replication excluded).",
            |c| c.bytes_in,
        ),
        (
            "byoc_instance_sent_bytes_total",
            "counter",
            "Bytes consumers fetched from the instance since it was created (counted by its Kafka nodes; replication excluded).",
            |c| c.bytes_out,
        ),
        (
            "byoc_instance_retained_bytes",
            "gauge",
            "Data the instance keeps on disk, each partition once (its largest replica).",
            |c| c.bytes_retained,
        ),
    ];
    let mut text = String::new();
    if readings.is_empty() {
        return text;
    }
    for (name, kind, help, figure) in families {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (id, instance, counters) in readings {
            // Instance names are lowercase letters, digits and hyphens; escaped all the same.
            let instance = instance
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            text.push_str(&format!(
                "{name}{{instance_name=\"{instance}\",instance_id=\"{id}\"}} {}\n",
                figure(counters)
            ));
        }
        text.push('\n');
    }
    text
}

/// Instance names in a label value, escaped as Prometheus' text format says.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `byoc_consumer_group_lag{instance_name,group}` of the instances listed (those with series
/// of their own), from the provisioner's background sample (every 30 s; a scrape asks Kafka
/// nothing), at most `GROUPS_EXPORTED` groups per instance, the largest lag first.
fn group_lag_family(
    readings: &[(i64, String, Counters)],
    lags: &[(i64, Vec<(String, i64)>)],
) -> String {
    let name = "byoc_consumer_group_lag";
    let mut text = format!(
        "# HELP {name} A consumer group's total lag (messages: end offsets less committed offsets), \
         sampled every {} s; at most {} groups per instance, the largest lag first.\n# TYPE {name} gauge\n",
        super::kafka::LAG_SAMPLE_EVERY.as_secs(),
        super::kafka::GROUPS_EXPORTED
    );
    let mut any = false;
    for (id, instance, _) in readings {
        let Some((_, groups)) = lags.iter().find(|(i, _)| i == id) else {
            continue;
        };
        for (group, lag) in groups.iter().take(super::kafka::GROUPS_EXPORTED) {
            any = true;
            text.push_str(&format!(
                "{name}{{instance_name=\"{}\",group=\"{}\"}} {lag}\n",
                label(instance),
                label(group)
            ));
        }
    }
    match any {
        true => text + "\n",
        false => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn loopback_or_the_token_may_scrape() {
        let local = "127.0.0.1".parse().unwrap();
        let local6 = "::1".parse().unwrap();
        let mapped = "::ffff:127.0.0.1".parse().unwrap();
        let remote = "10.0.0.7".parse().unwrap();
        assert!(allowed(mapped, None, None));
        let token = "a-scrape-token-of-24-chars!";
        assert!(allowed(local, None, None));
        assert!(allowed(local6, None, None));
        assert!(!allowed(remote, None, None));
        assert!(!allowed(remote, None, Some("Bearer anything")));
        assert!(!allowed(remote, Some(token), None));
        assert!(!allowed(
            remote,
            Some(token),
            Some("Bearer a-scrape-token-of-24-chars")
        ));
        assert!(!allowed(remote, Some(token), Some(token)));
        assert!(allowed(
            remote,
            Some(token),
            Some(&format!("Bearer {token}"))
        ));
    }

    #[test]
    fn group_lag_is_capped_escaped_and_only_for_listed_instances() {
        use super::group_lag_family;
        use crate::server::kafka::GROUPS_EXPORTED;
        let readings = vec![(1, "orders".to_string(), Default::default())];
        assert_eq!(group_lag_family(&readings, &[]), "");
        let many: Vec<(String, i64)> = (0..GROUPS_EXPORTED + 5)
            .map(|g| (format!("g{g}"), 10))
            .collect();
        let mut lags = vec![(1, many), (2, vec![("other".to_string(), 5)])];
        lags[0].1[0].0 = "a\"b".into();
        let text = group_lag_family(&readings, &lags);
        let series: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(series.len(), GROUPS_EXPORTED);
        assert_eq!(
            series[0],
            "byoc_consumer_group_lag{instance_name=\"orders\",group=\"a\\\"b\"} 10"
        );
        assert!(
            !text.contains("other"),
            "instance 2 has no series of its own"
        );
    }
}
