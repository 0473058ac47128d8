//! Topics created and deleted. Both go to "the controller" of Metadata (in KRaft a broker that
//! forwards to the active controller); NOT_CONTROLLER is retried, every other per-topic error
//! is that topic's result.
//!
//! A retry after a lost connection may find its own earlier attempt done: creating then
//! answers TOPIC_ALREADY_EXISTS, deleting UNKNOWN_TOPIC_OR_PARTITION.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::cluster::topic_id_text;
use super::error::{check, code, AdminError, KafkaError};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// Number of partitions (-1: the brokers' `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: the brokers' `default.replication.factor`).
    pub replication_factor: i16,
    /// Topic configs, e.g. `("retention.ms", "86400000")`.
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with no config of its own.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// With one more topic config.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((name.into(), value.into()));
        self
    }
}

/// A topic Kafka created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// The topic id (Kafka's base64 form).
    pub topic_id: String,
    /// Partitions it got.
    pub partitions: i32,
    /// Its replication factor.
    pub replication_factor: i16,
}

/// Per-name results of a batch call.
pub type PerName<T> = BTreeMap<String, Result<T, KafkaError>>;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

/// The first NOT_CONTROLLER among per-item codes: the whole request is retried.
pub(crate) fn not_controller<'a>(
    items: impl IntoIterator<Item = (i16, Option<&'a StrBytes>)>,
) -> Result<(), KafkaError> {
    items
        .into_iter()
        .filter(|(c, _)| *c == code::NOT_CONTROLLER)
        .try_for_each(|(c, m)| check(c, m.map(|s| &**s)))
}

impl AdminClient {
    /// CreateTopics: one result per topic name. The call itself fails only if no node
    /// answered within the deadline.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> Result<PerName<CreatedTopic>, AdminError> {
        let timeout_ms = self.server_timeout_ms();
        let build = |_v: i16| {
            let creatable = topics.iter().map(|t| {
                let configs = t.configs.iter().map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.clone()))
                        .with_value(Some(StrBytes::from_string(v.clone())))
                });
                CreatableTopic::default()
                    .with_name(name(&t.name))
                    .with_num_partitions(t.partitions)
                    .with_replication_factor(t.replication_factor)
                    .with_configs(configs.collect())
            });
            CreateTopicsRequest::default()
                .with_topics(creatable.collect())
                .with_timeout_ms(timeout_ms)
        };
        let check_r = |r: &CreateTopicsResponse| {
            not_controller(
                r.topics
                    .iter()
                    .map(|t| (t.error_code, t.error_message.as_ref())),
            )
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.topics
            .iter()
            .map(|t| {
                let result =
                    check(t.error_code, t.error_message.as_deref()).map(|()| CreatedTopic {
                        topic_id: topic_id_text(t.topic_id.as_bytes()),
                        partitions: t.num_partitions,
                        replication_factor: t.replication_factor,
                    });
                (t.name.0.to_string(), result)
            })
            .collect())
    }

    /// One topic: its creation's error is the call's error.
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<CreatedTopic, AdminError> {
        let mut results = self.create_topics(std::slice::from_ref(topic)).await?;
        let result = results.remove(&topic.name).ok_or_else(|| {
            AdminError::Config(format!("CreateTopics did not answer for {}", topic.name))
        })?;
        Ok(result?)
    }

    /// DeleteTopics by name: one result per name (UNKNOWN_TOPIC_OR_PARTITION if none).
    pub async fn delete_topics(&self, names: &[&str]) -> Result<PerName<()>, AdminError> {
        let timeout_ms = self.server_timeout_ms();
        let build = |v: i16| {
            let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
            if v >= 6 {
                let state = |n: &&str| DeleteTopicState::default().with_name(Some(name(n)));
                request.with_topics(names.iter().map(state).collect())
            } else {
                request.with_topic_names(names.iter().map(|n| name(n)).collect())
            }
        };
        let check_r = |r: &DeleteTopicsResponse| {
            not_controller(
                r.responses
                    .iter()
                    .map(|t| (t.error_code, t.error_message.as_ref())),
            )
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.responses
            .iter()
            .map(|t| {
                let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                (name, check(t.error_code, t.error_message.as_deref()))
            })
            .collect())
    }

    /// One topic: its deletion's error is the call's error.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), AdminError> {
        let mut results = self.delete_topics(&[topic]).await?;
        let result = results.remove(topic).ok_or_else(|| {
            AdminError::Config(format!("DeleteTopics did not answer for {topic}"))
        })?;
        Ok(result?)
    }
}
