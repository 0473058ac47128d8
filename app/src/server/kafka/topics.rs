//! Topics of a Kafka cluster, through the console's Admin client: created with replication
//! factor 3, retention set on the topic, listed with their partitions' latest offsets.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::topic::Retention;
use crate::server::provisioner::{ProvisionError, TopicRefusal};
use crate::server::store::instances::InstanceRow;
use crate::wire::kafka::{PartitionInfo, TopicInfo};
use byoc_engine::admin::{code, AlterConfig, ConfigResource, ConfigSource, NewTopic};

impl KafkaProvisioner {
    pub(super) async fn topic_create(
        &self,
        instance: &InstanceRow,
        name: &str,
        partitions: u32,
        retention_ms: Option<i64>,
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let mut topic = NewTopic::new(name, partitions as i32, 3);
        if let Some(ms) = retention_ms {
            topic = topic.config("retention.ms", ms.to_string());
        }
        match admin.create_topic(&topic).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_code(code::TOPIC_ALREADY_EXISTS) => {
                Err(TopicRefusal::Exists(name.to_string()).into())
            }
            Err(e) => Err(kafka_error(e)),
        }
    }

    pub(super) async fn topic_retention(
        &self,
        instance: &InstanceRow,
        name: &str,
        retention_ms: i64,
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        admin
            .incremental_alter_configs(
                &ConfigResource::Topic(name.to_string()),
                &[AlterConfig::Set(
                    "retention.ms".into(),
                    retention_ms.to_string(),
                )],
            )
            .await
            .map_err(kafka_error)
    }

    pub(super) async fn topic_delete(
        &self,
        instance: &InstanceRow,
        name: &str,
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        match admin.delete_topic(name).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_code(code::UNKNOWN_TOPIC_OR_PARTITION) => {
                Err(TopicRefusal::Missing(name.to_string()).into())
            }
            Err(e) => Err(kafka_error(e)),
        }
    }

    /// Topics (internal ones left out), each with its partitions' latest offsets and its
    /// retention as set on the topic (Kafka's default when not set there).
    pub(super) async fn list_topics(
        &self,
        instance: &InstanceRow,
    ) -> Result<Vec<TopicInfo>, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let metadata = admin.metadata(None).await.map_err(kafka_error)?;
        let mut names: Vec<&str> = metadata
            .topics
            .iter()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| t.name.as_str())
            .collect();
        names.sort_unstable();
        let offsets = if names.is_empty() {
            Vec::new()
        } else {
            admin.list_offsets(&names).await.map_err(kafka_error)?
        };
        let mut topics = Vec::with_capacity(names.len());
        for name in names {
            let retention = admin
                .describe_config(&ConfigResource::Topic(name.to_string()), "retention.ms")
                .await
                .map_err(kafka_error)?
                .filter(|e| e.source == ConfigSource::DynamicTopic)
                .and_then(|e| e.value?.parse::<i64>().ok());
            let mut partitions: Vec<PartitionInfo> = offsets
                .iter()
                .filter(|o| o.topic == name)
                .map(|o| PartitionInfo {
                    partition: o.partition,
                    latest_offset: o.latest,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.push(TopicInfo {
                name: name.to_string(),
                partitions,
                retention: Retention::describe_ms(retention),
            });
        }
        Ok(topics)
    }
}
