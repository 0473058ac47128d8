//! Which host the console reports from, recorded with each report it sends. AWS de-duplicates
//! per EC2 instance, ECS task or EKS pod, dimension and hour, so a report that may have been
//! billed from one host is not sent blindly from another (`domain::marketplace::before_resend`).
//!
//! Found once per process: the EC2 instance id from the instance metadata service (IMDSv2,
//! through aws-config's client; skipped when `AWS_EC2_METADATA_DISABLED=true`), else the ECS
//! task's ARN from the task metadata endpoint (`ECS_CONTAINER_METADATA_URI_V4`), else the host
//! name, else "unknown host".

use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct HostIdentity {
    name: Mutex<Option<String>>,
}

impl HostIdentity {
    /// This host's name as recorded with reports.
    pub async fn get(&self) -> String {
        if let Some(name) = self.lock().clone() {
            return name;
        }
        let found = discover().await;
        tracing::info!(host = %found, "marketplace reports are sent from this host");
        self.lock().get_or_insert(found).clone()
    }

    /// Names the host instead of finding it (a console restored on another host in a test, or
    /// the demo).
    pub fn set(&self, name: impl Into<String>) {
        *self.lock() = Some(name.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.name
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn discover() -> String {
    if let Some(id) = ec2_instance_id().await {
        return format!("EC2 instance {id}");
    }
    if let Some(arn) = ecs_task_arn().await {
        return format!("ECS task {arn}");
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
    {
        Some(name) => format!("host {name}"),
        None => "unknown host".to_string(),
    }
}

async fn ec2_instance_id() -> Option<String> {
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if disabled {
        return None;
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::provider_config::ProviderConfig::default().with_http_client(http);
    let client = aws_config::imds::Client::builder()
        .configure(&config)
        .max_attempts(1)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(1))
        .build();
    match client.get("/latest/meta-data/instance-id").await {
        Ok(id) => Some(String::from(id)).filter(|id| !id.trim().is_empty()),
        Err(error) => {
            tracing::debug!(%error, "no EC2 instance metadata");
            None
        }
    }
}

async fn ecs_task_arn() -> Option<String> {
    let base = std::env::var("ECS_CONTAINER_METADATA_URI_V4").ok()?;
    let task: serde_json::Value = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?
        .get(format!("{}/task", base.trim_end_matches('/')))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    task.get("TaskARN")?.as_str().map(str::to_string)
}
