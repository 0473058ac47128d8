//! The admin client against a real three-node Apache Kafka 4.4 KRaft cluster (combined mode,
//! TLS with client certificates on the internal listener): one cluster, every operation, then
//! a node SIGKILLed under the client. Needs Kafka's jars (see `common::kafka_libs`).

mod common;
#[path = "common/admin_steps.rs"]
mod steps;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use byoc_engine::admin::*;
use common::{eventually, Cluster};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Message;

fn step(started: Instant, what: &str) {
    eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_against_a_real_kafka_cluster() {
    let _one_cluster = common::serial().await;
    let started = Instant::now();
    let mut cluster = Cluster::start().await;
    step(started, "cluster ready");
    let admin = cluster.admin();

    // ApiVersions on each node: the health probe, and the finalized features.
    for node in &cluster.nodes {
        let versions = admin
            .api_versions(&node.internal_addr())
            .await
            .expect("ApiVersions");
        assert!(
            versions.finalized_features.contains_key("metadata.version"),
            "{versions:?}"
        );
        let range = versions.range(ApiKey::DescribeQuorum);
        assert!(
            range.is_some(),
            "brokers serve DescribeQuorum (and forward it)"
        );
    }

    // What a Kafka 4.4 broker serves against what kafka-protocol (Kafka 4.1's schemas) knows.
    let versions = admin
        .api_versions(&cluster.nodes[0].internal_addr())
        .await
        .unwrap();
    let mut table = String::new();
    for (key, ours) in [
        (ApiKey::Metadata, MetadataRequest::VERSIONS),
        (ApiKey::CreateTopics, CreateTopicsRequest::VERSIONS),
        (ApiKey::DeleteTopics, DeleteTopicsRequest::VERSIONS),
        (ApiKey::DescribeConfigs, DescribeConfigsRequest::VERSIONS),
        (
            ApiKey::IncrementalAlterConfigs,
            IncrementalAlterConfigsRequest::VERSIONS,
        ),
        (
            ApiKey::AlterUserScramCredentials,
            AlterUserScramCredentialsRequest::VERSIONS,
        ),
        (ApiKey::DescribeQuorum, DescribeQuorumRequest::VERSIONS),
        (ApiKey::DescribeCluster, DescribeClusterRequest::VERSIONS),
        (ApiKey::DescribeLogDirs, DescribeLogDirsRequest::VERSIONS),
        (ApiKey::ListOffsets, ListOffsetsRequest::VERSIONS),
    ] {
        let theirs = versions.range(key).expect("served");
        table += &format!(" {key:?} ours {ours} node {}..{};", theirs.0, theirs.1);
    }
    eprintln!("versions:{table}");

    // Metadata asked of each node: the same three distinct brokers, their racks.
    for node in &cluster.nodes {
        let one = AdminClient::new(AdminConfig::new(
            [node.internal_addr()],
            Some(cluster.console.clone()),
        ))
        .unwrap();
        let m = one.metadata(None).await.expect("metadata");
        let ids: Vec<i32> = m.brokers.iter().map(|b| b.id).collect();
        assert_eq!(ids, [0, 1, 2], "{m:?}");
        let ports: BTreeSet<i32> = m.brokers.iter().map(|b| b.port).collect();
        let internal: BTreeSet<i32> = cluster
            .nodes
            .iter()
            .map(|n| i32::from(n.internal_port))
            .collect();
        assert_eq!(ports, internal, "the internal listener's advertised ports");
        let racks: Vec<Option<String>> = m.brokers.iter().map(|b| b.rack.clone()).collect();
        assert_eq!(
            racks,
            ["zone-0", "zone-1", "zone-2"].map(|r| Some(r.to_owned()))
        );
        assert!(m.controller_id.is_some_and(|c| (0..3).contains(&c)));
        assert_eq!(m.cluster_id.as_deref(), Some(cluster.cluster_id.as_str()));
    }
    let described = admin.describe_cluster().await.expect("describe cluster");
    assert_eq!(described.cluster_id, cluster.cluster_id);
    assert_eq!(described.brokers.len(), 3);
    assert!(described.brokers.iter().all(|(_, fenced)| !fenced));

    let quorum = admin.describe_quorum().await.expect("describe quorum");
    let voters: Vec<i32> = quorum.voters.iter().map(|v| v.id).collect();
    assert_eq!(
        voters.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([0, 1, 2]),
        "{quorum:?}"
    );
    assert!(voters.contains(&quorum.leader_id));
    assert!(quorum.high_watermark > 0);
    assert!(
        quorum.observers.is_empty(),
        "combined nodes are all voters: {quorum:?}"
    );
    step(started, "metadata, cluster and quorum checked");

    steps::topics(&admin).await;
    step(started, "topics and configs checked");
    steps::scram(&admin).await;
    step(started, "SCRAM checked");

    // Data: Kafka's own producer writes 1,000 records; offsets from each leader, bytes per node.
    cluster.produce("orders", 1000);
    step(started, "1,000 records produced");
    let offsets = admin.list_offsets(&["orders"]).await.expect("list offsets");
    assert_eq!(offsets.len(), 6);
    assert!(
        offsets.iter().all(|o| o.earliest == 0 && o.latest >= 0),
        "{offsets:?}"
    );
    assert_eq!(
        offsets.iter().map(|o| o.latest).sum::<i64>(),
        1000,
        "{offsets:?}"
    );
    let t0 = Instant::now();
    let missing = admin.list_offsets(&["missing"]).await.unwrap_err();
    assert!(
        missing.is_code(code::UNKNOWN_TOPIC_OR_PARTITION),
        "{missing}"
    );
    let missing = ConfigResource::Topic("missing".into());
    let missing = admin.describe_configs(&missing, None).await.unwrap_err();
    assert!(
        missing.is_code(code::UNKNOWN_TOPIC_OR_PARTITION),
        "{missing}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "not retried: {:?}",
        t0.elapsed()
    );
    let dirs = admin.describe_all_log_dirs().await.expect("log dirs");
    assert_eq!(dirs.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    for (node, dirs) in dirs {
        let dirs = dirs.expect("node's log dirs");
        let orders: Vec<&ReplicaSize> = dirs
            .iter()
            .flat_map(|d| &d.partitions)
            .filter(|p| p.topic == "orders")
            .collect();
        assert_eq!(
            orders.len(),
            6,
            "node {node} holds a replica of each partition"
        );
        let bytes: i64 = orders.iter().map(|p| p.size).sum();
        assert!(
            bytes > 100_000,
            "node {node}: {bytes} bytes of 1,000 records of 100 bytes"
        );
        assert!(dirs
            .iter()
            .all(|d| d.error.is_none() && d.usable_bytes.is_some()));
    }
    step(started, "offsets and log dirs checked");

    steps::certificates(&cluster).await;
    step(started, "certificates checked");

    // Deleted, then gone from Metadata; deleting again is UNKNOWN_TOPIC_OR_PARTITION.
    admin.delete_topic("orders").await.expect("delete");
    let again = admin.delete_topic("orders").await.unwrap_err();
    assert!(again.is_code(code::UNKNOWN_TOPIC_OR_PARTITION), "{again}");
    eventually(
        "orders gone from every node's metadata",
        Duration::from_secs(10),
        || async {
            let m = admin.metadata(Some(&["orders"])).await.ok()?;
            m.topic("orders")?
                .error
                .as_ref()
                .filter(|e| e.code == code::UNKNOWN_TOPIC_OR_PARTITION)?;
            Some(())
        },
    )
    .await;
    step(started, "topic deleted");

    // Node 0 SIGKILLed under the client: the kept connection to it breaks (calls to "any
    // node" went there), calls still succeed elsewhere, the quorum keeps or elects a leader,
    // and the node's replicas leave the ISR once the controller fences it.
    admin
        .create_topic(&NewTopic::new("after", 3, 3))
        .await
        .expect("create");
    let before = admin.describe_quorum().await.unwrap();
    let m = admin.metadata(None).await.unwrap();
    eprintln!(
        "Metadata's controller id {:?}, DescribeCluster's {:?}, the quorum's leader {}",
        m.controller_id,
        admin.describe_cluster().await.unwrap().controller_id,
        before.leader_id
    );
    cluster.kill(0);
    step(started, "node 0 SIGKILLed");
    let m = admin
        .metadata(None)
        .await
        .expect("metadata with a node down");
    assert!(m.brokers.len() >= 2);
    step(started, "metadata answered by another node");
    let quorum = eventually("a live leader", Duration::from_secs(30), || async {
        admin
            .describe_quorum()
            .await
            .ok()
            .filter(|q| q.leader_id != 0)
    })
    .await;
    assert_eq!(
        quorum.voters.len(),
        3,
        "a dead voter is still a voter: {quorum:?}"
    );
    step(
        started,
        &format!(
            "quorum leader {} (was {})",
            quorum.leader_id, before.leader_id
        ),
    );
    let health = eventually(
        "under-replicated partitions",
        Duration::from_secs(30),
        || async {
            admin
                .partition_health()
                .await
                .ok()
                .filter(|h| h.under_replicated > 0)
        },
    )
    .await;
    assert_eq!(health.offline, 0, "RF 3 survives one node: {health:?}");
    step(started, &format!("node 0 fenced: {health:?}"));
    admin
        .create_topic(&NewTopic::new("while-down", 1, 2))
        .await
        .expect("create with a node down");
    let t0 = Instant::now();
    let gone = admin
        .with_deadline(Duration::from_secs(3))
        .describe_log_dirs(0)
        .await
        .unwrap_err();
    assert!(matches!(gone, AdminError::Deadline { .. }), "{gone}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the deadline holds: {:?}",
        t0.elapsed()
    );
    eprintln!("DescribeLogDirs of the dead node: {gone}");
    step(started, "cluster served with a node down");
    drop(cluster);
    eprintln!("admin test: {:.1} s", started.elapsed().as_secs_f64());
}
