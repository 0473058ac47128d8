//! AWS Marketplace `MeterUsage` through the official SDK. Credentials come from the standard
//! chain (environment, profile, web identity, ECS, the instance role); the HTTPS client is
//! rustls on ring; the SDK's own retries are off because the outbox retries with its back-off
//! and must see each answer.

use super::client::{Check, Endpoints, Outgoing, Reply, Target};
use crate::domain::marketplace::{credentials_refusal, mappings, Answer, Marketplace};
use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region};
use aws_sdk_marketplacemetering::config::http::HttpResponse;
use aws_sdk_marketplacemetering::config::ProvideCredentials;
use aws_sdk_marketplacemetering::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_marketplacemetering::operation::meter_usage::MeterUsageError;
use aws_sdk_marketplacemetering::primitives::DateTime;
use aws_sdk_marketplacemetering::Client;
use std::time::Duration;
use tokio::sync::OnceCell;

pub struct AwsMarketplace {
    endpoints: Endpoints,
    sdk: OnceCell<(aws_config::SdkConfig, Client)>,
}

impl AwsMarketplace {
    pub fn new(endpoints: &Endpoints) -> AwsMarketplace {
        AwsMarketplace {
            endpoints: endpoints.clone(),
            sdk: OnceCell::new(),
        }
    }

    /// Loaded once: the chain's credentials are cached and refreshed by the SDK.
    async fn sdk(&self) -> &(aws_config::SdkConfig, Client) {
        self.sdk
            .get_or_init(|| async {
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https();
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(http)
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(5))
                            .operation_timeout(Duration::from_secs(20))
                            .build(),
                    );
                if let Some(region) = &self.endpoints.aws_region {
                    loader = loader.region(Region::new(region.clone()));
                }
                if let Some(url) = &self.endpoints.aws {
                    loader = loader.endpoint_url(url.clone());
                }
                let mut config = loader.load().await;
                if config.region().is_none() {
                    config = config
                        .into_builder()
                        .region(Region::new("us-east-1"))
                        .build();
                }
                let client = Client::new(&config);
                (config, client)
            })
            .await
    }

    /// `MeterUsage` with `DryRun`: `DryRunOperation` proves the permission.
    pub async fn check(&self, target: &Target, now: i64) -> Check {
        let (config, client) = self.sdk().await;
        let account = match config.credentials_provider() {
            None => return Check::Failed("no AWS credentials provider is configured".into()),
            Some(provider) => match provider.provide_credentials().await {
                Ok(credentials) => {
                    let key = credentials.access_key_id();
                    if let Some(why) =
                        credentials_refusal(key, credentials.session_token().is_some())
                    {
                        return Check::Failed(why);
                    }
                    format!("AWS access key {key} (temporary, the host's role)")
                }
                Err(error) => {
                    return Check::Failed(format!(
                        "the host has no usable AWS credentials (environment, profile, instance role): {}",
                        DisplayErrorContext(&error)
                    ))
                }
            },
        };
        let Some(dimension) = mappings(Marketplace::Aws).first() else {
            return Check::Failed("no dimension to check with".into());
        };
        let answer = client
            .meter_usage()
            .product_code(&target.listing)
            .timestamp(DateTime::from_secs(now))
            .usage_dimension(dimension.key)
            .usage_quantity(0)
            .dry_run(true)
            .send()
            .await;
        match answer {
            // A dry run never succeeds: it answers DryRunOperation or why it would fail.
            Ok(_) => Check::Ok { account },
            Err(error) => match error.code() {
                Some("DryRunOperation") => Check::Ok { account },
                Some("CustomerNotEntitledException") => Check::NotEntitled(message(&error)),
                Some("UnauthorizedException") | Some("AccessDeniedException") => Check::Failed(
                    format!(
                        "the host's credentials may not call MeterUsage (UnauthorizedException): {}",
                        message(&error)
                    ),
                ),
                Some(code) => Check::Failed(format!("{code}: {}", message(&error))),
                None => Check::Failed(format!(
                    "AWS Marketplace could not be reached: {}",
                    DisplayErrorContext(&error)
                )),
            },
        }
    }

    /// One record: the report's timestamp (the hour's start, never before the software's
    /// start), the report's token as `ClientToken`.
    pub async fn meter(&self, target: &Target, report: &Outgoing) -> Reply {
        let Ok(quantity) = i32::try_from(report.quantity) else {
            return refused(format!(
                "{} is more than MeterUsage takes in one record",
                report.quantity
            ));
        };
        let (_, client) = self.sdk().await;
        let answer = client
            .meter_usage()
            .product_code(&target.listing)
            .timestamp(DateTime::from_secs(report.timestamp))
            .usage_dimension(&report.key)
            .usage_quantity(quantity)
            .dry_run(false)
            .client_token(&report.client_token)
            .send()
            .await;
        match answer {
            Ok(output) => Reply {
                answer: Answer::Accepted,
                receipt: output.metering_record_id().map(str::to_string),
            },
            Err(error) => Reply {
                answer: answer_of(&error),
                receipt: None,
            },
        }
    }
}

/// Whether the error says the connection could not be made, so nothing was sent: hyper's
/// connect error (`client error (Connect)`: refused, unreachable, DNS, TLS handshake), the
/// SDK's connect timeout, or an I/O error of a connection never established.
fn not_connected(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            ) {
                return true;
            }
        }
        let text = e.to_string();
        if text == "client error (Connect)" || text.starts_with("HTTP connect timeout") {
            return true;
        }
        cause = e.source();
    }
    false
}

fn refused(why: String) -> Reply {
    Reply {
        answer: Answer::Refused(why),
        receipt: None,
    }
}

fn message<E: ProvideErrorMetadata>(error: &E) -> String {
    error.message().unwrap_or("no message").to_string()
}

/// The SDK's error as the outbox sees it.
fn answer_of(error: &SdkError<MeterUsageError, HttpResponse>) -> Answer {
    let Some(code) = error.code() else {
        let why = format!("{}", DisplayErrorContext(error));
        return match error {
            // Never sent.
            SdkError::ConstructionFailure(_) => Answer::Retryable(why),
            // No connection was made (refused, unreachable, no name, connect timeout): nothing
            // reached AWS, so the report stays pending with its back-off, not uncertain.
            SdkError::DispatchFailure(_) if not_connected(error) => Answer::Retryable(why),
            // No answer came back: it may have been taken. Sent again under the same
            // ClientToken, which is harmless; past the window it is unknown, not late.
            _ => Answer::Unconfirmed(why),
        };
    };
    let why = format!("{code}: {}", message(error));
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    // Unavailable: not taken. Another server error may have been taken after all.
    if status == Some(503) {
        return Answer::Retryable(why);
    }
    if status.is_some_and(|s| s >= 500) && code != "ThrottlingException" {
        return Answer::Unconfirmed(why);
    }
    match code {
        "CustomerNotEntitledException" => Answer::NotEntitled,
        "ThrottlingException" | "ServiceUnavailableException" => Answer::Retryable(why),
        // AWS holds another quantity for this hour and dimension (a resend of this report is
        // answered with its first record instead): refused, for an admin to look at.
        "TimestampOutOfBoundsException" => Answer::OutOfWindow,
        // Bad credentials or a clock off by more than 15 minutes: the host's to fix; the
        // report waits rather than being lost.
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
            Answer::Retryable(why)
        }
        // The host's role may not call MeterUsage: tried again like the above, and it starts
        // the link grace (a host that lost its permission is not metered for free).
        "UnauthorizedException" | "AccessDeniedException" => Answer::PermissionDenied(why),
        _ => Answer::Refused(why),
    }
}
