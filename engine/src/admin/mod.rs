//! The console's Kafka Admin API client, over the nodes' internal listener.
//!
//! kafka-protocol gives every request and response type; the rest is here, small:
//!
//! - [`conn`]: one connection (TCP, TLS with the console's client certificate, the 4-byte
//!   length framing, correlation ids, ApiVersions first and then, for each request, the
//!   highest version both sides serve);
//! - [`client`]: a connection kept per node and re-dialled after an error, routing (any node,
//!   "the controller", one broker, a partition's leader) and retries within a deadline;
//! - one file per area of operations: [`cluster`] (Metadata, DescribeCluster,
//!   DescribeQuorum, partition health), [`topics`], [`configs`], [`scram`], [`offsets`]
//!   (DescribeLogDirs, ListOffsets), [`groups`] (ListGroups, DescribeGroups and
//!   ConsumerGroupDescribe, DeleteGroups), [`group_offsets`] (OffsetFetch, lag, offset resets
//!   by OffsetCommit); group requests go to each group's coordinator.
//!
//! Every call returns typed results; a failure Kafka answered carries Kafka's error code,
//! its name (`NOT_CONTROLLER`) and the broker's message ([`KafkaError`]).
//!
//! ```no_run
//! # async fn demo(identity: byoc_engine::admin::TlsIdentity) -> Result<(), byoc_engine::admin::AdminError> {
//! use byoc_engine::admin::{AdminClient, AdminConfig, NewTopic};
//! let admin = AdminClient::new(AdminConfig::new(["127.0.0.1:19190"], Some(identity)))?;
//! let metadata = admin.metadata(None).await?;
//! admin.create_topic(&NewTopic::new("orders", 6, 3).config("retention.ms", "86400000")).await?;
//! # Ok(()) }
//! ```

pub mod acls;
pub mod api;
pub mod client;
pub mod cluster;
pub mod configs;
pub mod conn;
pub mod error;
pub mod fetch;
pub mod group_offsets;
pub mod groups;
pub mod offsets;
pub mod scram;
pub mod tls;
pub mod topics;

pub use acls::AclBinding;
pub use api::AdminRequest;
pub use client::{AdminClient, AdminConfig, Route};
pub use cluster::{
    Broker, ClusterDescription, ClusterMetadata, PartitionHealth, PartitionMetadata, QuorumInfo,
    QuorumReplica, TopicMetadata,
};
pub use configs::{AlterConfig, ConfigEntry, ConfigResource, ConfigSource};
pub use conn::NodeVersions;
pub use error::{code, AdminError, KafkaError};
pub use group_offsets::{GroupLag, PartitionLag};
pub use groups::{GroupDescription, GroupMember, GroupProtocol, ListedGroup};
pub use offsets::{LogDir, PartitionOffsets, ReplicaSize};
pub use scram::{ScramCredentialInfo, ScramDeletion, ScramMechanism, ScramUpsert};
pub use tls::TlsIdentity;
pub use topics::{CreatedTopic, NewTopic, PerName};

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if every call's future is `Send`: the console awaits them in spawned tasks
    /// and request handlers.
    #[allow(dead_code)]
    fn futures_are_send(c: &AdminClient) {
        fn send<T: Send>(_: T) {}
        send(c.api_versions("a:1"));
        send(c.metadata(None));
        send(c.describe_cluster());
        send(c.describe_quorum());
        send(c.partition_health());
        send(c.create_topics(&[]));
        send(c.delete_topics(&[]));
        let topic = ConfigResource::Topic("t".into());
        send(c.describe_configs(&topic, None));
        send(c.incremental_alter_configs(&topic, &[]));
        send(c.alter_user_scram_credentials(&[], &[]));
        send(c.describe_user_scram_credentials(None));
        send(c.describe_log_dirs(0));
        send(c.describe_all_log_dirs());
        send(c.list_offsets(&[]));
        send(c.offsets_for_timestamp(&[], 0));
        send(c.list_groups());
        send(c.describe_group("g"));
        send(c.committed_offsets("g"));
        let spec = byoc_domain::offset_reset::ResetSpec {
            to: byoc_domain::offset_reset::ResetTo::Earliest,
            scope: byoc_domain::offset_reset::ResetScope::AllTopics,
        };
        send(c.reset_group_offsets("g", &spec, 0));
        send(c.delete_groups(&[]));
    }
}
