//! The API's path parameters, optional headers and shared responses, as the document states
//! them (the handlers' own extractors read them).

use super::rules::{GroupId, IdempotencyKeyValue, KafkaUserName, TopicName};
use crate::wire::instances::OperationDetail;

/// The path parameter of an instance.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct InstanceId {
    /// The instance's id.
    id: i64,
}

/// The path parameters of a topic.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TopicPath {
    /// The instance's id.
    id: i64,
    /// The topic's name.
    #[param(value_type = TopicName)]
    name: String,
}

/// The path parameters of a consumer group.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct GroupPath {
    /// The instance's id.
    id: i64,
    /// The group's id (URL-encoded).
    #[param(value_type = GroupId)]
    group: String,
}

/// The path parameters of an access rule.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AclPath {
    /// The instance's id.
    id: i64,
    /// The rule's id.
    acl_id: i64,
}

/// The path parameters of a Kafka user.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct KafkaUserPath {
    /// The instance's id.
    id: i64,
    /// The user's name.
    #[param(value_type = KafkaUserName)]
    username: String,
}

/// The path parameter of a service account.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AccountId {
    /// The service account's id.
    id: i64,
}

/// The optional header of a create.
#[derive(utoipa::IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey(
    /// A key of the request: a retry with the same key and body gets the first answer.
    #[param(value_type = Option<IdempotencyKeyValue>)]
    Option<String>,
);

/// A change that runs as an operation was accepted: poll the operation.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 202,
    description = "Accepted: the operation that carries the change out, to poll",
    headers(("Location" = String, description = "The operation's URL"))
)]
#[allow(dead_code)]
pub struct OperationAccepted(OperationDetail);
