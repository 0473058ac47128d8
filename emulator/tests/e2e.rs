//! The emulator on a real port, called the way the console calls the marketplaces: AWS
//! requests signed by `aws-sigv4` (an implementation independent of the emulator's) and by
//! the AWS SDK itself, Alibaba requests by a small signer written here from the
//! documentation.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_marketplacemetering as mm;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use marketplace_emulator::{AlibabaAccount, AwsAccount, Config};
use mm::error::ProvideErrorMetadata as _;
use serde_json::{json, Value};

const AK: &str = "AKIDTESTEMULATOR0001";
const SK: &str = "test/Secret/Key/0000000000000000000000001";
const AK_NOPERM: &str = "AKIDTESTEMULATOR0002";
const SK_NOPERM: &str = "test/Secret/Key/0000000000000000000000002";
const PRODUCT: &str = "prodcode0000000000000test";
const ALI_AK: &str = "LTAItest0001";
const ALI_SK: &str = "alibabaTestSecret0001";
const SI: &str = "si-0123456789abcdef";

fn config() -> Config {
    Config {
        aws: vec![
            AwsAccount::new(AK, SK),
            AwsAccount {
                authorized: false,
                ..AwsAccount::new(AK_NOPERM, SK_NOPERM)
            },
        ],
        aws_region: "us-east-1".into(),
        aws_product_code: PRODUCT.into(),
        aws_dimensions: vec!["AkuMinutes".into(), "DataInMiB".into()],
        alibaba: vec![AlibabaAccount::new(ALI_AK, ALI_SK)],
        alibaba_service_instance_id: SI.into(),
        alibaba_push_interval_s: 60,
        alibaba_max_records: 100,
    }
}

struct Emu {
    base: String,
    http: reqwest::Client,
}

async fn start(config: Config) -> Emu {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(marketplace_emulator::serve(listener, config));
    Emu {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The start of the current hour, minus `hours_ago` hours: inside the six-hour window.
fn hour(hours_ago: i64) -> i64 {
    (now_s() / 3600 - hours_ago) * 3600
}

/// A response: status, parsed body, `x-amzn-errortype`.
#[derive(Debug)]
struct Resp {
    status: u16,
    body: Value,
    error_type: Option<String>,
}

impl Resp {
    fn aws_error(&self) -> Option<&str> {
        self.body.get("__type").and_then(Value::as_str)
    }
    fn ali_code(&self) -> Option<&str> {
        self.body.get("Code").and_then(Value::as_str)
    }
    fn record_id(&self) -> &str {
        self.body["MeteringRecordId"]
            .as_str()
            .unwrap_or_else(|| panic!("no record id: {self:?}"))
    }
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let error_type = r
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        body,
        error_type,
    }
}

impl Emu {
    async fn control(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "control {path}: {}", r.status());
    }

    async fn billed(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/billed", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// How to sign a `MeterUsage` call with aws-sigv4.
struct Signing<'a> {
    akid: &'a str,
    secret: &'a str,
    service: &'a str,
    time: SystemTime,
    content_sha256_header: bool,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            akid: AK,
            secret: SK,
            service: "aws-marketplace",
            time: SystemTime::now(),
            content_sha256_header: false,
        }
    }
}

/// Signs `signed_body` as `MeterUsage` and sends `sent_body` (normally the same).
async fn meter_raw(emu: &Emu, s: Signing<'_>, signed_body: &[u8], sent_body: &[u8]) -> Resp {
    let url = format!("{}/", emu.base);
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AWSMPMeteringService.MeterUsage"),
    ];
    let identity = mm::config::Credentials::new(s.akid, s.secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if s.content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(s.service)
        .time(s.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(signed_body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = emu.http.post(&url).body(sent_body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    for (k, v) in instructions.headers() {
        req = req.header(k, v);
    }
    into_resp(req.send().await.unwrap()).await
}

async fn meter(emu: &Emu, body: Value) -> Resp {
    let b = body.to_string();
    meter_raw(emu, Signing::default(), b.as_bytes(), b.as_bytes()).await
}

fn usage(dimension: &str, timestamp: i64, quantity: i32, token: Option<&str>) -> Value {
    let mut v = json!({
        "ProductCode": PRODUCT,
        "Timestamp": timestamp,
        "UsageDimension": dimension,
        "UsageQuantity": quantity,
    });
    if let Some(t) = token {
        v["ClientToken"] = json!(t);
    }
    v
}

#[tokio::test]
async fn aws_signed_request_is_accepted_and_tampering_is_refused() {
    let emu = start(config()).await;
    let body = usage("AkuMinutes", hour(1), 7, Some("tok-1")).to_string();
    let ok = meter_raw(&emu, Signing::default(), body.as_bytes(), body.as_bytes()).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(!ok.record_id().is_empty());

    // Same signature, another body (quantity 70): the payload hash no longer matches.
    let tampered = body.replace("\"UsageQuantity\":7", "\"UsageQuantity\":70");
    assert_ne!(tampered, body);
    let r = meter_raw(
        &emu,
        Signing::default(),
        body.as_bytes(),
        tampered.as_bytes(),
    )
    .await;
    assert_eq!(
        (r.status, r.aws_error()),
        (400, Some("InvalidSignatureException")),
        "{r:?}"
    );
    assert_eq!(r.error_type.as_deref(), Some("InvalidSignatureException"));

    // With x-amz-content-sha256 signed, a changed body is caught by the header check.
    let s = Signing {
        content_sha256_header: true,
        ..Signing::default()
    };
    let r = meter_raw(&emu, s, body.as_bytes(), tampered.as_bytes()).await;
    assert_eq!(r.aws_error(), Some("InvalidSignatureException"), "{r:?}");
    // ...and an honest request with that header passes (a replay of the same token).
    let s = Signing {
        content_sha256_header: true,
        ..Signing::default()
    };
    let r = meter_raw(&emu, s, body.as_bytes(), body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.record_id(), ok.record_id());

    let wrong_secret = Signing {
        secret: "not-the-secret",
        ..Signing::default()
    };
    let r = meter_raw(&emu, wrong_secret, body.as_bytes(), body.as_bytes()).await;
    assert_eq!(r.aws_error(), Some("InvalidSignatureException"), "{r:?}");

    let unknown = Signing {
        akid: "AKIDUNKNOWN",
        ..Signing::default()
    };
    let r = meter_raw(&emu, unknown, body.as_bytes(), body.as_bytes()).await;
    assert_eq!(
        (r.status, r.aws_error()),
        (400, Some("UnrecognizedClientException")),
        "{r:?}"
    );

    let wrong_service = Signing {
        service: "execute-api",
        ..Signing::default()
    };
    let r = meter_raw(&emu, wrong_service, body.as_bytes(), body.as_bytes()).await;
    assert_eq!(r.aws_error(), Some("InvalidSignatureException"), "{r:?}");

    let stale = Signing {
        time: SystemTime::now() - Duration::from_secs(20 * 60),
        ..Signing::default()
    };
    let r = meter_raw(&emu, stale, body.as_bytes(), body.as_bytes()).await;
    assert_eq!(r.aws_error(), Some("InvalidSignatureException"), "{r:?}");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{r:?}"
    );

    // Unsigned: no Authorization at all.
    let r = into_resp(
        emu.http
            .post(format!("{}/", emu.base))
            .header("x-amz-target", "AWSMPMeteringService.MeterUsage")
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.aws_error(),
        Some("MissingAuthenticationTokenException"),
        "{r:?}"
    );

    let billed = emu.billed().await;
    assert_eq!(billed["aws"].as_array().unwrap().len(), 1, "{billed}");
    assert_eq!(billed["totals"]["aws"]["AkuMinutes"], 7);
    assert_eq!(billed["calls"]["accepted"], 1);
    assert_eq!(billed["calls"]["InvalidSignatureException"], 5);
    assert_eq!(billed["calls"]["UnrecognizedClientException"], 1);
}

#[tokio::test]
async fn aws_dry_run_and_permission() {
    let emu = start(config()).await;
    let mut body = usage("AkuMinutes", hour(0), 1, None);
    body["DryRun"] = json!(true);
    let r = meter(&emu, body.clone()).await;
    assert_eq!(
        (r.status, r.aws_error()),
        (400, Some("DryRunOperation")),
        "{r:?}"
    );

    let b = body.to_string();
    let noperm = Signing {
        akid: AK_NOPERM,
        secret: SK_NOPERM,
        ..Signing::default()
    };
    let r = meter_raw(&emu, noperm, b.as_bytes(), b.as_bytes()).await;
    assert_eq!(r.aws_error(), Some("UnauthorizedException"), "{r:?}");

    let billed = emu.billed().await;
    assert!(billed["aws"].as_array().unwrap().is_empty(), "{billed}");
    assert_eq!(billed["calls"]["DryRunOperation"], 1);

    // Business rules after DryRun.
    let mut bad = usage("NoSuchDimension", hour(0), 1, None);
    assert_eq!(
        meter(&emu, bad.clone()).await.aws_error(),
        Some("InvalidUsageDimensionException")
    );
    bad["ProductCode"] = json!("other");
    assert_eq!(
        meter(&emu, bad).await.aws_error(),
        Some("InvalidProductCodeException")
    );
    assert_eq!(
        meter(&emu, usage("AkuMinutes", hour(0), -1, None))
            .await
            .aws_error(),
        Some("ValidationException")
    );
}

#[tokio::test]
async fn aws_idempotency_and_duplicates() {
    let emu = start(config()).await;
    let ts = hour(2);
    let first = meter(&emu, usage("AkuMinutes", ts, 5, Some("token-a"))).await;
    assert_eq!(first.status, 200, "{first:?}");
    let again = meter(&emu, usage("AkuMinutes", ts, 5, Some("token-a"))).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.record_id(), first.record_id());

    let conflict = meter(&emu, usage("AkuMinutes", ts, 6, Some("token-a"))).await;
    assert_eq!(
        conflict.aws_error(),
        Some("IdempotencyConflictException"),
        "{conflict:?}"
    );

    // No token, same hour (another second of it), same quantity: the same record.
    let same_hour = meter(&emu, usage("AkuMinutes", ts + 59, 5, None)).await;
    assert_eq!(same_hour.record_id(), first.record_id());
    // A new token, same hour, another quantity: a duplicate.
    let dup = meter(&emu, usage("AkuMinutes", ts + 60, 9, Some("token-b"))).await;
    assert_eq!(
        dup.aws_error(),
        Some("DuplicateRequestException"),
        "{dup:?}"
    );
    // The next hour and another dimension are separate records.
    let next = meter(&emu, usage("AkuMinutes", ts + 3600, 9, Some("token-b"))).await;
    assert_eq!(next.status, 200, "{next:?}");
    assert_ne!(next.record_id(), first.record_id());
    let other_dim = meter(&emu, usage("DataInMiB", ts, 3, None)).await;
    assert_eq!(other_dim.status, 200, "{other_dim:?}");

    let billed = emu.billed().await;
    assert_eq!(billed["aws"].as_array().unwrap().len(), 3, "{billed}");
    assert_eq!(billed["totals"]["aws"]["AkuMinutes"], 14);
    assert_eq!(billed["totals"]["aws"]["DataInMiB"], 3);
    assert_eq!(billed["calls"]["accepted"], 3);
    assert_eq!(billed["calls"]["replayed"], 2);
    let tokens: Vec<&Value> = billed["aws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["client_token"])
        .collect();
    assert_eq!(tokens, [&json!("token-a"), &json!("token-b"), &Value::Null]);
}

#[tokio::test]
async fn aws_six_hour_window_follows_the_usage_clock() {
    let emu = start(config()).await;
    let t: i64 = hour(24 * 30); // a month ago: outside the window of the real clock
    emu.control("clock", json!({ "now": t })).await;
    let too_old = meter(&emu, usage("AkuMinutes", t - 6 * 3600 - 1, 1, None)).await;
    assert_eq!(
        too_old.aws_error(),
        Some("TimestampOutOfBoundsException"),
        "{too_old:?}"
    );
    let too_new = meter(&emu, usage("AkuMinutes", t + 3601, 1, None)).await;
    assert_eq!(
        too_new.aws_error(),
        Some("TimestampOutOfBoundsException"),
        "{too_new:?}"
    );
    let oldest = meter(&emu, usage("AkuMinutes", t - 6 * 3600 + 1, 1, None)).await;
    assert_eq!(oldest.status, 200, "{oldest:?}");
    // A fractional timestamp, as the SDK may send.
    let mut frac = usage("DataInMiB", t, 2, None);
    frac["Timestamp"] = json!(t as f64 + 0.25);
    let r = meter(&emu, frac).await;
    assert_eq!(r.status, 200, "{r:?}");

    emu.control("clock", json!({ "now": null })).await;
    let r = meter(&emu, usage("AkuMinutes", t, 1, None)).await;
    assert_eq!(
        r.aws_error(),
        Some("TimestampOutOfBoundsException"),
        "{r:?}"
    );
    assert_eq!(emu.billed().await["aws"].as_array().unwrap().len(), 2);
}

// ---- Alibaba -------------------------------------------------------------------------

/// Alibaba's `percentEncode`: unreserved characters kept, the rest `%XY`.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Signs `params` (Alibaba RPC signature 1.0) and returns them with `Signature`.
fn ali_sign(
    method: &str,
    mut params: BTreeMap<String, String>,
    secret: &str,
) -> BTreeMap<String, String> {
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sts = format!("{method}&{}&{}", pct("/"), pct(&canonical));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    params.insert("Signature".into(), sig);
    params
}

fn ali_params(action: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let nonce = uuid::Uuid::new_v4().to_string();
    let mut p: BTreeMap<String, String> = [
        ("Action", action),
        ("Version", "2021-06-01"),
        ("Format", "JSON"),
        ("AccessKeyId", ALI_AK),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce.as_str()),
        ("Timestamp", ts.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

fn form(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs signed parameters as a form body.
async fn ali_post(emu: &Emu, params: &BTreeMap<String, String>) -> Resp {
    into_resp(
        emu.http
            .post(format!("{}/alibaba/", emu.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(params))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// GETs signed parameters in the query string.
async fn ali_get(emu: &Emu, params: &BTreeMap<String, String>) -> Resp {
    into_resp(
        emu.http
            .get(format!("{}/alibaba/?{}", emu.base, form(params)))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn metering(records: usize, start: i64, period: u64) -> String {
    let recs: Vec<Value> = (0..records)
        .map(|i| {
            json!({
                "InstanceId": format!("inst-{i}"),
                "StartTime": start,
                "EndTime": start + 3600,
                "Entities": [
                    {"Key": "Period", "Value": period.to_string()},
                    {"Key": "NetworkIn", "Value": "8000"},
                ],
            })
        })
        .collect();
    Value::Array(recs).to_string()
}

async fn push(emu: &Emu, metering: &str) -> Resp {
    let p = ali_params(
        "PushMeteringData",
        &[("ServiceInstanceId", SI), ("Metering", metering)],
    );
    ali_post(emu, &ali_sign("POST", p, ALI_SK)).await
}

#[tokio::test]
async fn alibaba_push_is_verified_billed_and_interval_throttled() {
    let emu = start(config()).await;
    let start_t = hour(1);
    let r = push(&emu, &metering(2, start_t, 3600)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["RequestId"].is_string());

    let billed = emu.billed().await;
    let entries = billed["alibaba"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{billed}");
    assert_eq!(entries[0]["service_instance_id"], SI);
    assert_eq!(entries[0]["instance_id"], "inst-0");
    assert_eq!(entries[0]["start_time"], start_t);
    assert_eq!(billed["totals"]["alibaba"]["Period"], 7200);
    assert_eq!(billed["totals"]["alibaba"]["NetworkIn"], 16000);
    assert_eq!(billed["double_billed"], 0);

    // A second push within the interval is refused and bills nothing.
    let r = push(&emu, &metering(1, start_t + 3600, 10)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, Some("Throttling.User")),
        "{r:?}"
    );
    assert_eq!(emu.billed().await["alibaba"].as_array().unwrap().len(), 4);

    // GetServiceInstance (GET) is not subject to the push interval.
    let p = ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]);
    let r = ali_get(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(
        (r.status, r.body["Status"].as_str()),
        (200, Some("Deployed")),
        "{r:?}"
    );
    assert_eq!(r.body["ServiceInstanceId"], SI);

    let p = ali_params("GetServiceInstance", &[("ServiceInstanceId", "si-nope")]);
    let r = ali_get(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(
        r.ali_code(),
        Some("EntityNotExist.ServiceInstance"),
        "{r:?}"
    );

    // Signed as GET, sent as POST: another string to sign.
    let p = ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]);
    let r = ali_post(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(r.ali_code(), Some("SignatureDoesNotMatch"), "{r:?}");

    // A parameter changed after signing.
    let mut p = ali_sign(
        "GET",
        ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]),
        ALI_SK,
    );
    p.insert("ServiceInstanceId".into(), "si-other".into());
    assert_eq!(
        ali_get(&emu, &p).await.ali_code(),
        Some("SignatureDoesNotMatch")
    );

    // The same nonce twice.
    let p = ali_sign(
        "GET",
        ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]),
        ALI_SK,
    );
    assert_eq!(ali_get(&emu, &p).await.status, 200);
    assert_eq!(
        ali_get(&emu, &p).await.ali_code(),
        Some("SignatureNonceUsed")
    );

    // A timestamp 20 minutes old.
    let mut p = ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]);
    let old = time::OffsetDateTime::now_utc() - time::Duration::minutes(20);
    p.insert(
        "Timestamp".into(),
        old.format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap(),
    );
    let r = ali_get(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(r.ali_code(), Some("InvalidTimeStamp.Expired"), "{r:?}");

    let mut p = ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]);
    p.insert("AccessKeyId".into(), "LTAIunknown".into());
    let r = ali_get(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(r.ali_code(), Some("InvalidAccessKeyId.NotFound"), "{r:?}");

    let r = ali_get(
        &emu,
        &ali_sign("GET", ali_params("DeleteEverything", &[]), ALI_SK),
    )
    .await;
    assert_eq!(r.ali_code(), Some("InvalidAction.NotFound"), "{r:?}");

    let bad_key = json!([{"InstanceId": "i", "StartTime": start_t, "EndTime": start_t + 3600,
        "Entities": [{"Key": "Frequency", "Value": "1"}]}])
    .to_string();
    assert_eq!(
        push(&emu, &bad_key).await.ali_code(),
        Some("InvalidParameter.Metering")
    );
    let negative = json!([{"InstanceId": "i", "StartTime": start_t, "EndTime": start_t + 3600,
        "Entities": [{"Key": "Period", "Value": "-1"}]}])
    .to_string();
    assert_eq!(
        push(&emu, &negative).await.ali_code(),
        Some("InvalidParameter.Metering")
    );

    let billed = emu.billed().await;
    assert_eq!(billed["alibaba"].as_array().unwrap().len(), 4, "{billed}");
    assert_eq!(billed["calls_by_marketplace"]["alibaba"]["accepted"], 1);
    assert_eq!(billed["calls_by_marketplace"]["alibaba"]["checked"], 2);
}

#[tokio::test]
async fn alibaba_record_limit_and_double_billing() {
    let emu = start(Config {
        alibaba_push_interval_s: 0,
        ..config()
    })
    .await;
    let start_t = hour(1);
    let r = push(&emu, &metering(101, start_t, 3600)).await;
    assert_eq!(r.ali_code(), Some("InvalidParameter.Metering"), "{r:?}");
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("too many records"),
        "{r:?}"
    );
    assert!(emu.billed().await["alibaba"].as_array().unwrap().is_empty());

    let r = push(&emu, &metering(100, start_t, 3600)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(emu.billed().await["double_billed"], 0);

    // Alibaba has no idempotency key: the same push again bills again.
    let r = push(&emu, &metering(1, start_t, 3600)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let billed = emu.billed().await;
    assert_eq!(billed["alibaba"].as_array().unwrap().len(), 202);
    assert_eq!(
        billed["double_billed"], 2,
        "Period and NetworkIn of inst-0 again"
    );
    assert_eq!(billed["totals"]["alibaba"]["Period"], 101 * 3600);
}

#[tokio::test]
async fn entitlement_off_on_both_marketplaces() {
    let emu = start(config()).await;
    emu.control("entitlement", json!({ "entitled": false }))
        .await;
    let r = meter(&emu, usage("AkuMinutes", hour(0), 1, None)).await;
    assert_eq!(r.aws_error(), Some("CustomerNotEntitledException"), "{r:?}");
    let r = push(&emu, &metering(1, hour(1), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (403, Some("Forbidden.ServiceInstanceExpired")),
        "{r:?}"
    );
    let p = ali_params("GetServiceInstance", &[("ServiceInstanceId", SI)]);
    let r = ali_get(&emu, &ali_sign("GET", p, ALI_SK)).await;
    assert_eq!(r.body["Status"], "Expired", "{r:?}");
    assert!(emu.billed().await["aws"].as_array().unwrap().is_empty());

    emu.control("entitlement", json!({ "entitled": true }))
        .await;
    assert_eq!(
        meter(&emu, usage("AkuMinutes", hour(0), 1, None))
            .await
            .status,
        200
    );
    assert_eq!(push(&emu, &metering(1, hour(1), 60)).await.status, 200);
}

#[tokio::test]
async fn injected_faults() {
    let emu = start(config()).await;
    emu.control("faults", json!({ "throttle": 2, "server_errors": 1 }))
        .await;
    let body = usage("AkuMinutes", hour(0), 4, Some("retry-me"));
    for _ in 0..2 {
        let r = meter(&emu, body.clone()).await;
        assert_eq!(
            (r.status, r.aws_error()),
            (400, Some("ThrottlingException")),
            "{r:?}"
        );
    }
    let r = meter(&emu, body.clone()).await;
    assert_eq!(
        (r.status, r.aws_error()),
        (500, Some("InternalServiceErrorException")),
        "{r:?}"
    );
    assert_eq!(meter(&emu, body.clone()).await.status, 200);

    emu.control("faults", json!({ "throttle": 1 })).await;
    let r = push(&emu, &metering(1, hour(1), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, Some("Throttling.User")),
        "{r:?}"
    );
    emu.control("faults", json!({ "server_errors": 1 })).await;
    let r = push(&emu, &metering(1, hour(1), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (500, Some("InternalError")),
        "{r:?}"
    );

    emu.control("faults", json!({ "outage": true })).await;
    assert_eq!(meter(&emu, body.clone()).await.status, 503);
    assert_eq!(push(&emu, &metering(1, hour(1), 60)).await.status, 503);
    emu.control("faults", json!({ "outage": false })).await;

    // Billed, then answered late: a client that gives up never learns of the record.
    emu.control("faults", json!({ "delay_ms": 1500 })).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let b = usage("DataInMiB", hour(0), 11, Some("lost-answer")).to_string();
    let url = format!("{}/", emu.base);
    let identity = mm::config::Credentials::new(AK, SK, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("aws-marketplace")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("x-amz-target", "AWSMPMeteringService.MeterUsage")];
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(b.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = impatient
        .post(&url)
        .body(b.clone())
        .header(headers[0].0, headers[0].1);
    for (k, v) in instructions.headers() {
        req = req.header(k, v);
    }
    assert!(req.send().await.unwrap_err().is_timeout());
    let billed = emu.billed().await;
    assert_eq!(billed["totals"]["aws"]["DataInMiB"], 11, "{billed}");
    emu.control("faults", json!({ "delay_ms": 0 })).await;

    let billed = emu.billed().await;
    assert_eq!(billed["calls"]["ThrottlingException"], 2, "{billed}");
    assert_eq!(
        billed["calls_by_marketplace"]["aws"]["ThrottlingException"],
        2
    );
    assert_eq!(
        billed["calls_by_marketplace"]["alibaba"]["Throttling.User"],
        1
    );

    // Reset forgets records and faults.
    emu.control("reset", json!({})).await;
    let billed = emu.billed().await;
    assert!(billed["aws"].as_array().unwrap().is_empty());
    assert_eq!(billed["faults"]["delay_ms"], 0);
}

/// The AWS SDK for Rust itself against the emulator: what the console really sends.
#[tokio::test]
async fn aws_sdk_meter_usage() {
    let emu = start(config()).await;
    let conf = mm::Config::builder()
        .behavior_version(mm::config::BehaviorVersion::latest())
        .region(mm::config::Region::new("us-east-1"))
        .credentials_provider(mm::config::Credentials::new(AK, SK, None, None, "test"))
        .endpoint_url(&emu.base)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(mm::config::retry::RetryConfig::disabled())
        .build();
    let client = mm::Client::from_conf(conf);
    let ts = mm::primitives::DateTime::from_secs(hour(1));
    let call = |q: i32, token: &str, dry: bool| {
        client
            .meter_usage()
            .product_code(PRODUCT)
            .timestamp(ts)
            .usage_dimension("AkuMinutes")
            .usage_quantity(q)
            .dry_run(dry)
            .client_token(token)
            .send()
    };

    let dry = call(3, "sdk-dry", true).await.unwrap_err();
    assert_eq!(dry.code(), Some("DryRunOperation"), "{dry:?}");

    let out = call(3, "sdk-1", false).await.unwrap();
    let id = out.metering_record_id().unwrap().to_string();
    let again = call(3, "sdk-1", false).await.unwrap();
    assert_eq!(again.metering_record_id(), Some(id.as_str()));

    let conflict = call(4, "sdk-1", false)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(conflict.is_idempotency_conflict_exception(), "{conflict:?}");
    let dup = call(4, "sdk-2", false)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(dup.is_duplicate_request_exception(), "{dup:?}");

    emu.control("faults", json!({ "throttle": 1 })).await;
    let throttled = call(3, "sdk-3", false)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(throttled.is_throttling_exception(), "{throttled:?}");

    let billed = emu.billed().await;
    assert_eq!(billed["aws"].as_array().unwrap().len(), 1, "{billed}");
    assert_eq!(billed["aws"][0]["record_id"], id);
    assert_eq!(billed["aws"][0]["timestamp"], hour(1) as f64);
}

#[tokio::test]
async fn aws_refuses_usage_dated_before_the_software_started() {
    let emu = start(config()).await;
    let t: i64 = hour(3);
    emu.control("clock", json!({ "now": t + 3600 })).await;
    emu.control("software", json!({ "started": t + 1200 }))
        .await;
    let before = meter(&emu, usage("AkuMinutes", t, 1, None)).await;
    assert_eq!(
        before.aws_error(),
        Some("TimestampOutOfBoundsException"),
        "{before:?}"
    );
    let at_start = meter(&emu, usage("AkuMinutes", t + 1200, 1, None)).await;
    assert_eq!(at_start.status, 200, "{at_start:?}");
    emu.control("software", json!({ "started": null })).await;
    let unbounded = meter(&emu, usage("DataInMiB", t, 1, None)).await;
    assert_eq!(unbounded.status, 200, "{unbounded:?}");
    assert_eq!(emu.billed().await["aws"].as_array().unwrap().len(), 2);
}
