//! CreateAcls, DescribeAcls, DeleteAcls: access rules on a cluster's resources. The codes are
//! Kafka's (`AclOperation`, `AclPermissionType`, `ResourceType`, `PatternType`).

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
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
    /// ResourceType, PatternType, AclOperation and AclPermissionType ANY (filters only).
    pub const ANY: i8 = 1;
    /// PatternType LITERAL.
    pub const PATTERN_LITERAL: i8 = 3;
    /// AclOperation ALTER.
    pub const OPERATION_ALTER: i8 = 7;
    /// AclPermissionType ALLOW.
    pub const PERMISSION_ALLOW: i8 = 3;
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

impl AdminClient {
    /// DescribeAcls: every rule of the cluster (any resource, principal, host, operation).
    pub async fn describe_acls(&self) -> Result<Vec<AclBinding>, AdminError> {
        let build = |_v: i16| {
            DescribeAclsRequest::default()
                .with_resource_type_filter(codes::ANY)
                .with_resource_name_filter(None)
                .with_pattern_type_filter(codes::ANY)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(codes::ANY)
                .with_permission_type(codes::ANY)
        };
        let check_r = |r: &DescribeAclsResponse| check(r.error_code, r.error_message.as_deref());
        let r = self.request(Route::Any, build, check_r).await?;
        Ok(r.resources
            .iter()
            .flat_map(|res| {
                res.acls.iter().map(move |a| AclBinding {
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.to_string(),
                    pattern_type: res.pattern_type,
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: a.operation,
                    permission: a.permission_type,
                })
            })
            .collect())
    }

    /// DeleteAcls: each binding exactly (every field a filter that matches itself alone). One
    /// result per binding, in order; a binding that is not there is not an error.
    pub async fn delete_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), KafkaError>>, AdminError> {
        let build = |_v: i16| {
            DeleteAclsRequest::default().with_filters(
                bindings
                    .iter()
                    .map(|b| {
                        DeleteAclsFilter::default()
                            .with_resource_type_filter(b.resource_type)
                            .with_resource_name_filter(Some(text(&b.resource_name)))
                            .with_pattern_type_filter(b.pattern_type)
                            .with_principal_filter(Some(text(&b.principal)))
                            .with_host_filter(Some(text(&b.host)))
                            .with_operation(b.operation)
                            .with_permission_type(b.permission)
                    })
                    .collect(),
            )
        };
        let check_r = |r: &DeleteAclsResponse| {
            not_controller(
                r.filter_results
                    .iter()
                    .map(|x| (x.error_code, x.error_message.as_ref())),
            )
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.filter_results
            .iter()
            .map(|x| check(x.error_code, x.error_message.as_deref()))
            .collect())
    }
}
