//! A Kafka user's access rules as the page and the REST API show them.

use crate::domain::kafka_acl::AclRule;
use serde::{Deserialize, Serialize};

/// One rule of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KafkaAclView {
    pub id: i64,
    /// The principal is `User:<username>`.
    pub username: String,
    pub rule: AclRule,
    /// The rule in words ("allow read on topic orders from any host").
    pub description: String,
    /// A rule kept after its user was deleted, until then (Unix seconds).
    pub until: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// What a change of rules did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AclChange {
    /// The rules made (none when the user had them all already), or the one removed.
    pub rules: Vec<KafkaAclView>,
    /// Whether the cluster has them now, or why not yet (the control loop retries).
    pub applied: String,
}
