//! Consumer groups: listed (ListGroups, asked of every broker: each coordinates its own
//! groups), described (ConsumerGroupDescribe for groups of the consumer protocol, KIP-848, and
//! DescribeGroups for classic ones, as Java's `Admin` falls back), deleted (DeleteGroups).
//! Their offsets, lag and resets: [`super::group_offsets`]. All but the listing go to the
//! group's coordinator ([`AdminClient::request_coordinator`]).

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::consumer_protocol_assignment::ConsumerProtocolAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Message, StrBytes};

use super::client::{AdminClient, Route};
use super::error::{check, code, AdminError, KafkaError};
use super::topics::PerName;

/// A group as ListGroups lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// The group id.
    pub group_id: String,
    /// `classic`, `consumer` (KIP-848), `share`, `streams`; `None` before ListGroups v5.
    pub group_type: Option<String>,
    /// `consumer` for consumers' groups, `connect` for Connect's, empty for a group that only
    /// commits offsets.
    pub protocol_type: String,
    /// `Stable`, `Empty`, `PreparingRebalance`...; `None` before ListGroups v4.
    pub state: Option<String>,
    /// The broker that listed it: its coordinator.
    pub coordinator: i32,
}

/// Which protocol a group's members speak, and so which API described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup, the group leader assigns (DescribeGroups).
    Classic,
    /// KIP-848's `group.protocol=consumer`, the coordinator assigns (ConsumerGroupDescribe).
    Consumer,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// Classic or consumer protocol.
    pub protocol: GroupProtocol,
    /// Its state as Kafka names it (`Stable`, `Empty`, `Reconciling`...).
    pub state: String,
    /// Classic groups' protocol type (`consumer`...); `consumer` for consumer-protocol groups.
    pub protocol_type: String,
    /// The assignor: a classic group's chosen protocol (`range`, `cooperative-sticky`), a
    /// consumer group's server assignor (`uniform`, `range`).
    pub assignor: String,
    /// A consumer-protocol group's epoch.
    pub epoch: Option<i32>,
    /// The coordinator's node id.
    pub coordinator: Option<i32>,
    /// Its members.
    pub members: Vec<GroupMember>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Kafka's member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// The consumer's `client.id`.
    pub client_id: String,
    /// The address it connects from, as the broker saw it (`/127.0.0.1`).
    pub host: String,
    /// Assigned partitions by topic; `None` when the assignment is not the consumer protocol's
    /// (a Connect group) or does not decode.
    pub assignment: Option<BTreeMap<String, Vec<i32>>>,
}

pub(crate) fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_owned()))
}

/// The coordinator moved, is loading, or is not there yet: the request is retried.
pub(crate) fn coordinator_error(code: i16, message: Option<&StrBytes>) -> Result<(), KafkaError> {
    match code {
        code::NOT_COORDINATOR | code::COORDINATOR_NOT_AVAILABLE => {
            check(code, message.map(|m| &**m))
        }
        code::COORDINATOR_LOAD_IN_PROGRESS => check(code, message.map(|m| &**m)),
        _ => Ok(()),
    }
}

/// A Kafka error of a group call, naming what it is about.
pub(crate) fn about(e: KafkaError, what: impl std::fmt::Display) -> AdminError {
    let message = Some(match &e.message {
        Some(m) if !m.is_empty() => format!("{what}: {m}"),
        _ => what.to_string(),
    });
    AdminError::Kafka(KafkaError { message, ..e })
}

/// FindCoordinator of a group, as the node's version spells it (v4+: a batch of keys).
pub(crate) fn find_coordinator_request(group: &str) -> impl Fn(i16) -> FindCoordinatorRequest + '_ {
    move |v| {
        let key = StrBytes::from_string(group.to_owned());
        let request = FindCoordinatorRequest::default(); // key type 0: a group
        match v >= 4 {
            true => request.with_coordinator_keys(vec![key]),
            false => request.with_key(key),
        }
    }
}

/// The coordinator FindCoordinator named: node id and `host:port`.
pub(crate) fn coordinator_of(r: &FindCoordinatorResponse) -> Result<(i32, String), KafkaError> {
    let (id, host, port, error, message) = match r.coordinators.first() {
        Some(c) => (c.node_id.0, &c.host, c.port, c.error_code, &c.error_message),
        None => (r.node_id.0, &r.host, r.port, r.error_code, &r.error_message),
    };
    check(error, message.as_deref())?;
    if id < 0 || !(1..=65535).contains(&port) {
        let none = Some("FindCoordinator named no node");
        return Err(KafkaError::from_code(code::COORDINATOR_NOT_AVAILABLE, none).expect("a code"));
    }
    let host: &str = host;
    Ok(match host.contains(':') {
        true => (id, format!("[{host}]:{port}")),
        false => (id, format!("{host}:{port}")),
    })
}

/// A classic member's assignment bytes (ConsumerProtocol: a version, then the assignment at
/// that version; later versions decode as the highest known, as Kafka's own client does).
/// The group's leader, a client, wrote them: every count is checked against the bytes left
/// before kafka-protocol's decoder allocates for it. Empty bytes: nothing assigned yet.
pub fn decode_assignment(bytes: &Bytes) -> Option<BTreeMap<String, Vec<i32>>> {
    if bytes.is_empty() {
        return Some(BTreeMap::new());
    }
    let mut body = bytes.clone();
    let version = body.try_get_i16().ok()?;
    if version < 0 || !counts_fit(&body) {
        return None;
    }
    let version = version.min(ConsumerProtocolAssignment::VERSIONS.max);
    let assignment = ConsumerProtocolAssignment::decode(&mut body, version).ok()?;
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for t in assignment.assigned_partitions {
        out.entry(t.topic.0.to_string())
            .or_default()
            .extend(t.partitions);
    }
    out.values_mut().for_each(|p| p.sort_unstable());
    Some(out)
}

/// Whether every array count in an assignment's body fits in the bytes that follow it.
fn counts_fit(mut b: &[u8]) -> bool {
    let count = |b: &mut &[u8], size: usize| -> Option<usize> {
        let n = usize::try_from(b.try_get_i32().ok()?).ok()?;
        (n.checked_mul(size)? <= b.remaining()).then_some(n)
    };
    let Some(topics) = count(&mut b, 6) else {
        return false;
    };
    for _ in 0..topics {
        let Some(len) = b.try_get_i16().ok().and_then(|l| usize::try_from(l).ok()) else {
            return false;
        };
        if len > b.remaining() {
            return false;
        }
        b.advance(len);
        match count(&mut b, 4) {
            Some(n) => b.advance(n * 4),
            None => return false,
        }
    }
    true
}

impl AdminClient {
    /// Every group of the cluster: ListGroups asked of each broker Metadata lists (a broker
    /// that does not answer within the deadline fails the call: a partial list would hide
    /// groups). Sorted by group id.
    pub async fn list_groups(&self) -> Result<Vec<ListedGroup>, AdminError> {
        let brokers = self.metadata(Some(&[][..])).await?.brokers;
        let mut out = Vec::new();
        for broker in brokers {
            let build = |_v: i16| ListGroupsRequest::default();
            let check_r = |r: &ListGroupsResponse| check(r.error_code, None);
            let r = self.request(Route::Node(broker.id), build, check_r).await?;
            out.extend(r.groups.iter().map(|g| ListedGroup {
                group_id: g.group_id.0.to_string(),
                group_type: Some(g.group_type.to_string()).filter(|t| !t.is_empty()),
                protocol_type: g.protocol_type.to_string(),
                state: Some(g.group_state.to_string()).filter(|s| !s.is_empty()),
                coordinator: broker.id,
            }));
        }
        // A group moving between coordinators may be listed by both for a moment.
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// One group: ConsumerGroupDescribe first; a group that is not of the consumer protocol
    /// (GROUP_ID_NOT_FOUND there) with DescribeGroups. A group neither knows (DescribeGroups'
    /// `Dead` with no member) is GROUP_ID_NOT_FOUND.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, AdminError> {
        match self.describe_consumer_group(group).await {
            Err(e) if e.is_code(code::GROUP_ID_NOT_FOUND) => {}
            Err(AdminError::Unsupported { .. }) => {}
            other => return other,
        }
        let build = |_v: i16| DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
        let check_r = |r: &DescribeGroupsResponse| {
            let mut groups = r.groups.iter();
            groups.try_for_each(|g| coordinator_error(g.error_code, g.error_message.as_ref()))
        };
        let r = self.request_coordinator(group, build, check_r).await?;
        let g = r.groups.first().ok_or_else(|| {
            AdminError::Config(format!("DescribeGroups did not answer for {group}"))
        })?;
        check(g.error_code, g.error_message.as_deref()).map_err(|e| about(e, group))?;
        if g.group_state.as_str() == "Dead" && g.members.is_empty() {
            let e = KafkaError::from_code(code::GROUP_ID_NOT_FOUND, None).expect("a code");
            return Err(about(e, format!("group {group}")));
        }
        let consumer = g.protocol_type.as_str() == "consumer";
        let members = g.members.iter().map(|m| GroupMember {
            member_id: m.member_id.to_string(),
            instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
            assignment: consumer
                .then(|| decode_assignment(&m.member_assignment))
                .flatten(),
        });
        Ok(GroupDescription {
            group_id: group.to_owned(),
            protocol: GroupProtocol::Classic,
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            assignor: g.protocol_data.to_string(),
            epoch: None,
            coordinator: self.known_coordinator(group),
            members: members.collect(),
        })
    }

    async fn describe_consumer_group(&self, group: &str) -> Result<GroupDescription, AdminError> {
        let build =
            |_v: i16| ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id(group)]);
        let check_r = |r: &ConsumerGroupDescribeResponse| {
            let mut groups = r.groups.iter();
            groups.try_for_each(|g| coordinator_error(g.error_code, g.error_message.as_ref()))
        };
        let r = self.request_coordinator(group, build, check_r).await?;
        let g = r.groups.first().ok_or_else(|| {
            AdminError::Config(format!("ConsumerGroupDescribe did not answer for {group}"))
        })?;
        check(g.error_code, g.error_message.as_deref()).map_err(|e| about(e, group))?;
        let members = g.members.iter().map(|m| {
            let mut assignment: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for t in &m.assignment.topic_partitions {
                let partitions = assignment.entry(t.topic_name.0.to_string()).or_default();
                partitions.extend(&t.partitions);
                partitions.sort_unstable();
            }
            GroupMember {
                member_id: m.member_id.to_string(),
                instance_id: m.instance_id.as_ref().map(|s| s.to_string()),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment: Some(assignment),
            }
        });
        Ok(GroupDescription {
            group_id: group.to_owned(),
            protocol: GroupProtocol::Consumer,
            state: g.group_state.to_string(),
            protocol_type: "consumer".into(),
            assignor: g.assignor_name.to_string(),
            epoch: Some(g.group_epoch),
            coordinator: self.known_coordinator(group),
            members: members.collect(),
        })
    }

    /// DeleteGroups, each group asked of its coordinator: one result per group
    /// (NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND if there is none).
    pub async fn delete_groups(&self, groups: &[&str]) -> Result<PerName<()>, AdminError> {
        let mut out = PerName::new();
        for group in groups {
            let build =
                |_v: i16| DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)]);
            let check_r = |r: &DeleteGroupsResponse| {
                let mut results = r.results.iter();
                results.try_for_each(|g| coordinator_error(g.error_code, None))
            };
            let r = self.request_coordinator(group, build, check_r).await?;
            let code = r.results.first().map_or(0, |g| g.error_code);
            out.insert((*group).to_owned(), check(code, None));
        }
        Ok(out)
    }

    /// One group: its deletion's error is the call's error.
    pub async fn delete_group(&self, group: &str) -> Result<(), AdminError> {
        let mut results = self.delete_groups(&[group]).await?;
        let result = results.remove(group).unwrap_or(Ok(()));
        result.map_err(|e| about(e, format!("group {group}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::Encodable;

    fn encoded(version: i16, assigned: &[(&str, &[i32])]) -> Bytes {
        let assigned = assigned.iter().map(|(t, p)| {
            TopicPartition::default()
                .with_topic(TopicName(StrBytes::from_string((*t).to_owned())))
                .with_partitions(p.to_vec())
        });
        let a = ConsumerProtocolAssignment::default().with_assigned_partitions(assigned.collect());
        let mut b = bytes::BytesMut::new();
        bytes::BufMut::put_i16(&mut b, version);
        a.encode(&mut b, version.min(3)).unwrap();
        b.freeze()
    }

    #[test]
    fn find_coordinator_both_shapes() {
        use kafka_protocol::messages::find_coordinator_response::Coordinator;
        for v in [3, 4, 6] {
            let r = find_coordinator_request("g")(v);
            r.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
        let old = FindCoordinatorResponse::default()
            .with_node_id(BrokerId(2))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(9093);
        assert_eq!(coordinator_of(&old), Ok((2, "127.0.0.1:9093".into())));
        let one = Coordinator::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("::1"))
            .with_port(9092);
        let new = FindCoordinatorResponse::default().with_coordinators(vec![one.clone()]);
        assert_eq!(coordinator_of(&new), Ok((1, "[::1]:9092".into())));
        let loading = one.clone().with_error_code(code::COORDINATOR_NOT_AVAILABLE);
        let r = FindCoordinatorResponse::default().with_coordinators(vec![loading]);
        assert!(coordinator_of(&r).unwrap_err().is_retriable());
        let nobody = one.with_node_id(BrokerId(-1));
        let r = FindCoordinatorResponse::default().with_coordinators(vec![nobody]);
        assert_eq!(
            coordinator_of(&r).unwrap_err().code,
            code::COORDINATOR_NOT_AVAILABLE
        );
    }

    /// A node that serves FindCoordinator and DescribeGroups v0 only (so no
    /// ConsumerGroupDescribe: the classic fallback) and answers the first DescribeGroups
    /// NOT_COORDINATOR: the client finds the coordinator again and retries.
    #[tokio::test]
    async fn not_coordinator_is_retried_after_finding_the_coordinator_again() {
        use bytes::BufMut;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let node = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut describes = 0;
            while seen.len() < 6 {
                let mut frame = vec![0; s.read_i32().await.unwrap() as usize];
                s.read_exact(&mut frame).await.unwrap();
                let mut f = &frame[..];
                let (key, version, correlation) = (f.get_i16(), f.get_i16(), f.get_i32());
                seen.push(key);
                let mut b = Vec::new();
                b.put_i32(correlation);
                let string = |b: &mut Vec<u8>, s: &str| {
                    b.put_i16(s.len() as i16);
                    b.put_slice(s.as_bytes());
                };
                match key {
                    18 => {
                        let supported = version <= 2;
                        b.put_i16(if supported {
                            0
                        } else {
                            code::UNSUPPORTED_VERSION
                        });
                        b.put_i32(3);
                        for (k, max) in [(18, 2), (10, 0), (15, 0)] {
                            b.put_slice(&[0, k, 0, 0, 0, max]);
                        }
                        if supported {
                            b.put_i32(0);
                        }
                    }
                    10 => {
                        b.put_i16(0);
                        b.put_i32(0);
                        string(&mut b, "127.0.0.1");
                        b.put_i32(i32::from(port));
                    }
                    15 => {
                        describes += 1;
                        b.put_i32(1);
                        let moved = describes == 1;
                        b.put_i16(if moved { code::NOT_COORDINATOR } else { 0 });
                        for text in ["g", "Stable", "consumer", "range"] {
                            string(&mut b, text);
                        }
                        b.put_i32(0);
                    }
                    other => panic!("unexpected API {other}"),
                }
                s.write_i32(b.len() as i32).await.unwrap();
                s.write_all(&b).await.unwrap();
            }
            seen
        });
        let config = super::super::AdminConfig::new([format!("127.0.0.1:{port}")], None);
        let admin = AdminClient::new(config).unwrap();
        let d = admin
            .describe_group("g")
            .await
            .expect("described after a retry");
        assert_eq!((d.state.as_str(), d.assignor.as_str()), ("Stable", "range"));
        assert_eq!(
            (d.protocol, d.coordinator),
            (GroupProtocol::Classic, Some(0))
        );
        assert_eq!(node.await.unwrap(), [18, 18, 10, 15, 10, 15]);
    }

    #[test]
    fn assignments_decode_and_hostile_bytes_do_not_allocate_or_panic() {
        let b = encoded(3, &[("orders", &[4, 1]), ("audit", &[0])]);
        let got = decode_assignment(&b).unwrap();
        assert_eq!(got["orders"], [1, 4]);
        assert_eq!(got["audit"], [0]);
        assert_eq!(
            decode_assignment(&encoded(7, &[("t", &[2])])).unwrap()["t"],
            [2]
        );
        assert_eq!(decode_assignment(&Bytes::new()), Some(BTreeMap::new()));
        // A count of 2^31-1 topics, or of partitions, in a few bytes.
        let huge = Bytes::from_static(&[0, 3, 0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(decode_assignment(&huge), None);
        let huge = Bytes::from_static(&[0, 3, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(decode_assignment(&huge), None);
        for cut in 0..b.len() {
            let _ = decode_assignment(&b.slice(..cut));
        }
        assert_eq!(
            decode_assignment(&Bytes::from_static(&[0xff, 0xff, 0, 0])),
            None
        );
    }
}
