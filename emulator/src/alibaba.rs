//! Alibaba Cloud Compute Nest, RPC style: `GET /alibaba/?…` or `POST /alibaba/` with a
//! form body, common parameters plus `Action`, signature v1.0 (HMAC-SHA1).
//!
//! Answers are JSON whatever `Format` says: the console asks for JSON, and an XML answer
//! would only test an XML parser the console does not have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::PrimitiveDateTime;

use crate::alibaba_sig;
use crate::state::{answer_late, real_now, AlibabaEntry, Fault, Shared};
use crate::AlibabaAccount;

const MARKETPLACE: &str = "alibaba";
/// API versions that have `PushMeteringData`: Compute Nest (2021-06-01) and Compute Nest
/// Supplier (2021-05-21).
const VERSIONS: &[&str] = &["2021-06-01", "2021-05-21"];
/// How far `Timestamp` may be from the real clock, and how long a nonce stays used.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Billable keys this emulated listing defines.
const KEYS: &[&str] = &["Period", "Storage", "NetworkIn", "NetworkOut"];

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

struct Answer {
    status: StatusCode,
    body: Value,
    outcome: &'static str,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> Answer {
    Answer {
        status,
        body: json!({
            "RequestId": request_id(),
            "HostId": "computenest.emulator",
            "Code": code,
            "Message": message.into(),
        }),
        outcome: code,
    }
}

fn bad(code: &'static str, message: impl Into<String>) -> Answer {
    err(StatusCode::BAD_REQUEST, code, message)
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = decide(&shared, &method, &uri, &headers, &body);
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

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn decide(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
    if shared.lock().faults.outage {
        return err(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server (emulated outage).",
        );
    }
    let mut params = alibaba_sig::parse_form(uri.query().unwrap_or(""));
    if *method == Method::POST {
        let form = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            params.extend(alibaba_sig::parse_form(&String::from_utf8_lossy(body)));
        }
    }
    if let Err(a) = authenticate(shared, method.as_str(), &params) {
        return a;
    }
    let version = param(&params, "Version").unwrap_or_default();
    if !VERSIONS.contains(&version) {
        return bad(
            "InvalidVersion",
            format!("Specified parameter Version '{version}' is not valid."),
        );
    }
    let action = param(&params, "Action").unwrap_or_default();
    if !matches!(action, "PushMeteringData" | "GetServiceInstance") {
        return err(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!("Specified api '{action}' is not found, please check your url and method."),
        );
    }
    match shared.lock().take_fault() {
        Some(Fault::Throttle) => {
            return bad(
                "Throttling.User",
                "Request was denied due to user flow control.",
            )
        }
        Some(Fault::ServerError) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The request processing has failed due to some unknown error (injected).",
            )
        }
        None => {}
    }
    if action == "PushMeteringData" {
        push_metering_data(shared, &params)
    } else {
        get_service_instance(shared, &params)
    }
}

/// Common parameters, the key, the signature, the token, the clock, the nonce.
fn authenticate(shared: &Shared, method: &str, params: &[(String, String)]) -> Result<(), Answer> {
    for (name, code) in [
        ("AccessKeyId", "MissingAccessKeyId"),
        ("Signature", "MissingSignature"),
        ("SignatureMethod", "MissingSignatureMethod"),
        ("SignatureVersion", "MissingSignatureVersion"),
        ("SignatureNonce", "MissingSignatureNonce"),
        ("Timestamp", "MissingTimestamp"),
        ("Action", "MissingAction"),
        ("Version", "MissingVersion"),
    ] {
        if param(params, name).is_none_or(str::is_empty) {
            return Err(bad(code, format!("{name} is mandatory for this action.")));
        }
    }
    let get = |name| param(params, name).unwrap_or_default();
    if get("SignatureMethod") != "HMAC-SHA1" || get("SignatureVersion") != "1.0" {
        return Err(bad(
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards: SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0.",
        ));
    }
    let Some(account) = shared
        .config
        .alibaba
        .iter()
        .find(|a| a.access_key_id == get("AccessKeyId"))
    else {
        return Err(bad(
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };
    verify_signature(account, method, params)?;
    if param(params, "SecurityToken") != account.security_token.as_deref() {
        return Err(bad(
            "InvalidSecurityToken.Mismatch",
            "Specified SecurityToken mismatch with the AccessKey.",
        ));
    }
    let Ok(ts) = PrimitiveDateTime::parse(get("Timestamp"), TIMESTAMP) else {
        return Err(bad(
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ));
    };
    let skew = (ts.assume_utc().unix_timestamp() as f64 - real_now()).abs();
    if skew > WINDOW.as_secs_f64() {
        return Err(bad(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let mut mem = shared.lock();
    mem.nonces.retain(|_, seen| seen.elapsed() < WINDOW);
    let nonce = format!("{}\n{}", get("AccessKeyId"), get("SignatureNonce"));
    if mem.nonces.contains_key(&nonce) {
        return Err(bad(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    mem.nonces.insert(nonce, Instant::now());
    Ok(())
}

fn verify_signature(
    account: &AlibabaAccount,
    method: &str,
    params: &[(String, String)],
) -> Result<(), Answer> {
    let sts = alibaba_sig::string_to_sign(method, params);
    let expected = alibaba_sig::sign(&account.secret, &sts);
    // Base64 never holds a space: a space here is an unencoded `+` decoded as form data.
    let given = param(params, "Signature")
        .unwrap_or_default()
        .replace(' ', "+");
    if crate::sigv4::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(bad(
            "SignatureDoesNotMatch",
            format!("Specified signature does not match our calculation. server string to sign is:{sts}"),
        ))
    }
}

/// The service instance named by the request, if it is the one that exists.
fn service_instance<'a>(
    shared: &Shared,
    params: &'a [(String, String)],
) -> Result<&'a str, Answer> {
    let Some(id) = param(params, "ServiceInstanceId").filter(|s| !s.is_empty()) else {
        return Err(bad(
            "MissingServiceInstanceId",
            "ServiceInstanceId is mandatory for this action.",
        ));
    };
    if id != shared.config.alibaba_service_instance_id {
        return Err(err(
            StatusCode::NOT_FOUND,
            "EntityNotExist.ServiceInstance",
            format!("The specified service instance {id} does not exist."),
        ));
    }
    Ok(id)
}

fn get_service_instance(shared: &Shared, params: &[(String, String)]) -> Answer {
    let id = match service_instance(shared, params) {
        Ok(id) => id,
        Err(a) => return a,
    };
    let status = if shared.lock().entitled {
        "Deployed"
    } else {
        "Expired"
    };
    Answer {
        status: StatusCode::OK,
        body: json!({ "RequestId": request_id(), "ServiceInstanceId": id, "Status": status }),
        outcome: "checked",
    }
}

fn invalid_metering(message: impl Into<String>) -> Answer {
    bad("InvalidParameter.Metering", message)
}

/// Parses `Metering`: `[{"InstanceId","StartTime","EndTime","Entities":[{"Key","Value"}]}]`.
fn parse_metering(
    service_instance_id: &str,
    raw: &str,
    max: usize,
) -> Result<Vec<AlibabaEntry>, Answer> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| invalid_metering(format!("Metering is not JSON: {e}")))?;
    let Some(records) = value.as_array() else {
        return Err(invalid_metering("Metering must be a JSON array."));
    };
    if records.is_empty() {
        return Err(invalid_metering("Metering has no records."));
    }
    if records.len() > max {
        return Err(invalid_metering(format!(
            "Metering has too many records: {} (at most {max}).",
            records.len()
        )));
    }
    let mut entries = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let bad_rec = |what: &str| invalid_metering(format!("Metering[{i}]: {what}"));
        let instance_id = match rec.get("InstanceId") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad_rec("InstanceId must be a string.")),
        };
        let time = |name: &str| -> Result<i64, Answer> {
            match rec.get(name) {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            }
            .filter(|t| *t >= 0)
            .ok_or_else(|| bad_rec(&format!("{name} must be epoch seconds.")))
        };
        let start = time("StartTime")?;
        let end = time("EndTime")?;
        if end <= start {
            return Err(bad_rec("EndTime must be later than StartTime."));
        }
        let Some(entities) = rec
            .get("Entities")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        else {
            return Err(bad_rec("Entities must be a non-empty list."));
        };
        for entity in entities {
            let Some(key) = entity.get("Key").and_then(Value::as_str) else {
                return Err(bad_rec("each entity needs a Key."));
            };
            if !KEYS.contains(&key) {
                return Err(bad_rec(&format!(
                    "Key {key} is not a billable item of this service."
                )));
            }
            let value = match entity.get("Value") {
                Some(Value::String(s))
                    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    s.parse().ok()
                }
                Some(Value::Number(n)) => n.as_u64(),
                _ => None,
            };
            let Some(value) = value else {
                return Err(bad_rec(&format!(
                    "Value of {key} must be a non-negative integer."
                )));
            };
            entries.push(AlibabaEntry {
                service_instance_id: service_instance_id.to_string(),
                instance_id: instance_id.clone(),
                start_time: start,
                end_time: end,
                key: key.to_string(),
                value,
            });
        }
    }
    Ok(entries)
}

fn push_metering_data(shared: &Shared, params: &[(String, String)]) -> Answer {
    let id = match service_instance(shared, params) {
        Ok(id) => id,
        Err(a) => return a,
    };
    if !shared.lock().entitled {
        return err(
            StatusCode::FORBIDDEN,
            "Forbidden.ServiceInstanceExpired",
            format!("The service instance {id} has expired."),
        );
    }
    let Some(raw) = param(params, "Metering").filter(|s| !s.is_empty()) else {
        return bad("MissingMetering", "Metering is mandatory for this action.");
    };
    let entries = match parse_metering(id, raw, shared.config.alibaba_max_records) {
        Ok(e) => e,
        Err(a) => return a,
    };
    let mut mem = shared.lock();
    let interval = Duration::from_secs(shared.config.alibaba_push_interval_s);
    if let Some(last) = mem.alibaba_last_push.get(id) {
        if last.elapsed() < interval {
            return bad(
                "Throttling.User",
                format!(
                    "Request was denied due to user flow control: one push per {}s per service instance.",
                    interval.as_secs()
                ),
            );
        }
    }
    mem.alibaba_last_push.insert(id.to_string(), Instant::now());
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
    Answer {
        status: StatusCode::OK,
        body: json!({ "RequestId": request_id() }),
        outcome: "accepted",
    }
}
