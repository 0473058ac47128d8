//! AWS Marketplace Metering Service, `MeterUsage`, as the AWS SDK for Rust calls it:
//! `POST /`, `x-amz-target: AWSMPMeteringService.MeterUsage`, awsJson1_1 body, SigV4.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::PrimitiveDateTime;

use crate::sigv4;
use crate::state::{answer_late, real_now, AwsParams, AwsRecord, Fault, Shared, State as Mem};
use crate::AwsAccount;

const MARKETPLACE: &str = "aws";
const SERVICE: &str = "aws-marketplace";
const TARGET: &str = "AWSMPMeteringService.MeterUsage";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// How far `X-Amz-Date` may be from the real clock (AWS: 15 minutes).
const MAX_SKEW_S: f64 = 15.0 * 60.0;
/// MeterUsage accepts usage up to six hours old and one hour ahead.
const MAX_AGE_S: f64 = 6.0 * 3600.0;
const MAX_AHEAD_S: f64 = 3600.0;

const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// An answer: status, `__type` (None for success), body, and the outcome name counted.
struct Answer {
    status: StatusCode,
    error: Option<&'static str>,
    body: Value,
    outcome: &'static str,
}

fn err(status: StatusCode, name: &'static str, message: impl Into<String>) -> Answer {
    Answer {
        status,
        error: Some(name),
        body: json!({ "__type": name, "message": message.into() }),
        outcome: name,
    }
}

fn client(name: &'static str, message: impl Into<String>) -> Answer {
    err(StatusCode::BAD_REQUEST, name, message)
}

/// Success; `outcome` tells a new billing ("accepted") from a repeat ("replayed").
fn ok(record_id: &str, outcome: &'static str) -> Answer {
    Answer {
        status: StatusCode::OK,
        error: None,
        body: json!({ "MeteringRecordId": record_id }),
        outcome,
    }
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = decide(&shared, &method, &uri, &headers, &body);
    let mut resp = answer_late(
        &shared,
        MARKETPLACE,
        answer.outcome,
        answer.status,
        &answer.body,
        CONTENT_TYPE,
    )
    .await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(name) = answer.error {
        h.insert("x-amzn-errortype", HeaderValue::from_static(name));
    }
    resp
}

fn decide(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
    if shared.lock().faults.outage {
        return err(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            "Service is unavailable (emulated outage)",
        );
    }
    match authenticate(shared, method, uri, headers, body) {
        Err(a) => a,
        Ok(account) => meter_usage(shared, account, headers, body),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// SigV4 verification, in AWS's order: a readable `Authorization`, a known key, the scope,
/// the signature, then the clock.
fn authenticate<'a>(
    shared: &'a Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a AwsAccount, Answer> {
    let Some(authz) = header(headers, "authorization") else {
        return Err(client(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let auth =
        sigv4::parse_authorization(authz).map_err(|m| client("IncompleteSignatureException", m))?;
    let Some(amz_date) = header(headers, "x-amz-date") else {
        return Err(client(
            "IncompleteSignatureException",
            "Authorization header requires existence of a 'X-Amz-Date' header.",
        ));
    };
    let invalid_token = || {
        client(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    };
    let Some(account) = shared
        .config
        .aws
        .iter()
        .find(|a| a.access_key_id == auth.access_key_id)
    else {
        return Err(invalid_token());
    };
    if header(headers, "x-amz-security-token") != account.session_token.as_deref() {
        return Err(invalid_token());
    }
    let invalid = |m: String| client("InvalidSignatureException", m);
    if auth.region != shared.config.aws_region {
        return Err(invalid(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            auth.region
        )));
    }
    if auth.service != SERVICE {
        return Err(invalid(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    if !amz_date.starts_with(&auth.date) || auth.date.len() != 8 {
        return Err(invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(invalid(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let actual_hash = sigv4::payload_hash(body);
    let payload_hash = match header(headers, "x-amz-content-sha256") {
        Some(claimed) if claimed.eq_ignore_ascii_case(&actual_hash) => claimed.to_string(),
        Some(_) => {
            return Err(invalid(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into(),
            ))
        }
        None => actual_hash,
    };
    let raw_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let req = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &raw_headers,
    };
    let Some(computed) = sigv4::compute(&req, &auth, &account.secret, amz_date, &payload_hash)
    else {
        return Err(invalid(
            "A header listed in SignedHeaders is missing from the request.".into(),
        ));
    };
    if !sigv4::constant_time_eq(computed.signature.as_bytes(), auth.signature.as_bytes()) {
        return Err(invalid(format!(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n\
             The Canonical String for this request should have been\n'{}'\n\n\
             The String-to-Sign should have been\n'{}'\n",
            computed.canonical_request, computed.string_to_sign
        )));
    }
    let Ok(signed_at) = PrimitiveDateTime::parse(amz_date, AMZ_DATE) else {
        return Err(client(
            "IncompleteSignatureException",
            format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'."),
        ));
    };
    let signed_at = signed_at.assume_utc().unix_timestamp() as f64;
    let now = real_now();
    if (signed_at - now).abs() > MAX_SKEW_S {
        let fmt = |t: f64| {
            time::OffsetDateTime::from_unix_timestamp(t as i64)
                .ok()
                .and_then(|d| d.format(AMZ_DATE).ok())
                .unwrap_or_default()
        };
        let msg = if signed_at < now {
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                fmt(now - MAX_SKEW_S),
                fmt(now)
            )
        } else {
            format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                fmt(now + MAX_SKEW_S),
                fmt(now)
            )
        };
        return Err(invalid(msg));
    }
    Ok(account)
}

/// The parsed `MeterUsage` input.
struct Input {
    params: AwsParams,
    dry_run: bool,
    client_token: Option<String>,
    allocations: Option<Vec<i64>>,
}

fn parse_input(body: &[u8]) -> Result<Input, Answer> {
    let ser = |m: &str| client("SerializationException", m.to_string());
    let value: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
        .map_err(|e| ser(&format!("Could not parse the request body as JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(ser("The request body must be a JSON object."));
    };
    let string = |name: &str| -> Result<Option<String>, Answer> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ser(&format!("{name} must be a string."))),
        }
    };
    let null = |member: &str| {
        client(
            "ValidationException",
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
        )
    };
    let product_code = string("ProductCode")?.ok_or_else(|| null("productCode"))?;
    let dimension = string("UsageDimension")?.ok_or_else(|| null("usageDimension"))?;
    let client_token = string("ClientToken")?;
    let timestamp = match obj.get("Timestamp") {
        None | Some(Value::Null) => return Err(null("timestamp")),
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| ser("Timestamp must be epoch seconds."))?,
        Some(_) => return Err(ser("Timestamp must be a number of epoch seconds.")),
    };
    let quantity = match obj.get("UsageQuantity") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|q| i32::try_from(q).ok())
            .ok_or_else(|| ser("UsageQuantity must be a 32-bit integer."))?,
        Some(_) => return Err(ser("UsageQuantity must be an integer.")),
    };
    let dry_run = match obj.get("DryRun") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ser("DryRun must be a boolean.")),
    };
    let allocations = match obj.get("UsageAllocations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| i.get("AllocatedUsageQuantity").and_then(Value::as_i64))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| {
                    ser("Each UsageAllocation needs an integer AllocatedUsageQuantity.")
                })?,
        ),
        Some(_) => return Err(ser("UsageAllocations must be a list.")),
    };
    Ok(Input {
        params: AwsParams {
            product_code,
            dimension,
            timestamp,
            quantity,
        },
        dry_run,
        client_token,
        allocations,
    })
}

fn meter_usage(shared: &Shared, account: &AwsAccount, headers: &HeaderMap, body: &[u8]) -> Answer {
    match header(headers, "x-amz-target") {
        Some(TARGET) => {}
        other => {
            return client(
                "UnknownOperationException",
                format!(
                    "Unknown or unemulated operation: {}",
                    other.unwrap_or("(no x-amz-target)")
                ),
            )
        }
    }
    let config = &shared.config;
    let mut mem = shared.lock();
    match mem.take_fault() {
        Some(Fault::Throttle) => return client("ThrottlingException", "Rate exceeded"),
        Some(Fault::ServerError) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServiceErrorException",
                "An internal error has occurred (injected).",
            )
        }
        None => {}
    }
    let input = match parse_input(body) {
        Ok(i) => i,
        Err(a) => return a,
    };
    if !account.authorized || mem.permission_revoked {
        return client(
            "UnauthorizedException",
            format!(
                "User {} is not authorized to perform: aws-marketplace:MeterUsage",
                account.access_key_id
            ),
        );
    }
    if input.dry_run {
        return client(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        );
    }
    let p = &input.params;
    if p.product_code != config.aws_product_code {
        return client(
            "InvalidProductCodeException",
            format!("Invalid product code: {}", p.product_code),
        );
    }
    if !config.aws_dimensions.contains(&p.dimension) {
        return client(
            "InvalidUsageDimensionException",
            format!(
                "Invalid usage dimension for product {}: {}",
                p.product_code, p.dimension
            ),
        );
    }
    if p.quantity < 0 {
        return client(
            "ValidationException",
            "1 validation error detected: Value at 'usageQuantity' failed to satisfy constraint: Member must have value greater than or equal to 0",
        );
    }
    if let Some(allocs) = &input.allocations {
        if allocs.iter().sum::<i64>() != i64::from(p.quantity) || allocs.iter().any(|a| *a < 0) {
            return client(
                "InvalidUsageAllocationsException",
                "The sum of the UsageAllocations must equal the UsageQuantity.",
            );
        }
    }
    if !mem.takes_usage_at(p.timestamp) {
        return client(
            "CustomerNotEntitledException",
            "The customer does not have a valid subscription for the product.",
        );
    }
    let now = mem.usage_now.unwrap_or_else(real_now);
    if let Some(started) = mem.software_started.filter(|s| p.timestamp < *s) {
        return client(
            "TimestampOutOfBoundsException",
            format!(
                "Timestamp {} is before the start of the software usage ({started})",
                p.timestamp
            ),
        );
    }
    if p.timestamp < now - MAX_AGE_S || p.timestamp > now + MAX_AHEAD_S {
        return client(
            "TimestampOutOfBoundsException",
            format!(
                "Timestamp {} is outside the allowed window: at most 6 hours in the past and 1 hour in the future of {now}",
                p.timestamp
            ),
        );
    }
    record(&mut mem, account, input)
}

/// Idempotency (ClientToken), then one record per (product, dimension, hour).
fn record(mem: &mut Mem, account: &AwsAccount, input: Input) -> Answer {
    let replayed = |id: &str| ok(id, "replayed");
    let p = input.params;
    if let Some(token) = &input.client_token {
        if let Some((first, id)) = mem.aws_tokens.get(token) {
            return if *first == p {
                replayed(id)
            } else {
                client(
                    "IdempotencyConflictException",
                    "The ClientToken was already used with different parameters.",
                )
            };
        }
    }
    let hour = (p.timestamp / 3600.0).floor() as i64;
    let slot = (p.product_code.clone(), p.dimension.clone(), hour);
    if let Some(existing) = mem
        .aws_by_hour
        .get(&slot)
        .and_then(|&i| mem.aws_records.get(i))
    {
        if existing.quantity != p.quantity {
            return client(
                "DuplicateRequestException",
                format!(
                    "A metering record was already emitted for dimension {} in this hour with quantity {}.",
                    p.dimension, existing.quantity
                ),
            );
        }
        let id = existing.record_id.clone();
        if let Some(token) = input.client_token {
            mem.aws_tokens.insert(token, (p, id.clone()));
        }
        return replayed(&id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    mem.aws_records.push(AwsRecord {
        product_code: p.product_code.clone(),
        dimension: p.dimension.clone(),
        timestamp: p.timestamp,
        quantity: p.quantity,
        record_id: id.clone(),
        client_token: input.client_token.clone(),
        access_key_id: account.access_key_id.clone(),
    });
    let idx = mem.aws_records.len() - 1;
    mem.aws_by_hour.insert(slot, idx);
    if let Some(token) = input.client_token {
        mem.aws_tokens.insert(token, (p, id.clone()));
    }
    ok(&id, "accepted")
}
