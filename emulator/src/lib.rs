//! Emulators of the two marketplaces the console reports usage to, for tests and demos:
//! AWS Marketplace Metering (`MeterUsage`, JSON 1.1 protocol, SigV4 with signing name
//! `aws-marketplace`) at `POST /`, and Alibaba Cloud Compute Nest (`PushMeteringData`,
//! `GetServiceInstance`, RPC style with signature v1.0) at `/alibaba/`.
//!
//! They behave like the documented services rather than like stubs: signatures are
//! verified (with code of this crate, checked against the providers' published examples),
//! the documented errors are returned, and what was billed is kept so that a test can
//! assert that nothing was lost or billed twice. A control API under `/_emulator/` lets a
//! test switch entitlement off, inject faults and move the usage clock.
//!
//! All state is in memory behind one mutex; nothing is persisted.

mod alibaba;
pub mod alibaba_sig;
mod aws;
mod control;
pub mod md5;
pub mod sigv4;
mod state;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use state::Faults;

/// An AWS credential the emulator recognizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccount {
    pub access_key_id: String,
    pub secret: String,
    /// When set, requests must carry this `x-amz-security-token` (temporary credentials);
    /// when not, a request carrying one is refused, as AWS refuses a token it did not issue.
    pub session_token: Option<String>,
    /// Whether the identity may call `MeterUsage` (IAM permission); without it calls get
    /// `UnauthorizedException`.
    pub authorized: bool,
}

impl AwsAccount {
    /// A long-term key with the `MeterUsage` permission.
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        AwsAccount {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            session_token: None,
            authorized: true,
        }
    }
}

/// An Alibaba Cloud AccessKey the emulator recognizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlibabaAccount {
    pub access_key_id: String,
    pub secret: String,
    /// When set, requests must carry this `SecurityToken` (STS credentials); when not, a
    /// request carrying one is refused.
    pub security_token: Option<String>,
}

impl AlibabaAccount {
    /// A long-term AccessKey pair.
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        AlibabaAccount {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            security_token: None,
        }
    }
}

/// What exists on the emulated marketplaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Credentials AWS knows.
    pub aws: Vec<AwsAccount>,
    /// The region requests must be signed for (service name: `aws-marketplace`).
    pub aws_region: String,
    /// The one listing that exists.
    pub aws_product_code: String,
    /// That listing's dimensions.
    pub aws_dimensions: Vec<String>,
    /// AccessKeys Alibaba Cloud knows.
    pub alibaba: Vec<AlibabaAccount>,
    /// The one Compute Nest service instance that exists.
    pub alibaba_service_instance_id: String,
    /// Its service's id, and the service's key (the provider's secret that signs tokens).
    pub alibaba_service_id: String,
    pub alibaba_service_key: String,
    /// The ECS host's region (metadata service) and instance id (answers' `instanceId`).
    pub alibaba_region: String,
    pub alibaba_ecs_instance_id: String,
    /// The service's billable items reported by the provider.
    pub alibaba_keys: Vec<String>,
    /// At most one accepted push per service instance per this many seconds (0: no limit).
    pub alibaba_push_interval_s: u64,
    /// At most this many entries in one push's `Metering`.
    pub alibaba_max_records: usize,
}

impl Default for Config {
    /// Nothing known, documented limits.
    fn default() -> Self {
        Config {
            aws: Vec::new(),
            aws_region: "us-east-1".into(),
            aws_product_code: String::new(),
            aws_dimensions: Vec::new(),
            alibaba: Vec::new(),
            alibaba_service_instance_id: String::new(),
            alibaba_service_id: String::new(),
            alibaba_service_key: String::new(),
            alibaba_region: "cn-hangzhou".into(),
            alibaba_ecs_instance_id: "i-emulator0000000001".into(),
            alibaba_keys: vec!["Period".into()],
            alibaba_push_interval_s: 60,
            alibaba_max_records: 100,
        }
    }
}

/// The session token of the demo's AWS credentials: a console meters from the buyer's host
/// only with the host's role, whose credentials are temporary (a long-term key is refused at
/// the link), so the demo's credentials are role-style too.
pub const DEMO_AWS_SESSION_TOKEN: &str = "emulator-demo-session-token";

impl Config {
    /// A listing with the console's AWS dimensions, a service instance, one authorized and
    /// one unauthorized AWS key, and one Alibaba AccessKey. The secrets are public demo
    /// values.
    pub fn demo() -> Self {
        Config {
            aws: vec![
                AwsAccount {
                    session_token: Some(DEMO_AWS_SESSION_TOKEN.into()),
                    ..AwsAccount::new(
                        "AKIAEMULATORDEMO0001",
                        "emulator/demo/Secret/Key/0000000000000001",
                    )
                },
                AwsAccount {
                    authorized: false,
                    session_token: Some(DEMO_AWS_SESSION_TOKEN.into()),
                    ..AwsAccount::new(
                        "AKIAEMULATORNOPERM01",
                        "emulator/demo/Secret/Key/0000000000000002",
                    )
                },
            ],
            aws_region: "us-east-1".into(),
            aws_product_code: "demo0byoc0kafka0console01".into(),
            aws_dimensions: [
                "AkuMinutes",
                "DataInMiB",
                "DataOutMiB",
                "DataRetainedMiBHours",
                "UptimeMinutesDev",
                "UptimeMinutesPro",
                "UptimeMinutesEnterprise",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            alibaba: vec![AlibabaAccount::new(
                "LTAIemulatorDemo0001",
                "emulatorDemoSecret000000000001",
            )],
            alibaba_service_instance_id: "si-demo0byoc0kafka01".into(),
            alibaba_service_id: "service-demo0byoc0kafka".into(),
            alibaba_service_key: "emulator-demo-service-key-0001".into(),
            alibaba_push_interval_s: 60,
            alibaba_max_records: 100,
            ..Config::default()
        }
    }
}

/// The emulator as an axum router: `POST /` (AWS), `GET|POST /alibaba/` (Alibaba Cloud),
/// `/_emulator/…` (control, unauthenticated).
pub fn router(config: Config) -> Router {
    let shared = Arc::new(state::Shared::new(config));
    Router::new()
        .route("/", post(aws::handle))
        .route("/alibaba", get(alibaba::handle).post(alibaba::handle))
        .route("/alibaba/", get(alibaba::handle).post(alibaba::handle))
        .route(
            "/alibaba/{*path}",
            get(alibaba::handle).post(alibaba::handle),
        )
        .route("/_emulator/entitlement", post(control::entitlement))
        .route("/_emulator/permission", post(control::permission))
        .route("/_emulator/alibaba", post(control::alibaba_host))
        .route("/_emulator/faults", post(control::faults))
        .route("/_emulator/clock", post(control::clock))
        .route("/_emulator/software", post(control::software))
        .route("/_emulator/billed", get(control::billed))
        .route("/_emulator/reset", post(control::reset))
        .with_state(shared)
}

/// Serves the emulator on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, config: Config) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}
