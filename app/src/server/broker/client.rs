//! The console's Kafka client (rskafka): topics, partitions and their latest offsets, topic
//! creation and deletion. It connects like any client of the instance: TLS trusting the
//! console's authority, and SASL/SCRAM as the console's own user, where the instance
//! requires them. Every call has a deadline: a broker that does not answer is an error the
//! page shows, never a request that hangs.

use crate::server::provisioner::{ProvisionError, TopicRefusal};
use crate::wire::kafka::{PartitionInfo, TopicInfo};
use anyhow::{anyhow, Context};
use rskafka::client::error::{Error as KafkaError, ProtocolError};
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

async fn connect(reach: &Reach) -> Result<Client, ProvisionError> {
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
        Ok(result) => result.with_context(|| format!("the broker at {at} did not answer")),
        Err(_) => Err(anyhow!("the broker at {at} did not answer in time")),
    }
}

/// The call's own error (kept typed, for the callers that tell one Kafka error from
/// another), or none within the deadline.
enum Failed {
    Kafka(KafkaError),
    Late,
}

async fn within<T>(
    call: impl std::future::Future<Output = Result<T, KafkaError>>,
) -> Result<T, Failed> {
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(result) => result.map_err(Failed::Kafka),
        Err(_) => Err(Failed::Late),
    }
}

impl Failed {
    fn doing(self, what: &str) -> ProvisionError {
        match self {
            Failed::Kafka(e) => anyhow::Error::new(e).context(what.to_string()),
            Failed::Late => anyhow!("{what}: no answer within {} s", DEADLINE.as_secs()),
        }
    }

    /// The broker answered with this protocol error.
    fn is(&self, wanted: ProtocolError) -> bool {
        matches!(self, Failed::Kafka(KafkaError::ServerError { protocol_error, .. })
            if *protocol_error == wanted)
    }
}

pub async fn topics(reach: &Reach) -> Result<Vec<TopicInfo>, ProvisionError> {
    let client = connect(reach).await?;
    let mut topics = within(client.list_topics())
        .await
        .map_err(|e| e.doing("listing topics"))?;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(topics.len());
    for topic in topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let pc = within(client.partition_client(
                topic.name.clone(),
                partition,
                UnknownTopicHandling::Error,
            ))
            .await
            .map_err(|e| e.doing("reaching a partition"))?;
            let latest_offset = within(pc.get_offset(OffsetAt::Latest))
                .await
                .map_err(|e| e.doing("reading an offset"))?;
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

pub async fn create_topic(
    reach: &Reach,
    name: &str,
    partitions: u32,
) -> Result<(), ProvisionError> {
    let client = connect(reach).await?;
    let controller = client
        .controller_client()
        .context("finding the broker's controller")?;
    let partitions = i32::try_from(partitions).map_err(|_| anyhow!("too many partitions"))?;
    // One broker: one replica.
    match within(controller.create_topic(name, partitions, 1, 5_000)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is(ProtocolError::TopicAlreadyExists) => {
            Err(TopicRefusal::Exists(name.into()).into())
        }
        Err(e) => Err(e.doing("creating the topic")),
    }
}

/// Deletes one topic (nisshi deletes that topic alone; tansu 0.6.0 deleted them all).
pub async fn delete_topic(reach: &Reach, name: &str) -> Result<(), ProvisionError> {
    let client = connect(reach).await?;
    let controller = client
        .controller_client()
        .context("finding the broker's controller")?;
    match within(controller.delete_topic(name, 5_000)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is(ProtocolError::UnknownTopicOrPartition) => {
            Err(TopicRefusal::Missing(name.into()).into())
        }
        Err(e) => Err(e.doing("deleting the topic")),
    }
}
