//! The console's Kafka client (rskafka): topics, partitions and their latest offsets, topic
//! creation and deletion. It connects like any client of the instance: TLS trusting the
//! console's authority, and SASL/SCRAM as the console's own user, where the instance
//! requires them. Every call has a deadline: a broker that does not answer is an error the
//! page shows, never a request that hangs.

use crate::wire::kafka::{PartitionInfo, TopicInfo};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::BackoffConfig;
use std::sync::Arc;
use std::time::Duration;

/// How the console connects to one instance.
pub struct Reach {
    pub bootstrap: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The console's SCRAM-SHA-512 user and password.
    pub login: Option<(String, String)>,
}

const DEADLINE: Duration = Duration::from_secs(5);

async fn connect(reach: &Reach) -> Result<Client, String> {
    let backoff = BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        base: 2.0,
        deadline: Some(DEADLINE),
    };
    let mut builder = ClientBuilder::new(vec![reach.bootstrap.clone()])
        .client_id("byoc-console")
        .backoff_config(backoff);
    if let Some(tls) = &reach.tls {
        builder = builder.tls_config(tls.clone());
    }
    if let Some((username, password)) = &reach.login {
        builder = builder.sasl_config(SaslConfig::ScramSha512(Credentials::new(
            username.clone(),
            password.clone(),
        )));
    }
    let at = &reach.bootstrap;
    match tokio::time::timeout(DEADLINE, builder.build()).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("the broker at {at} did not answer: {e}")),
        Err(_) => Err(format!("the broker at {at} did not answer in time")),
    }
}

async fn within<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {} s", DEADLINE.as_secs())),
    }
}

pub async fn topics(reach: &Reach) -> Result<Vec<TopicInfo>, String> {
    let client = connect(reach).await?;
    let mut topics = within("listing topics", client.list_topics()).await?;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(topics.len());
    for topic in topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let pc = within(
                "reaching a partition",
                client.partition_client(topic.name.clone(), partition, UnknownTopicHandling::Error),
            )
            .await?;
            let latest_offset =
                within("reading an offset", pc.get_offset(OffsetAt::Latest)).await?;
            partitions.push(PartitionInfo {
                partition,
                latest_offset,
            });
        }
        out.push(TopicInfo {
            name: topic.name,
            partitions,
            // Filled in by the provisioner from the broker's storage.
            retention: String::new(),
        });
    }
    Ok(out)
}

pub async fn create_topic(reach: &Reach, name: &str, partitions: u32) -> Result<(), String> {
    let client = connect(reach).await?;
    let controller = client.controller_client().map_err(|e| e.to_string())?;
    let partitions = i32::try_from(partitions).map_err(|_| "too many partitions".to_string())?;
    // One broker: one replica.
    match within(
        "creating the topic",
        controller.create_topic(name, partitions, 1, 5_000),
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.contains("TopicAlreadyExists") => {
            Err(format!("A topic named {name} exists already."))
        }
        Err(e) => Err(e),
    }
}

/// Deletes one topic (nisshi deletes that topic alone; tansu 0.6.0 deleted them all).
pub async fn delete_topic(reach: &Reach, name: &str) -> Result<(), String> {
    let client = connect(reach).await?;
    let controller = client.controller_client().map_err(|e| e.to_string())?;
    match within("deleting the topic", controller.delete_topic(name, 5_000)).await {
        Ok(()) => Ok(()),
        Err(e) if e.contains("UnknownTopicOrPartition") => {
            Err(format!("There is no topic named {name}."))
        }
        Err(e) => Err(e),
    }
}
