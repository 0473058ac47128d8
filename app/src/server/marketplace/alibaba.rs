//! Alibaba Cloud Compute Nest, from inside the service instance: a console that Compute Nest
//! deployed for a subscription (seed 001: one per subscription, on an ECS host Compute Nest
//! created) meters through the calls Compute Nest documents for software on that host, with
//! no access key: `PushMeteringData` carries `Token` = MD5 of `"{Metering}&{ServiceKey}"`,
//! `CheckOutLicense` proves the subscription, and every answer's `Token` is checked against
//! the service key (`domain::marketplace::alibaba`). The region comes from the ECS metadata
//! service. The service key is a deploy-time secret in `DATA_DIR/marketplace/alibaba-service-key`
//! (owner-only), never shown or logged. Request, answers and the documentation's addresses:
//! `docs/research/alibaba-compute-nest-metering.md`.

use super::client::{Check, Endpoints, Outgoing, Reply, Target};
use crate::domain::marketplace::alibaba::{answer_token, push_token, value_text};
use crate::domain::marketplace::Answer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The marketplace takes at most 100 records a push.
pub const MAX_HOURS_PER_PUSH: usize = 100;
/// The ECS metadata service.
const METADATA: &str = "http://100.100.100.200";
const CHECK_OUT_LICENSE: &str = "/computeNest/license/check_out_license";
/// Not confirmed by the documentation's text available here (see the research note): the
/// push's in-instance path, beside `check_out_license`'s.
const PUSH_METERING_DATA: &str = "/computeNest/marketplace/push_metering_data";

/// The service's key: the provider's secret that signs tokens. Its `Debug` hides it.
#[derive(Clone)]
pub struct ServiceKey(pub String);

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey(hidden)")
    }
}

pub struct AlibabaMarketplace {
    /// Set by tests and the demo: metadata and API both under this base.
    base: Option<String>,
    http: reqwest::Client,
    region: tokio::sync::OnceCell<String>,
}

/// What a call answered.
enum Outcome {
    /// The result, its token verified.
    Ok(serde_json::Map<String, Value>),
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Nothing left this host (no region, no key, no connection): nothing was billed.
    NotSent(String),
    /// It may have been taken, but no trustworthy answer came back (a timeout, a broken
    /// connection, an answer whose token does not verify).
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
            base: endpoints.alibaba.clone(),
            http,
            region: tokio::sync::OnceCell::new(),
        }
    }

    /// The host's region, from the ECS metadata service (read once).
    async fn region(&self) -> Result<String, String> {
        let url = format!(
            "{}/latest/meta-data/region-id",
            self.base
                .as_deref()
                .unwrap_or(METADATA)
                .trim_end_matches('/')
        );
        self.region
            .get_or_try_init(|| async {
                let answer = self.http.get(&url).send().await.map_err(|e| {
                    format!("the ECS metadata service did not answer ({e}): this host is not an Alibaba Cloud ECS instance")
                })?;
                let text = answer.text().await.map_err(|e| e.to_string())?;
                let region = text.trim().to_string();
                let valid = !region.is_empty()
                    && region.len() <= 32
                    && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if valid {
                    Ok(region)
                } else {
                    Err(format!("the ECS metadata service answered {region:?}, not a region id"))
                }
            })
            .await
            .cloned()
    }

    async fn call(&self, path: &str, body: Value, key: &ServiceKey) -> Outcome {
        let base = match &self.base {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => match self.region().await {
                Ok(region) => format!("https://{region}.axt.aliyun.com"),
                Err(why) => return Outcome::NotSent(why),
            },
        };
        let answer = self
            .http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) if error.is_connect() || error.is_builder() => {
                return Outcome::NotSent(error.to_string())
            }
            Err(error) => return Outcome::Unconfirmed(error.to_string()),
        };
        let status = answer.status().as_u16();
        let Ok(text) = answer.text().await else {
            return Outcome::Unconfirmed(format!("HTTP {status} with an unreadable body"));
        };
        let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = envelope.get("code").and_then(Value::as_u64);
        if status == 200 && code == Some(200) {
            let Some(result) = envelope.get("result").and_then(Value::as_object) else {
                return Outcome::Unconfirmed("an answer without its result".into());
            };
            return match verify(result, key) {
                Ok(()) => Outcome::Ok(result.clone()),
                Err(why) => Outcome::Unconfirmed(why),
            };
        }
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| envelope.get(*n).and_then(Value::as_str))
                .map(str::to_string)
        };
        Outcome::Error {
            status,
            code: field(&["Code", "errCode", "code"]).unwrap_or_else(|| format!("HTTP {status}")),
            message: field(&["Message", "message"]).unwrap_or_default(),
        }
    }

    /// `CheckOutLicense` for the listing's service: the subscription is in force, and this
    /// host belongs to the service instance the link names (when it names one).
    pub async fn check(&self, target: &Target, key: Option<&ServiceKey>) -> Check {
        let Some(key) = key else {
            return Check::Failed(missing_key());
        };
        let body = json!({ "ServiceId": target.listing });
        match self.call(CHECK_OUT_LICENSE, body, key).await {
            Outcome::Ok(result) => {
                let instance = result
                    .get("ServiceInstanceId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if instance.is_empty() {
                    return Check::Failed("CheckOutLicense answered no ServiceInstanceId".into());
                }
                if !target.subscription.is_empty() && target.subscription != instance {
                    return Check::Failed(format!(
                        "this host belongs to the service instance {instance}, not {}",
                        target.subscription
                    ));
                }
                Check::Ok {
                    account: format!("service instance {instance}"),
                }
            }
            Outcome::Error { code, message, .. } => match code.as_str() {
                "LicenseExpired" | "InstanceArrears" => {
                    Check::NotEntitled(format!("{code}: {message}"))
                }
                "EntityNotExist.ServiceInstance" => Check::Failed(format!(
                    "this host is not one Compute Nest created for a service instance ({code}: {message})"
                )),
                "InvalidParameter" | "EntityNotExist.Service" => Check::Failed(format!(
                    "the service id {} is not this service instance's ({code}: {message})",
                    target.listing
                )),
                _ => Check::Failed(format!("{code}: {message}")),
            },
            Outcome::NotSent(why) | Outcome::Unconfirmed(why) => {
                Check::Failed(format!("Compute Nest could not be reached: {why}"))
            }
        }
    }

    /// One push: an entry per hour (`EndTime` = `StartTime` + 3600, as the documentation's
    /// example), values as decimal strings within 2^31 - 1. Every report of the batch gets
    /// the push's answer (Compute Nest takes or refuses a push whole); a report whose value
    /// is out of range is refused on its own, never sent.
    pub async fn push(&self, batch: &[Outgoing], key: Option<&ServiceKey>) -> Vec<Reply> {
        let mut replies: Vec<Option<Reply>> = vec![None; batch.len()];
        let mut hours: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for (i, report) in batch.iter().enumerate() {
            let value = u64::try_from(report.quantity)
                .map_err(|_| format!("{}: a negative value", report.key))
                .and_then(|q| value_text(&report.key, q));
            match value {
                Ok(value) => hours
                    .entry(report.hour_start)
                    .or_default()
                    .push(json!({ "Key": report.key, "Value": value })),
                Err(why) => {
                    replies[i] = Some(Reply {
                        answer: Answer::Refused(why),
                        receipt: None,
                    })
                }
            }
        }
        let answer = if hours.is_empty() {
            None
        } else if let Some(key) = key {
            Some(self.push_hours(hours, key).await)
        } else {
            Some((Answer::Retryable(missing_key()), None))
        };
        replies
            .into_iter()
            .map(|reply| {
                reply.unwrap_or_else(|| {
                    let (answer, receipt) = answer
                        .clone()
                        .unwrap_or((Answer::Retryable("nothing pushed".into()), None));
                    Reply { answer, receipt }
                })
            })
            .collect()
    }

    async fn push_hours(
        &self,
        hours: BTreeMap<i64, Vec<Value>>,
        key: &ServiceKey,
    ) -> (Answer, Option<String>) {
        let metering: Vec<Value> = hours
            .into_iter()
            .map(|(start, entities)| {
                json!({
                    "StartTime": start.to_string(),
                    "EndTime": (start + 3600).to_string(),
                    "Entities": entities,
                })
            })
            .collect();
        let metering = Value::Array(metering).to_string();
        let body = json!({ "Metering": metering, "Token": push_token(&metering, &key.0) });
        match self.call(PUSH_METERING_DATA, body, key).await {
            Outcome::Ok(result) => (
                Answer::Accepted,
                result
                    .get("PushMeteringDataRequestId")
                    .or_else(|| result.get("RequestId"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            Outcome::Error {
                status,
                code,
                message,
            } => (answer_of_error(status, &code, &message), None),
            Outcome::NotSent(why) => (Answer::Retryable(why), None),
            Outcome::Unconfirmed(why) => (Answer::Unconfirmed(why), None),
        }
    }
}

fn missing_key() -> String {
    "the service key is missing: put the Compute Nest service's key in DATA_DIR/marketplace/alibaba-service-key (owner-only)".into()
}

/// The answer's `Token` against its other fields and the service key.
fn verify(result: &serde_json::Map<String, Value>, key: &ServiceKey) -> Result<(), String> {
    let Some(token) = result.get("Token").and_then(Value::as_str) else {
        return Err("the answer carries no Token: it cannot be verified".into());
    };
    let fields: BTreeMap<String, String> = result
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    if answer_token(&fields, &key.0) == token {
        Ok(())
    } else {
        Err("the answer's Token does not match its fields and the service key: not taken as Compute Nest's answer".into())
    }
}

/// An error answer as the outbox sees it.
fn answer_of_error(status: u16, code: &str, message: &str) -> Answer {
    let why = format!("{code}: {message}");
    match code {
        "LicenseExpired" | "InstanceArrears" => Answer::NotEntitled,
        // Not a Compute Nest host, or a key that is not the service's: this host may not
        // report (it starts the link grace); tried again later.
        "EntityNotExist.ServiceInstance" | "InvalidToken" => Answer::PermissionDenied(why),
        _ if code.starts_with("Throttling") || code == "ServiceUnavailable" || status == 503 => {
            Answer::Retryable(why)
        }
        _ if status >= 500 => Answer::Unconfirmed(why),
        _ => Answer::Refused(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_as_the_outbox_sees_them() {
        assert_eq!(
            answer_of_error(403, "LicenseExpired", ""),
            Answer::NotEntitled
        );
        assert_eq!(
            answer_of_error(403, "InstanceArrears", ""),
            Answer::NotEntitled
        );
        assert!(matches!(
            answer_of_error(403, "InvalidToken", ""),
            Answer::PermissionDenied(_)
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
            answer_of_error(400, "InvalidParameter", ""),
            Answer::Refused(_)
        ));
    }

    #[test]
    fn an_answer_is_taken_only_with_its_token() {
        let key = ServiceKey("sk".into());
        let mut result = serde_json::Map::new();
        result.insert("RequestId".into(), json!("R"));
        result.insert("Success".into(), json!(true));
        // As the documentation computes it: fields but Token, sorted, then &key=.
        let token =
            crate::domain::marketplace::alibaba::md5_hex(b"RequestId=R&Success=true&key=sk");
        result.insert("Token".into(), json!(token));
        assert_eq!(verify(&result, &key), Ok(()));
        result.insert("Success".into(), json!(false));
        assert!(verify(&result, &key).is_err(), "a changed field");
        result.remove("Token");
        assert!(verify(&result, &key).is_err(), "no token");
    }

    #[test]
    fn the_service_key_is_never_printed() {
        assert_eq!(
            format!("{:?}", ServiceKey("secret".into())),
            "ServiceKey(hidden)"
        );
    }
}
