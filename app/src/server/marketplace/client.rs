//! What the reporter and the link check need of a marketplace, whichever it is.

use super::alibaba::{AlibabaMarketplace, ServiceKey};
use super::aws::AwsMarketplace;
use crate::domain::marketplace::{Answer, Marketplace};

/// Where each marketplace is reached. Both default to the real services; tests and the demo
/// point them at an emulator.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// `None`: the SDK's own (or `AWS_ENDPOINT_URL_MARKETPLACE_METERING`).
    pub aws: Option<String>,
    /// `None`: the region from the standard chain, else us-east-1.
    pub aws_region: Option<String>,
    /// `None`: Compute Nest in cn-hangzhou.
    pub alibaba: Option<String>,
}

/// What a link names at the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub marketplace: Marketplace,
    /// AWS product code / Compute Nest service id.
    pub listing: String,
    /// Alibaba: the service instance id (AWS: empty; the account is the credentials').
    pub subscription: String,
}

/// The answer to a link check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The host may report: the account (or service instance) it reports for.
    Ok { account: String },
    /// The marketplace says the customer is not subscribed.
    NotEntitled(String),
    /// The check failed: why, for the admin.
    Failed(String),
}

/// One report as sent: one hour of one marketplace dimension or key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub hour_start: i64,
    /// The record's timestamp (AWS): the hour's start, or the software's start when it
    /// started within the hour (`domain::marketplace::report_timestamp`).
    pub timestamp: i64,
    pub key: String,
    pub quantity: i64,
    pub client_token: String,
}

/// The marketplace's answer to one report, with its receipt when accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    pub receipt: Option<String>,
}

/// The two marketplaces, behind one face.
pub enum Client {
    Aws(Box<AwsMarketplace>),
    Alibaba(AlibabaMarketplace),
}

impl Client {
    pub fn new(marketplace: Marketplace, endpoints: &Endpoints) -> Client {
        match marketplace {
            Marketplace::Aws => Client::Aws(Box::new(AwsMarketplace::new(endpoints))),
            Marketplace::Alibaba => Client::Alibaba(AlibabaMarketplace::new(endpoints)),
        }
    }

    /// `key`: the Compute Nest service's key (Alibaba; AWS needs none).
    pub async fn check(&self, target: &Target, now: i64, key: Option<&ServiceKey>) -> Check {
        match self {
            Client::Aws(aws) => aws.check(target, now).await,
            Client::Alibaba(alibaba) => alibaba.check(target, key).await,
        }
    }

    /// Sends a batch and answers each report in order. AWS takes one record a call; Alibaba
    /// takes up to 100 hours a push, every key of an hour in one entry.
    pub async fn send(
        &self,
        target: &Target,
        batch: &[Outgoing],
        key: Option<&ServiceKey>,
    ) -> Vec<Reply> {
        match self {
            Client::Aws(aws) => {
                let mut replies = Vec::with_capacity(batch.len());
                for report in batch {
                    replies.push(aws.meter(target, report).await);
                }
                replies
            }
            Client::Alibaba(alibaba) => alibaba.push(batch, key).await,
        }
    }

    /// How many reports one `send` takes.
    pub fn batch_limit(&self) -> usize {
        match self {
            // One call per record; a pass sends a few before it records their answers.
            Client::Aws(_) => 1,
            Client::Alibaba(_) => super::alibaba::MAX_HOURS_PER_PUSH * 4,
        }
    }
}

/// The Compute Nest service's key, from `DATA_DIR/marketplace/alibaba-service-key` (the data
/// directory is the database's): `None`, with a warning that never shows the key, when it is
/// missing, empty or readable by others than the owner.
pub async fn service_key(pool: &sqlx::SqlitePool) -> Option<ServiceKey> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
    let dir = std::path::Path::new(&file?).parent()?.to_path_buf();
    let path = dir.join("marketplace").join("alibaba-service-key");
    let meta = tokio::fs::metadata(&path).await.ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the Compute Nest service key is readable by others than its owner: not used (chmod 600 it)");
            return None;
        }
    }
    let text = tokio::fs::read_to_string(&path).await.ok()?;
    let key = text.trim();
    (!key.is_empty()).then(|| ServiceKey(key.to_string()))
}
