//! Moving replicas between brokers, and brokers out of the cluster: AlterPartitionReassignments,
//! ListPartitionReassignments, ElectLeaders (preferred) and UnregisterBroker. All go to "the
//! controller" of Metadata (in KRaft a broker that forwards to the active controller);
//! NOT_CONTROLLER is retried, every other per-partition error is that partition's result.
//!
//! A reassignment is the controller's: once accepted it goes on without the caller (new
//! replicas are added, catch up, join the ISR, then the old ones are removed), and a second
//! request for the same partition with the same target changes nothing, so a caller that was
//! cut off sends it again and waits with [`AdminClient::list_partition_reassignments`].

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, TopicName, UnregisterBrokerRequest,
    UnregisterBrokerResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, code, AdminError, KafkaError};
use super::topics::not_controller;

/// A partition, by topic name and index.
pub type TopicPartition = (String, i32);

/// A reassignment in progress, as the controller lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    /// Every replica now (old and new).
    pub replicas: Vec<i32>,
    /// Replicas being added (catching up).
    pub adding: Vec<i32>,
    /// Replicas that go once the new ones are in sync.
    pub removing: Vec<i32>,
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

/// Per-partition results of a batch call.
pub type PerPartition = BTreeMap<TopicPartition, Result<(), KafkaError>>;

/// Groups `(topic, partition, value)` by topic, in order.
fn by_topic<T: Clone>(items: &[(String, i32, T)]) -> BTreeMap<&str, Vec<(i32, T)>> {
    let mut topics: BTreeMap<&str, Vec<(i32, T)>> = BTreeMap::new();
    for (topic, partition, value) in items {
        topics
            .entry(topic.as_str())
            .or_default()
            .push((*partition, value.clone()));
    }
    topics
}

impl AdminClient {
    /// AlterPartitionReassignments: moves each partition to its replica list (`Some`, the
    /// preferred leader first), or cancels its reassignment in progress (`None`). One result
    /// per partition; the call itself fails only if no node answered within the deadline (or
    /// Kafka refused the whole request).
    pub async fn alter_partition_reassignments(
        &self,
        moves: &[(String, i32, Option<Vec<i32>>)],
    ) -> Result<PerPartition, AdminError> {
        let timeout_ms = self.server_timeout_ms();
        let topics = by_topic(moves);
        let build = |_v: i16| {
            let topics = topics.iter().map(|(topic, partitions)| {
                let partitions = partitions.iter().map(|(index, replicas)| {
                    ReassignablePartition::default()
                        .with_partition_index(*index)
                        .with_replicas(
                            replicas
                                .as_ref()
                                .map(|r| r.iter().map(|id| BrokerId(*id)).collect()),
                        )
                });
                ReassignableTopic::default()
                    .with_name(name(topic))
                    .with_partitions(partitions.collect())
            });
            AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_topics(topics.collect())
        };
        let check_r = |r: &AlterPartitionReassignmentsResponse| {
            check(r.error_code, r.error_message.as_deref())?;
            not_controller(r.responses.iter().flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.error_code, p.error_message.as_ref()))
            }))
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        (t.name.0.to_string(), p.partition_index),
                        check(p.error_code, p.error_message.as_deref()),
                    )
                })
            })
            .collect())
    }

    /// ListPartitionReassignments of every partition: the reassignments still in progress.
    pub async fn list_partition_reassignments(
        &self,
    ) -> Result<Vec<OngoingReassignment>, AdminError> {
        let timeout_ms = self.server_timeout_ms();
        let build = |_v: i16| {
            ListPartitionReassignmentsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_topics(None)
        };
        let check_r = |r: &ListPartitionReassignmentsResponse| {
            check(r.error_code, r.error_message.as_deref())
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        let ids = |ids: &[BrokerId]| ids.iter().map(|b| b.0).collect::<Vec<_>>();
        Ok(r.topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| OngoingReassignment {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    replicas: ids(&p.replicas),
                    adding: ids(&p.adding_replicas),
                    removing: ids(&p.removing_replicas),
                })
            })
            .collect())
    }

    /// ElectLeaders, preferred: each partition's first replica becomes its leader where it is
    /// in sync (`None`: every partition). Partitions already led by their preferred replica
    /// answer ELECTION_NOT_NEEDED, which counts as done.
    pub async fn elect_preferred_leaders(
        &self,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<PerPartition, AdminError> {
        let timeout_ms = self.server_timeout_ms();
        let topics = partitions.map(|ps| {
            let items: Vec<(String, i32, ())> =
                ps.iter().map(|(t, p)| (t.clone(), *p, ())).collect();
            by_topic(&items)
                .into_iter()
                .map(|(topic, ps)| {
                    TopicPartitions::default()
                        .with_topic(name(topic))
                        .with_partitions(ps.into_iter().map(|(p, ())| p).collect())
                })
                .collect::<Vec<_>>()
        });
        let build = |_v: i16| {
            ElectLeadersRequest::default()
                .with_election_type(0)
                .with_topic_partitions(topics.clone())
                .with_timeout_ms(timeout_ms)
        };
        let check_r = |r: &ElectLeadersResponse| {
            check(r.error_code, None)?;
            not_controller(r.replica_election_results.iter().flat_map(|t| {
                t.partition_result
                    .iter()
                    .map(|p| (p.error_code, p.error_message.as_ref()))
            }))
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| {
                    let result = if p.error_code == code::ELECTION_NOT_NEEDED {
                        Ok(())
                    } else {
                        check(p.error_code, p.error_message.as_deref())
                    };
                    ((t.topic.0.to_string(), p.partition_id), result)
                })
            })
            .collect())
    }

    /// UnregisterBroker: removes a broker that has shut down for good from the cluster's
    /// metadata (it no longer counts as a fenced broker). BROKER_ID_NOT_REGISTERED (already
    /// gone, e.g. a retry) counts as done.
    pub async fn unregister_broker(&self, broker_id: i32) -> Result<(), AdminError> {
        let build =
            |_v: i16| UnregisterBrokerRequest::default().with_broker_id(BrokerId(broker_id));
        let check_r = |r: &UnregisterBrokerResponse| {
            if r.error_code == code::NOT_CONTROLLER {
                return check(r.error_code, r.error_message.as_deref());
            }
            Ok(())
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        if r.error_code == code::BROKER_ID_NOT_REGISTERED {
            return Ok(());
        }
        Ok(check(r.error_code, r.error_message.as_deref())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_grouped_by_topic_in_order() {
        let moves = vec![
            ("b".to_string(), 1, Some(vec![3, 1, 2])),
            ("a".to_string(), 0, None),
            ("b".to_string(), 0, Some(vec![0, 3, 1])),
        ];
        let topics = by_topic(&moves);
        assert_eq!(topics.keys().copied().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(topics["b"][0], (1, Some(vec![3, 1, 2])));
        assert_eq!(topics["b"][1], (0, Some(vec![0, 3, 1])));
    }
}
