//! CreateAcls: access rules on a cluster's resources. The codes are Kafka's (`AclOperation`,
//! `AclPermissionType`, `ResourceType`, `PatternType`).

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, AdminError, KafkaError};
use super::topics::not_controller;

/// The cluster resource's one name.
pub const CLUSTER_RESOURCE: &str = "kafka-cluster";

/// Kafka's codes used here.
pub mod codes {
    /// ResourceType CLUSTER.
    pub const RESOURCE_CLUSTER: i8 = 4;
    /// PatternType LITERAL.
    pub const PATTERN_LITERAL: i8 = 3;
    /// AclOperation ALTER.
    pub const OPERATION_ALTER: i8 = 7;
    /// AclPermissionType ALLOW.
    pub const PERMISSION_ALLOW: i8 = 3;
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    /// `User:name`.
    pub principal: String,
    /// `*` for any host.
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

impl AclBinding {
    /// `principal` may ALTER the cluster (SCRAM credentials, ACLs, broker configs).
    pub fn cluster_alter(principal: &str) -> AclBinding {
        AclBinding {
            resource_type: codes::RESOURCE_CLUSTER,
            resource_name: CLUSTER_RESOURCE.into(),
            pattern_type: codes::PATTERN_LITERAL,
            principal: principal.into(),
            host: "*".into(),
            operation: codes::OPERATION_ALTER,
            permission: codes::PERMISSION_ALLOW,
        }
    }
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

impl AdminClient {
    /// CreateAcls: one result per binding, in order. Creating a binding that exists is not an
    /// error (the authorizer keeps one).
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), KafkaError>>, AdminError> {
        let build = |_v: i16| {
            CreateAclsRequest::default().with_creations(
                bindings
                    .iter()
                    .map(|b| {
                        AclCreation::default()
                            .with_resource_type(b.resource_type)
                            .with_resource_name(text(&b.resource_name))
                            .with_resource_pattern_type(b.pattern_type)
                            .with_principal(text(&b.principal))
                            .with_host(text(&b.host))
                            .with_operation(b.operation)
                            .with_permission_type(b.permission)
                    })
                    .collect(),
            )
        };
        let check_r = |r: &CreateAclsResponse| {
            not_controller(
                r.results
                    .iter()
                    .map(|x| (x.error_code, x.error_message.as_ref())),
            )
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.results
            .iter()
            .map(|x| check(x.error_code, x.error_message.as_deref()))
            .collect())
    }
}
