//! The Kafka panel's server functions; its types are `crate::wire::kafka`.

pub use crate::wire::kafka::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "instance_kafka")]
pub async fn instance_kafka(id: i64) -> Result<KafkaPanel, AppError> {
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        broker_panel::panel(&state, &user, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "topic_create")]
pub async fn create_topic(
    id: i64,
    topic: String,
    partitions: String,
    retention_hours: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let retention = retention_hours.unwrap_or_default();
        broker_panel::create_topic(&state, &who, id, &topic, &partitions, &retention).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "topic_delete")]
pub async fn delete_topic(id: i64, topic: String, confirm: String) -> Result<(), AppError> {
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        broker_panel::delete_topic(&state, &who, id, &topic, &confirm).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "kafka_user_create")]
pub async fn create_kafka_user(
    id: i64,
    username: String,
    mechanism: String,
) -> Result<NewKafkaUser, AppError> {
    use crate::server::{auth, error::respond, kafka_users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        kafka_users::create(&state, &who, id, &username, &mechanism).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "kafka_user_rotate")]
pub async fn rotate_kafka_user(id: i64, username: String) -> Result<NewKafkaUser, AppError> {
    use crate::server::{auth, error::respond, kafka_users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        kafka_users::rotate(&state, &who, id, &username).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "kafka_user_delete")]
pub async fn delete_kafka_user(id: i64, username: String) -> Result<String, AppError> {
    use crate::server::{auth, error::respond, kafka_users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        kafka_users::delete(&state, &who, id, &username).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "topic_retention")]
pub async fn set_topic_retention(
    id: i64,
    topic: String,
    retention_hours: String,
) -> Result<(), AppError> {
    use crate::server::{auth, broker_panel, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        broker_panel::set_retention(&state, &who, id, &topic, &retention_hours).await
    })
    .await
}
