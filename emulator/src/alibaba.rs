//! Alibaba Cloud Compute Nest as a service instance's host reaches it (the calls its
//! documentation gives for software running on the ECS host Compute Nest created; addresses
//! in the console's `docs/research/alibaba-compute-nest-metering.md`), and nothing else:
//!
//! - `GET /alibaba/latest/meta-data/region-id`: the ECS metadata service's region;
//! - `POST /alibaba/computeNest/license/check_out_license` (`CheckOutLicense`), JSON body with
//!   an optional `ServiceId`;
//! - `POST /alibaba/computeNest/marketplace/push_metering_data` (`PushMeteringData`), JSON
//!   body `{"Metering": "<JSON text>", "Token": md5("{Metering}&{ServiceKey}")}`.
//!
//! Answers: `{"code":200,"requestId","instanceId","result":{…,"Token"}}`, the result's
//! `Token` being MD5 of its other fields sorted by name (`Name=value&…&key={ServiceKey}`).
//! Anything else (the RPC API with access keys, another path, a missing or wrong token, a
//! value that is not an integer within 2^31 - 1) is refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::md5::md5_hex;
use crate::state::{answer_late, AlibabaEntry, Fault, Shared};

const MARKETPLACE: &str = "alibaba";
const MAX_VALUE: u64 = i32::MAX as u64;
/// The documentation: for bills by the hour, EndTime - StartTime must be more than 5 minutes.
const MIN_INTERVAL_S: i64 = 5 * 60;

struct Answer {
    status: StatusCode,
    body: Value,
    outcome: &'static str,
}

fn refuse(shared: &Shared, status: StatusCode, code: &'static str, message: String) -> Answer {
    Answer {
        status,
        body: json!({
            "code": status.as_u16(),
            "requestId": request_id(),
            "instanceId": shared.config.alibaba_ecs_instance_id,
            "Code": code,
            "Message": message,
        }),
        outcome: code,
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// The text a field is signed as: a string as is, anything else as its JSON.
fn field_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A result signed with the service key, in the documented envelope.
fn signed(shared: &Shared, mut result: BTreeMap<String, Value>, outcome: &'static str) -> Answer {
    let fields: Vec<String> = result
        .iter()
        .map(|(k, v)| format!("{k}={}", field_text(v)))
        .collect();
    let text = format!(
        "{}&key={}",
        fields.join("&"),
        shared.config.alibaba_service_key
    );
    result.insert("Token".into(), Value::String(md5_hex(text.as_bytes())));
    Answer {
        status: StatusCode::OK,
        body: json!({
            "code": 200,
            "requestId": request_id(),
            "instanceId": shared.config.alibaba_ecs_instance_id,
            "result": result,
        }),
        outcome,
    }
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let answer = decide(&shared, &method, uri.path(), &body);
    if let Value::String(text) = &answer.body {
        // The metadata service answers plain text.
        use axum::response::IntoResponse;
        return (answer.status, text.clone()).into_response();
    }
    answer_late(
        &shared,
        MARKETPLACE,
        answer.outcome,
        answer.status,
        &answer.body,
        "application/json;charset=utf-8",
    )
    .await
}

fn decide(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    if shared.lock().faults.outage {
        return refuse(
            shared,
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server (emulated outage)."
                .into(),
        );
    }
    let path = path.trim_start_matches("/alibaba");
    match (method.as_str(), path) {
        ("GET", "/latest/meta-data/region-id") => {
            return Answer {
                status: StatusCode::OK,
                body: Value::String(shared.config.alibaba_region.clone()),
                outcome: "region",
            }
        }
        ("POST", "/computeNest/license/check_out_license" | "/computeNest/marketplace/push_metering_data") => {}
        _ => {
            return refuse(
                shared,
                StatusCode::NOT_FOUND,
                "InvalidAction.NotFound",
                format!(
                    "{method} {path} is not a call Compute Nest offers inside a service instance (the RPC API with access keys is not emulated)"
                ),
            )
        }
    }
    if !shared.lock().alibaba_compute_nest_host {
        return refuse(
            shared,
            StatusCode::NOT_FOUND,
            "EntityNotExist.ServiceInstance",
            "The specified service instance cannot be found.".into(),
        );
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "The body must be a JSON object.".into(),
        );
    };
    match shared.lock().take_fault() {
        Some(Fault::Throttle) => {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "Throttling.User",
                "Request was denied due to user flow control.".into(),
            )
        }
        Some(Fault::ServerError) => {
            return refuse(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The request processing has failed due to some unknown error (injected).".into(),
            )
        }
        None => {}
    }
    if path.ends_with("check_out_license") {
        check_out_license(shared, &request)
    } else {
        push_metering_data(shared, &request)
    }
}

fn license_refusal(shared: &Shared) -> Option<Answer> {
    let mem = shared.lock();
    let id = &shared.config.alibaba_service_instance_id;
    if mem.alibaba_arrears {
        return Some(refuse(
            shared,
            StatusCode::FORBIDDEN,
            "InstanceArrears",
            format!("The current service instance {id} is in arrears."),
        ));
    }
    if !mem.entitled {
        return Some(refuse(
            shared,
            StatusCode::FORBIDDEN,
            "LicenseExpired",
            format!("The license of the current service instance {id} has expired."),
        ));
    }
    None
}

fn check_out_license(shared: &Shared, request: &serde_json::Map<String, Value>) -> Answer {
    if let Some(service) = request.get("ServiceId") {
        if service.as_str() != Some(shared.config.alibaba_service_id.as_str()) {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "The provided parameter \"ServiceId\" is invalid.".into(),
            );
        }
    }
    if let Some(refusal) = license_refusal(shared) {
        return refusal;
    }
    let result: BTreeMap<String, Value> = [
        ("RequestId", json!(request_id())),
        (
            "ServiceInstanceId",
            json!(shared.config.alibaba_service_instance_id),
        ),
        ("ServiceId", json!(shared.config.alibaba_service_id)),
        ("TrialType", json!("NotTrial")),
        ("ExpireTime", json!("2099-12-31T00:00:00Z")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    signed(shared, result, "checked")
}

fn invalid(shared: &Shared, message: String) -> Answer {
    refuse(shared, StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

/// `Metering`: `[{"StartTime","EndTime","Entities":[{"Key","Value"}]}]`.
fn parse_metering(shared: &Shared, raw: &str) -> Result<Vec<AlibabaEntry>, Answer> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| invalid(shared, format!("Metering is not JSON: {e}")))?;
    let Some(records) = value.as_array().filter(|r| !r.is_empty()) else {
        return Err(invalid(
            shared,
            "Metering must be a non-empty JSON array.".into(),
        ));
    };
    if records.len() > shared.config.alibaba_max_records {
        return Err(invalid(
            shared,
            format!(
                "Metering has too many records: {} (at most {}).",
                records.len(),
                shared.config.alibaba_max_records
            ),
        ));
    }
    let mut entries = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let bad = |what: String| invalid(shared, format!("Metering[{i}]: {what}"));
        if let Some(id) = rec.get("InstanceId").and_then(Value::as_str) {
            if id.starts_with("si-") {
                return Err(bad(format!(
                    "InstanceId {id} is a service instance, not a Marketplace instance"
                )));
            }
        }
        let time = |name: &str| {
            match rec.get(name) {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            }
            .filter(|t| *t >= 0)
            .ok_or_else(|| bad(format!("{name} must be epoch seconds.")))
        };
        let start = time("StartTime")?;
        let end = time("EndTime")?;
        if end - start <= MIN_INTERVAL_S {
            return Err(bad(
                "EndTime must be more than 5 minutes after StartTime.".into()
            ));
        }
        let Some(entities) = rec
            .get("Entities")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        else {
            return Err(bad("Entities must be a non-empty list.".into()));
        };
        for entity in entities {
            let Some(key) = entity.get("Key").and_then(Value::as_str) else {
                return Err(bad("each entity needs a Key.".into()));
            };
            if !shared.config.alibaba_keys.iter().any(|k| k == key) {
                return Err(bad(format!(
                    "Key {key} is not a billable item of this service."
                )));
            }
            let value = match entity.get("Value") {
                Some(Value::String(s))
                    if !s.is_empty() && s.len() < 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    s.parse::<u64>().ok()
                }
                Some(Value::Number(n)) => n.as_u64(),
                _ => None,
            }
            .filter(|v| *v <= MAX_VALUE);
            let Some(value) = value else {
                return Err(bad(format!(
                    "Value of {key} must be an integer from 0 to {MAX_VALUE}."
                )));
            };
            entries.push(AlibabaEntry {
                service_instance_id: shared.config.alibaba_service_instance_id.clone(),
                instance_id: String::new(),
                start_time: start,
                end_time: end,
                key: key.to_string(),
                value,
            });
        }
    }
    Ok(entries)
}

fn push_metering_data(shared: &Shared, request: &serde_json::Map<String, Value>) -> Answer {
    let Some(raw) = request
        .get("Metering")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return invalid(shared, "Metering is mandatory (a JSON string).".into());
    };
    let Some(token) = request.get("Token").and_then(Value::as_str) else {
        return invalid(shared, "Token is mandatory.".into());
    };
    let expected = md5_hex(format!("{raw}&{}", shared.config.alibaba_service_key).as_bytes());
    if token != expected {
        return refuse(
            shared,
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "Token does not match Metering and the service's key: the pusher is not the service provider."
                .into(),
        );
    }
    let entries = match parse_metering(shared, raw) {
        Ok(e) => e,
        Err(a) => return a,
    };
    let (takes, arrears) = {
        let mem = shared.lock();
        let takes = entries
            .iter()
            .all(|e| mem.takes_usage_at(e.start_time as f64));
        (takes, mem.alibaba_arrears)
    };
    if !takes || arrears {
        if let Some(refusal) = license_refusal(shared) {
            return refusal;
        }
    }
    let id = shared.config.alibaba_service_instance_id.clone();
    let mut mem = shared.lock();
    let interval = Duration::from_secs(shared.config.alibaba_push_interval_s);
    if let Some(last) = mem.alibaba_last_push.get(&id) {
        if last.elapsed() < interval {
            drop(mem);
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "Throttling.User",
                format!(
                    "Request was denied due to user flow control: one push per {}s per service instance.",
                    interval.as_secs()
                ),
            );
        }
    }
    mem.alibaba_last_push.insert(id, Instant::now());
    for e in entries {
        let seen = (
            e.service_instance_id.clone(),
            e.instance_id.clone(),
            e.start_time,
            e.key.clone(),
        );
        if !mem.alibaba_seen.insert(seen) {
            mem.double_billed += 1;
        }
        mem.alibaba_entries.push(e);
    }
    drop(mem);
    let result: BTreeMap<String, Value> = [
        ("RequestId", json!(request_id())),
        ("Success", json!(true)),
        ("PushMeteringDataRequestId", json!(request_id())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    signed(shared, result, "accepted")
}
