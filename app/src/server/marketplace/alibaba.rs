//! Alibaba Cloud Compute Nest: `PushMeteringData` for the hourly reports and
//! `GetServiceInstance` for the link check. Alibaba Cloud publishes no Rust SDK, so these are
//! RPC calls signed here (signature version 1.0: HMAC-SHA1 over the sorted, percent-encoded
//! parameters) and sent with reqwest. Credentials come from Alibaba's standard chain: the
//! `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET` (and `_SECURITY_TOKEN`) environment, else the ECS
//! instance's RAM role named by `ALIBABA_CLOUD_ECS_METADATA`.

use super::client::{Check, Endpoints, Outgoing, Reply, Target};
use crate::domain::marketplace::Answer;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The marketplace takes at most 100 records a push.
pub const MAX_HOURS_PER_PUSH: usize = 100;
const DEFAULT_ENDPOINT: &str = "https://computenest.cn-hangzhou.aliyuncs.com";
const API_VERSION: &str = "2021-06-01";
const METADATA: &str = "http://100.100.100.200/latest/meta-data/ram/security-credentials/";

pub struct AlibabaMarketplace {
    endpoint: String,
    http: reqwest::Client,
}

struct Credentials {
    id: String,
    secret: String,
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RamRoleCredentials {
    access_key_id: String,
    access_key_secret: String,
    security_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// Unreserved characters of RFC 3986 stay; everything else is %XX (so a space is %20, never +).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

/// The v1.0 signature of an RPC request's parameters (all but `Signature`).
pub fn signature(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{method}&{}&{}", encode("/"), encode(&canonical));
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()) else {
        return String::new(); // HMAC takes a key of any length
    };
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What a call answered: the JSON body, or the marketplace's error code and message.
enum Outcome {
    Ok(serde_json::Value),
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// The request did not leave (no connection): nothing can have been billed.
    NotSent(String),
    /// The request may have been taken, but no answer came back (a timeout, a broken
    /// connection, an answer that could not be read).
    Unconfirmed(String),
}

impl AlibabaMarketplace {
    pub fn new(endpoints: &Endpoints) -> AlibabaMarketplace {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        AlibabaMarketplace {
            endpoint: endpoints
                .alibaba
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            http,
        }
    }

    /// The host's credentials; an error keeps the HTTP or JSON error under it.
    async fn credentials(&self) -> anyhow::Result<Credentials> {
        use anyhow::Context;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (
            var("ALIBABA_CLOUD_ACCESS_KEY_ID"),
            var("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ) {
            return Ok(Credentials {
                id,
                secret,
                token: var("ALIBABA_CLOUD_SECURITY_TOKEN"),
            });
        }
        let Some(role) = var("ALIBABA_CLOUD_ECS_METADATA") else {
            anyhow::bail!("the host has no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or ALIBABA_CLOUD_ECS_METADATA to the instance's RAM role");
        };
        let answer = self
            .http
            .get(format!("{METADATA}{role}"))
            .send()
            .await
            .with_context(|| {
                format!("the RAM role {role:?} could not be read from the instance metadata")
            })?;
        let role_credentials: RamRoleCredentials = answer
            .json()
            .await
            .with_context(|| format!("the RAM role {role:?} answered no credentials"))?;
        Ok(Credentials {
            id: role_credentials.access_key_id,
            secret: role_credentials.access_key_secret,
            token: Some(role_credentials.security_token),
        })
    }

    async fn call(&self, action: &str, mut params: BTreeMap<String, String>) -> Outcome {
        let credentials = match self.credentials().await {
            Ok(credentials) => credentials,
            Err(why) => {
                return Outcome::Error {
                    status: 0,
                    code: "NoCredentials".into(),
                    message: format!("{why:#}"),
                }
            }
        };
        let now = time::OffsetDateTime::now_utc();
        let timestamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        for (k, v) in [
            ("Action", action.to_string()),
            ("Version", API_VERSION.to_string()),
            ("Format", "JSON".to_string()),
            ("AccessKeyId", credentials.id.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureVersion", "1.0".to_string()),
            ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
            ("Timestamp", timestamp),
        ] {
            params.insert(k.to_string(), v);
        }
        if let Some(token) = credentials.token {
            params.insert("SecurityToken".into(), token);
        }
        let signed = signature("POST", &params, &credentials.secret);
        params.insert("Signature".into(), signed);
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let answer = self
            .http
            .post(format!("{}/", self.endpoint.trim_end_matches('/')))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) if error.is_connect() || error.is_builder() => {
                return Outcome::NotSent(error.to_string())
            }
            Err(error) => return Outcome::Unconfirmed(error.to_string()),
        };
        let status = answer.status();
        let text = match answer.text().await {
            Ok(text) => text,
            Err(error) if status.is_success() => {
                // Taken (2xx) but the body was lost: accepted, without a receipt.
                tracing::warn!(%error, "Alibaba Cloud answered 2xx with an unreadable body");
                String::from("{}")
            }
            Err(error) => return Outcome::Unconfirmed(error.to_string()),
        };
        if status.is_success() {
            return Outcome::Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
        }
        let error: ErrorBody = serde_json::from_str(&text).unwrap_or(ErrorBody {
            code: None,
            message: None,
        });
        Outcome::Error {
            status: status.as_u16(),
            code: error.code.unwrap_or_else(|| format!("HTTP {status}")),
            message: error.message.unwrap_or_default(),
        }
    }

    /// `GetServiceInstance`: the service instance exists and is deployed (not expired).
    pub async fn check(&self, target: &Target) -> Check {
        let params =
            BTreeMap::from([("ServiceInstanceId".to_string(), target.subscription.clone())]);
        match self.call("GetServiceInstance", params).await {
            Outcome::Ok(body) => {
                let status = body.get("Status").and_then(|s| s.as_str()).unwrap_or("");
                match status {
                    "Deployed" => Check::Ok {
                        account: format!("service instance {}", target.subscription),
                    },
                    "Expired" | "Released" => Check::NotEntitled(format!(
                        "the service instance {} is {status}",
                        target.subscription
                    )),
                    other => Check::Failed(format!(
                        "the service instance {} is {other:?}, not Deployed",
                        target.subscription
                    )),
                }
            }
            Outcome::Error { code, message, .. } if not_entitled(&code) => {
                Check::NotEntitled(format!("{code}: {message}"))
            }
            Outcome::Error { code, message, .. } => Check::Failed(format!("{code}: {message}")),
            Outcome::NotSent(why) | Outcome::Unconfirmed(why) => {
                Check::Failed(format!("Alibaba Cloud could not be reached: {why}"))
            }
        }
    }

    /// One push: an entry per hour with every key of that hour. Every report of the batch
    /// gets the push's answer (the marketplace takes or refuses a push whole).
    pub async fn push(&self, target: &Target, batch: &[Outgoing]) -> Vec<Reply> {
        let mut hours: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
        for report in batch {
            hours
                .entry(report.hour_start)
                .or_default()
                .push(serde_json::json!({
                    "Key": report.key,
                    "Value": report.quantity.to_string(),
                }));
        }
        let metering: Vec<serde_json::Value> = hours
            .into_iter()
            .map(|(start, entities)| {
                serde_json::json!({
                    "InstanceId": target.subscription,
                    "StartTime": start,
                    "EndTime": start + 3600,
                    "Entities": entities,
                })
            })
            .collect();
        let params = BTreeMap::from([
            ("ServiceInstanceId".to_string(), target.subscription.clone()),
            (
                "Metering".to_string(),
                serde_json::Value::Array(metering).to_string(),
            ),
        ]);
        let (answer, receipt) = match self.call("PushMeteringData", params).await {
            Outcome::Ok(body) => (
                Answer::Accepted,
                body.get("RequestId")
                    .and_then(|r| r.as_str())
                    .map(str::to_string),
            ),
            Outcome::Error { code, .. } if not_entitled(&code) => (Answer::NotEntitled, None),
            Outcome::Error {
                status,
                code,
                message,
            } => (answer_of_error(status, &code, &message), None),
            Outcome::NotSent(why) => (Answer::Retryable(why), None),
            Outcome::Unconfirmed(why) => (Answer::Unconfirmed(why), None),
        };
        batch
            .iter()
            .map(|_| Reply {
                answer: answer.clone(),
                receipt: receipt.clone(),
            })
            .collect()
    }
}

/// The codes that say the subscription (service instance) has ended; an expired credential
/// (`InvalidSecurityToken.Expired`) is not one of them.
fn not_entitled(code: &str) -> bool {
    code.starts_with("Forbidden.ServiceInstance")
}

/// An error answer as the outbox sees it. Throttling, unavailability and the host's own
/// credential or clock problems are tried again (nothing was taken); another server error may
/// have been taken after all (unconfirmed); the rest is refused.
fn answer_of_error(status: u16, code: &str, message: &str) -> Answer {
    let why = format!("{code}: {message}");
    let not_taken = [
        "Throttling",
        "ServiceUnavailable",
        "NoCredentials",
        "InvalidAccessKeyId",
        "InvalidSecurityToken",
        "SignatureDoesNotMatch",
        "SignatureNonceUsed",
        "InvalidTimeStamp",
    ];
    if not_taken.iter().any(|prefix| code.starts_with(prefix)) || status == 503 {
        Answer::Retryable(why)
    } else if status >= 500 || status == 0 {
        Answer::Unconfirmed(why)
    } else {
        Answer::Refused(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba Cloud's published example of a v1.0 signature (GET, DescribeRegions).
    #[test]
    fn the_documented_signature_example() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signature("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn an_expired_credential_is_not_an_ended_subscription() {
        assert!(not_entitled("Forbidden.ServiceInstanceExpired"));
        assert!(!not_entitled("InvalidSecurityToken.Expired"));
        assert!(matches!(
            answer_of_error(400, "InvalidSecurityToken.Expired", ""),
            Answer::Retryable(_)
        ));
        assert!(matches!(
            answer_of_error(400, "Throttling.User", ""),
            Answer::Retryable(_)
        ));
        assert!(matches!(
            answer_of_error(500, "InternalError", ""),
            Answer::Unconfirmed(_)
        ));
        assert!(matches!(
            answer_of_error(400, "InvalidParameter.Metering", ""),
            Answer::Refused(_)
        ));
    }
}
