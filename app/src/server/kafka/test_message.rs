//! A test message written by an operator from the console: one record to a chosen partition,
//! through the engine's Produce (acks=all), as the console's super user.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::test_message::TestMessage;
use crate::server::provisioner::{FieldRefusal, ProvisionError};
use crate::server::store::instances::InstanceRow;
use byoc_engine::admin::{code, AdminError, ProduceRecord};

impl KafkaProvisioner {
    /// Writes `message`; answers the offset Kafka gave it. A topic or partition that does not
    /// exist is refused next to its field.
    pub(super) async fn write_test_message(
        &self,
        instance: &InstanceRow,
        message: &TestMessage,
        now_ms: i64,
    ) -> Result<i64, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let record = ProduceRecord {
            key: message.key.clone().map(Into::into),
            value: Some(message.value.clone().into()),
            headers: message
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone().into())))
                .collect(),
            timestamp_ms: now_ms,
        };
        let topic = message.topic.as_str();
        // Asked first: Produce retries an unknown partition until its deadline (it may be a
        // topic being created), which a form should not wait for.
        let offsets = match admin.list_offsets(&[topic]).await {
            Ok(offsets) => offsets,
            Err(AdminError::Kafka(e)) if e.code == code::UNKNOWN_TOPIC_OR_PARTITION => {
                let message = format!("{} has no topic {topic}.", instance.name);
                return Err(FieldRefusal {
                    field: "topic",
                    message,
                }
                .into());
            }
            Err(e) => return Err(kafka_error(e)),
        };
        if !offsets.iter().any(|o| o.partition == message.partition) {
            let message = format!(
                "{topic} has partitions 0 to {}; there is no partition {}.",
                offsets.len().saturating_sub(1),
                message.partition
            );
            return Err(FieldRefusal {
                field: "partition",
                message,
            }
            .into());
        }
        admin
            .produce(topic, message.partition, &[record])
            .await
            .map_err(kafka_error)
    }
}
