//! The emulator on a real port, called the way the console calls the marketplaces: AWS
//! requests signed by `aws-sigv4` (an implementation independent of the emulator's) and by
//! the AWS SDK itself, Alibaba requests by a small signer written here from the
//! documentation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_marketplacemetering as mm;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
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
        ..Config::default()
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

// ---- Alibaba (Compute Nest, from inside the service instance) ------------------------

const SERVICE_ID: &str = "service-test0001";
const SERVICE_KEY: &str = "service-key-test-0001";
const PUSH: &str = "/alibaba/computeNest/marketplace/push_metering_data";
const CHECK: &str = "/alibaba/computeNest/license/check_out_license";

fn md5(text: &str) -> String {
    marketplace_emulator::md5::md5_hex(text.as_bytes())
}

/// `Metering` with `records` hours from `start`, `Period` each, as decimal strings.
fn metering(records: usize, start: i64, period: u64) -> String {
    let recs: Vec<Value> = (0..records as i64)
        .map(|i| {
            json!({
                "StartTime": (start + i * 3600).to_string(),
                "EndTime": (start + i * 3600 + 3600).to_string(),
                "Entities": [{"Key": "Period", "Value": period.to_string()}],
            })
        })
        .collect();
    Value::Array(recs).to_string()
}

async fn post_json(emu: &Emu, path: &str, body: Value) -> Resp {
    into_resp(
        emu.http
            .post(format!("{}{path}", emu.base))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A push with the documented token: MD5 of "{Metering}&{ServiceKey}".
async fn push(emu: &Emu, metering: &str) -> Resp {
    let token = md5(&format!("{metering}&{SERVICE_KEY}"));
    post_json(emu, PUSH, json!({ "Metering": metering, "Token": token })).await
}

/// The answer's result is signed: MD5 of its other fields sorted, then "&key=…".
fn assert_signed(r: &Resp) {
    let result = r.body["result"].as_object().unwrap();
    let mut fields: Vec<(String, String)> = result
        .iter()
        .filter(|(k, _)| k.as_str() != "Token")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    fields.sort();
    let text = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        result["Token"].as_str().unwrap(),
        md5(&format!("{text}&key={SERVICE_KEY}")),
        "{r:?}"
    );
}

fn ali_config() -> Config {
    Config {
        alibaba_service_id: SERVICE_ID.into(),
        alibaba_service_key: SERVICE_KEY.into(),
        ..config()
    }
}

#[tokio::test]
async fn alibaba_push_is_verified_billed_and_interval_throttled() {
    let emu = start(ali_config()).await;
    // The region, from the metadata service.
    let region = emu
        .http
        .get(format!("{}/alibaba/latest/meta-data/region-id", emu.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(region, "cn-hangzhou");

    let start_t = hour(3);
    let r = push(&emu, &metering(2, start_t, 3600)).await;
    assert_eq!(
        (r.status, r.body["code"].as_u64()),
        (200, Some(200)),
        "{r:?}"
    );
    assert_eq!(r.body["result"]["Success"], true);
    assert_signed(&r);
    let billed = emu.billed().await;
    let entries = billed["alibaba"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{billed}");
    assert_eq!(entries[0]["service_instance_id"], SI);
    assert_eq!(entries[0]["start_time"], start_t);
    assert_eq!(billed["totals"]["alibaba"]["Period"], 7200);

    // A second push within the interval is refused and bills nothing.
    let r = push(&emu, &metering(1, start_t + 7200, 10)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, Some("Throttling.User")),
        "{r:?}"
    );

    // CheckOutLicense: signed, with the service instance; another service id refused.
    let r = post_json(&emu, CHECK, json!({ "ServiceId": SERVICE_ID })).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"]["ServiceInstanceId"], SI);
    assert_signed(&r);
    let r = post_json(&emu, CHECK, json!({ "ServiceId": "service-other" })).await;
    assert_eq!(r.ali_code(), Some("InvalidParameter"), "{r:?}");

    // Not a Compute Nest host; in arrears.
    emu.control("alibaba", json!({ "compute_nest_host": false }))
        .await;
    let r = post_json(&emu, CHECK, json!({})).await;
    assert_eq!(
        r.ali_code(),
        Some("EntityNotExist.ServiceInstance"),
        "{r:?}"
    );
    emu.control(
        "alibaba",
        json!({ "compute_nest_host": true, "arrears": true }),
    )
    .await;
    let r = post_json(&emu, CHECK, json!({})).await;
    assert_eq!(r.ali_code(), Some("InstanceArrears"), "{r:?}");
    emu.control("alibaba", json!({ "arrears": false })).await;
    let billed = emu.billed().await;
    assert_eq!(billed["alibaba"].as_array().unwrap().len(), 2, "{billed}");
}

/// Anything Compute Nest does not document for a service instance's host is refused: the
/// RPC API with access keys, another path, a missing or wrong token, values that are not
/// integers within 2^31 - 1, a service instance id as InstanceId, hours under 5 minutes.
#[tokio::test]
async fn alibaba_refuses_anything_undocumented() {
    let emu = start(Config {
        alibaba_push_interval_s: 0,
        ..ali_config()
    })
    .await;
    let start_t = hour(3);
    // The RPC API (Action, Version, AccessKeyId, Signature): not what a host calls.
    let r = into_resp(
        emu.http
            .post(format!("{}/alibaba/", emu.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("Action=PushMeteringData&Version=2021-06-01&AccessKeyId=LTAI")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.ali_code()),
        (404, Some("InvalidAction.NotFound")),
        "{r:?}"
    );
    let r = post_json(&emu, "/alibaba/computeNest/other", json!({})).await;
    assert_eq!(r.ali_code(), Some("InvalidAction.NotFound"), "{r:?}");
    let m = metering(1, start_t, 60);
    let r = post_json(&emu, PUSH, json!({ "Metering": m })).await;
    assert_eq!(r.ali_code(), Some("InvalidParameter"), "no token: {r:?}");
    let r = post_json(
        &emu,
        PUSH,
        json!({ "Metering": m, "Token": md5(&format!("{m}&wrong")) }),
    )
    .await;
    assert_eq!(
        (r.status, r.ali_code()),
        (403, Some("InvalidToken")),
        "{r:?}"
    );
    let entry = |value: Value| {
        json!([{"StartTime": start_t.to_string(), "EndTime": (start_t + 3600).to_string(),
            "Entities": [{"Key": "Period", "Value": value}]}])
        .to_string()
    };
    for value in [json!("-1"), json!("1.5"), json!("2147483648"), json!("")] {
        let r = push(&emu, &entry(value.clone())).await;
        assert_eq!(r.ali_code(), Some("InvalidParameter"), "{value}: {r:?}");
    }
    assert_eq!(push(&emu, &entry(json!("2147483647"))).await.status, 200);
    let storage =
        json!([{"StartTime": start_t.to_string(), "EndTime": (start_t + 3600).to_string(),
        "Entities": [{"Key": "Storage", "Value": "1"}]}])
        .to_string();
    assert_eq!(
        push(&emu, &storage).await.ali_code(),
        Some("InvalidParameter")
    );
    let si = json!([{"InstanceId": SI, "StartTime": start_t.to_string(),
        "EndTime": (start_t + 3600).to_string(), "Entities": [{"Key": "Period", "Value": "1"}]}])
    .to_string();
    assert_eq!(push(&emu, &si).await.ali_code(), Some("InvalidParameter"));
    let short = json!([{"StartTime": start_t.to_string(), "EndTime": (start_t + 300).to_string(),
        "Entities": [{"Key": "Period", "Value": "1"}]}])
    .to_string();
    assert_eq!(
        push(&emu, &short).await.ali_code(),
        Some("InvalidParameter")
    );
    let r = push(&emu, &metering(101, start_t, 1)).await;
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("too many records"),
        "{r:?}"
    );
    // Alibaba has no idempotency key: the same push again bills again.
    assert_eq!(push(&emu, &entry(json!("2147483647"))).await.status, 200);
    assert_eq!(emu.billed().await["double_billed"], 1);
}

#[tokio::test]
async fn entitlement_off_on_both_marketplaces() {
    let emu = start(ali_config()).await;
    emu.control("entitlement", json!({ "entitled": false }))
        .await;
    let r = meter(&emu, usage("AkuMinutes", hour(0), 1, None)).await;
    assert_eq!(r.aws_error(), Some("CustomerNotEntitledException"), "{r:?}");
    let r = push(&emu, &metering(1, hour(3), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (403, Some("LicenseExpired")),
        "{r:?}"
    );
    let r = post_json(&emu, CHECK, json!({})).await;
    assert_eq!(r.ali_code(), Some("LicenseExpired"), "{r:?}");
    assert!(emu.billed().await["aws"].as_array().unwrap().is_empty());

    emu.control("entitlement", json!({ "entitled": true }))
        .await;
    assert_eq!(
        meter(&emu, usage("AkuMinutes", hour(0), 1, None))
            .await
            .status,
        200
    );
    assert_eq!(push(&emu, &metering(1, hour(3), 60)).await.status, 200);
}

#[tokio::test]
async fn injected_faults() {
    let emu = start(Config {
        alibaba_push_interval_s: 0,
        ..ali_config()
    })
    .await;
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
    let r = push(&emu, &metering(1, hour(3), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, Some("Throttling.User")),
        "{r:?}"
    );
    emu.control("faults", json!({ "server_errors": 1 })).await;
    let r = push(&emu, &metering(1, hour(3), 60)).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (500, Some("InternalError")),
        "{r:?}"
    );

    emu.control("faults", json!({ "outage": true })).await;
    assert_eq!(meter(&emu, body.clone()).await.status, 503);
    assert_eq!(push(&emu, &metering(1, hour(3), 60)).await.status, 503);
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
