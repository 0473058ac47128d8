//! Which request types the client sends, with their API key and response type.
//!
//! kafka-protocol ties a request to its response (`protocol::Request`) only when built with both
//! its `client` and `broker` features; we build it with `client` alone (requests encode,
//! responses decode), so the pairing is ours, one line per API.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, VersionRange};

/// A request the [`AdminClient`](super::AdminClient) can send: encodable, with the API key
/// that goes in its header and the response type it decodes.
pub trait AdminRequest: Message + Encodable + HeaderVersion + Send {
    /// The API key of the request.
    const KEY: ApiKey;
    /// The API's name in errors and logs.
    const NAME: &'static str;
    /// The response the node answers with.
    type Response: Message + Decodable + HeaderVersion + Send;
}

macro_rules! admin_requests {
    ($($key:ident: $req:ident => $resp:ident,)*) => {$(
        impl AdminRequest for $req {
            const KEY: ApiKey = ApiKey::$key;
            const NAME: &'static str = stringify!($key);
            type Response = $resp;
        }
    )*};
}

admin_requests! {
    ApiVersions: ApiVersionsRequest => ApiVersionsResponse,
    Metadata: MetadataRequest => MetadataResponse,
    DescribeCluster: DescribeClusterRequest => DescribeClusterResponse,
    DescribeQuorum: DescribeQuorumRequest => DescribeQuorumResponse,
    CreateTopics: CreateTopicsRequest => CreateTopicsResponse,
    DeleteTopics: DeleteTopicsRequest => DeleteTopicsResponse,
    CreatePartitions: CreatePartitionsRequest => CreatePartitionsResponse,
    DescribeConfigs: DescribeConfigsRequest => DescribeConfigsResponse,
    IncrementalAlterConfigs: IncrementalAlterConfigsRequest => IncrementalAlterConfigsResponse,
    AlterUserScramCredentials: AlterUserScramCredentialsRequest => AlterUserScramCredentialsResponse,
    DescribeUserScramCredentials: DescribeUserScramCredentialsRequest => DescribeUserScramCredentialsResponse,
    DescribeLogDirs: DescribeLogDirsRequest => DescribeLogDirsResponse,
    ListOffsets: ListOffsetsRequest => ListOffsetsResponse,
    CreateAcls: CreateAclsRequest => CreateAclsResponse,
    DescribeAcls: DescribeAclsRequest => DescribeAclsResponse,
    DeleteAcls: DeleteAclsRequest => DeleteAclsResponse,
    AlterClientQuotas: AlterClientQuotasRequest => AlterClientQuotasResponse,
    DescribeClientQuotas: DescribeClientQuotasRequest => DescribeClientQuotasResponse,
    AlterPartitionReassignments: AlterPartitionReassignmentsRequest => AlterPartitionReassignmentsResponse,
    ListPartitionReassignments: ListPartitionReassignmentsRequest => ListPartitionReassignmentsResponse,
    ElectLeaders: ElectLeadersRequest => ElectLeadersResponse,
    ListGroups: ListGroupsRequest => ListGroupsResponse,
    OffsetFetch: OffsetFetchRequest => OffsetFetchResponse,
    Fetch: FetchRequest => FetchResponse,
    FindCoordinator: FindCoordinatorRequest => FindCoordinatorResponse,
    DescribeGroups: DescribeGroupsRequest => DescribeGroupsResponse,
    ConsumerGroupDescribe: ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse,
    OffsetCommit: OffsetCommitRequest => OffsetCommitResponse,
    DeleteGroups: DeleteGroupsRequest => DeleteGroupsResponse,
}

/// The version to send: the highest both sides support, `None` if the ranges do not meet.
pub(crate) fn negotiate(ours: VersionRange, theirs: Option<(i16, i16)>) -> Option<i16> {
    let (min, max) = theirs?;
    let v = ours.max.min(max);
    (v >= ours.min.max(min)).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_version_both_support() {
        let ours = VersionRange { min: 0, max: 13 };
        assert_eq!(negotiate(ours, Some((1, 12))), Some(12));
        assert_eq!(negotiate(ours, Some((4, 20))), Some(13));
        assert_eq!(
            negotiate(VersionRange { min: 0, max: 3 }, Some((4, 20))),
            None
        );
        assert_eq!(negotiate(ours, None), None);
    }
}
