//! What an instance's Kafka endpoint offers on its detail page: how to connect, its topics
//! (list and create), and live traffic against its capacity. Reads need a viewer; creating a
//! topic needs an operator.

use super::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub partition: i32,
    /// The offset the next record gets (records written so far, when nothing was deleted).
    pub latest_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

/// Rates between two readings of the broker, per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficPoint {
    pub at: i64,
    pub messages_in_s: f64,
    pub bytes_in_s: f64,
    pub messages_out_s: f64,
    pub bytes_out_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveTraffic {
    /// One point per reading (every few seconds), oldest first, over the last minutes.
    pub points: Vec<TrafficPoint>,
    pub messages_in_total: u64,
    /// Key and value bytes written since the instance was created.
    pub bytes_in_total: u64,
    pub messages_out_total: u64,
    pub bytes_retained: u64,
    /// The instance's capacity from the AKU catalog (bytes per second).
    pub write_capacity_bytes_s: u64,
    pub read_capacity_bytes_s: u64,
    /// How each figure is obtained (counted or estimated).
    pub basis: String,
}

/// How a client connects: only settings that are in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectInfo {
    pub bootstrap: String,
    pub security_protocol: String,
    pub authentication: String,
    pub client_properties: String,
    pub producer_example: String,
    pub consumer_example: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaPanel {
    /// False with the simulated provisioner: nothing answers the bootstrap address.
    pub real: bool,
    /// Why the panel has nothing to show now (simulated, not running, ...).
    pub note: Option<String>,
    pub connect: Option<ConnectInfo>,
    pub topics: Vec<TopicInfo>,
    /// The broker could not be asked for its topics.
    pub topics_error: Option<String>,
    pub traffic: Option<LiveTraffic>,
    pub can_change: bool,
}

/// The client settings for a plaintext, unauthenticated endpoint (the only kind the local
/// broker serves; see `server::broker`), with examples on `topic` (the broker creates no topic
/// on first use, so the examples name one that exists when there is one).
pub fn plaintext_connect_info(bootstrap: &str, topic: &str) -> ConnectInfo {
    ConnectInfo {
        bootstrap: bootstrap.to_string(),
        security_protocol: "PLAINTEXT".into(),
        authentication: "none".into(),
        client_properties: format!(
            "bootstrap.servers={bootstrap}\nsecurity.protocol=PLAINTEXT\nacks=all\n"
        ),
        producer_example: format!(
            "# pip install confluent-kafka\n\
             # The topic must exist: this broker creates none on first use (see Topics).\n\
             from confluent_kafka import Producer\n\
             p = Producer({{\"bootstrap.servers\": \"{bootstrap}\", \"acks\": \"all\"}})\n\
             for i in range(10):\n    p.produce(\"{topic}\", value=f\"message {{i}}\".encode())\n\
             p.flush()\n"
        ),
        consumer_example: format!(
            "from confluent_kafka import Consumer\n\
             c = Consumer({{\"bootstrap.servers\": \"{bootstrap}\", \"group.id\": \"my-group\",\n\
             \x20              \"auto.offset.reset\": \"earliest\"}})\n\
             c.subscribe([\"{topic}\"])\n\
             while (m := c.poll(5.0)) is not None:\n    print(m.value())\n\
             c.close()\n"
        ),
    }
}

#[server(prefix = "/api", endpoint = "instance_kafka")]
pub async fn instance_kafka(id: i64) -> Result<KafkaPanel, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let user = auth::require(&state, Role::Viewer).await?;
        broker_panel::panel(&state, &user, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "topic_create")]
pub async fn create_topic(id: i64, topic: String, partitions: String) -> Result<(), AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let (_, actor) = auth::require_actor(&state, Role::Operator).await?;
        broker_panel::create_topic(&state, &actor, id, &topic, &partitions).await
    })
    .await
}
