//! The access rules' server functions (the Kafka panel's "Access rules"); types in
//! `crate::wire::acls`.

pub use crate::wire::acls::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator};
use leptos::prelude::*;

#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "kafka_acl_create")]
pub async fn create_kafka_acl(
    id: i64,
    username: String,
    resource_type: String,
    resource_name: Option<String>,
    pattern: Option<String>,
    operation: String,
    permission: Option<String>,
    host: Option<String>,
) -> Result<AclChange, AppError> {
    use crate::domain::kafka_acl::AclInput;
    use crate::server::{auth, error::respond, kafka_acls};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = AclInput {
            resource_type,
            resource_name: resource_name.unwrap_or_default(),
            pattern: pattern.unwrap_or_default(),
            operation,
            permission: permission.unwrap_or_default(),
            host: host.unwrap_or_default(),
        };
        kafka_acls::add(&state, &who, id, &username, &input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "kafka_acl_preset")]
pub async fn create_kafka_acl_preset(
    id: i64,
    username: String,
    preset: String,
    topic: String,
    topic_pattern: Option<String>,
    group: Option<String>,
    group_pattern: Option<String>,
) -> Result<AclChange, AppError> {
    use crate::domain::kafka_acl::PresetInput;
    use crate::server::{auth, error::respond, kafka_acls};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = PresetInput {
            preset,
            topic,
            topic_pattern: topic_pattern.unwrap_or_default(),
            group: group.unwrap_or_default(),
            group_pattern: group_pattern.unwrap_or_default(),
        };
        kafka_acls::add_preset(&state, &who, id, &username, &input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "kafka_acl_delete")]
pub async fn delete_kafka_acl(id: i64, acl_id: i64) -> Result<AclChange, AppError> {
    use crate::server::{auth, error::respond, kafka_acls};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        kafka_acls::remove(&state, &who, id, acl_id).await
    })
    .await
}
