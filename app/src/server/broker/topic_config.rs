//! Per-topic settings the broker honours, kept in its own storage: `retention.ms`. The broker
//! deletes records older than a topic's retention at each maintenance pass (every 10 minutes
//! by default); a topic without the setting keeps the broker's default, 7 days. The console's
//! Kafka client (rskafka) cannot send topic configurations, so the console writes the row the
//! broker's own AlterConfigs would write.

use super::{meter, secure::cluster_name};
use crate::server::provisioner::{ProvisionError, TopicRefusal};
use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

async fn open(dir: &Path, read_only: bool) -> Result<sqlx::SqliteConnection, ProvisionError> {
    SqliteConnectOptions::new()
        .filename(dir.join(meter::STORAGE_FILE))
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .context("cannot open the broker's storage")
}

/// Sets `retention.ms` of one topic; an error when the broker has no such topic.
pub async fn set_retention(
    dir: &Path,
    instance_id: i64,
    topic: &str,
    ms: i64,
) -> Result<(), ProvisionError> {
    let mut conn = open(dir, false).await?;
    let done = sqlx::query(
        "INSERT INTO topic_configuration (topic, name, value) \
         SELECT t.id, 'retention.ms', ? FROM topic t JOIN cluster c ON t.cluster = c.id \
         WHERE c.name = ? AND t.name = ? \
         ON CONFLICT (topic, name) DO UPDATE SET value = excluded.value, \
         last_updated = current_timestamp",
    )
    .bind(ms.to_string())
    .bind(cluster_name(instance_id))
    .bind(topic)
    .execute(&mut conn)
    .await
    .context("cannot set the topic's retention")?;
    if done.rows_affected() == 0 {
        return Err(TopicRefusal::Missing(topic.into()).into());
    }
    Ok(())
}

/// The topics that set `retention.ms`, with its value (a value that is not a number is left
/// out: the broker keeps such a topic's records, and the page shows the default rule).
pub async fn retentions(
    dir: &Path,
    instance_id: i64,
) -> Result<HashMap<String, i64>, ProvisionError> {
    let mut conn = open(dir, true).await?;
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT t.name, tc.value FROM topic_configuration tc JOIN topic t ON tc.topic = t.id \
         JOIN cluster c ON t.cluster = c.id WHERE c.name = ? AND tc.name = 'retention.ms'",
    )
    .bind(cluster_name(instance_id))
    .fetch_all(&mut conn)
    .await
    .context("cannot read the topics' settings")?;
    Ok(rows
        .into_iter()
        .filter_map(|(topic, value)| Some((topic, value?.trim().parse().ok()?)))
        .collect())
}
