//! Steps of `tests/admin.rs` against its cluster: topics and configs, SCRAM credentials,
//! certificates. A module of that test (`#[path]`), not a test of its own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use byoc_engine::admin::*;

use crate::common::{eventually, Ca, Cluster};

pub async fn topics(admin: &AdminClient) {
    let topic = NewTopic::new("orders", 6, 3).config("retention.ms", "3600000");
    let created = admin.create_topic(&topic).await.expect("create topic");
    assert_eq!((created.partitions, created.replication_factor), (6, 3));
    assert_eq!(created.topic_id.len(), 22, "{created:?}");
    let again = admin.create_topic(&topic).await.unwrap_err();
    assert!(again.is_code(code::TOPIC_ALREADY_EXISTS), "{again}");
    assert_eq!(again.kafka().unwrap().name, "TOPIC_ALREADY_EXISTS");
    let too_many = admin
        .create_topic(&NewTopic::new("wide", 1, 4))
        .await
        .unwrap_err();
    assert_eq!(
        too_many.kafka().map(|e| e.name.as_str()),
        Some("INVALID_REPLICATION_FACTOR"),
        "{too_many}"
    );

    let m = eventually("orders fully in sync", Duration::from_secs(15), || async {
        let m = admin.metadata(Some(&["orders"])).await.ok()?;
        let t = m.topic("orders")?;
        (t.partitions.len() == 6 && t.partitions.iter().all(|p| p.isr.len() == 3)).then_some(m)
    })
    .await;
    let t = m.topic("orders").unwrap();
    assert_eq!(t.topic_id, created.topic_id);
    for p in &t.partitions {
        assert_eq!(p.replicas.len(), 3, "{p:?}");
        assert_eq!(p.replicas.iter().collect::<BTreeSet<_>>().len(), 3, "{p:?}");
    }
    let leaders: BTreeSet<i32> = t.partitions.iter().filter_map(|p| p.leader).collect();
    assert_eq!(
        leaders,
        BTreeSet::from([0, 1, 2]),
        "each node leads a partition: {t:?}"
    );
    let health = m.health();
    assert_eq!(
        (health.partitions, health.under_replicated, health.offline),
        (6, 0, 0)
    );

    // retention.ms: created with, altered, read back from a node (eventually: brokers apply
    // the controller's record asynchronously), deleted back to the broker's.
    let orders = ConfigResource::Topic("orders".into());
    let retention = |value: &'static str| {
        let orders = orders.clone();
        move || {
            let orders = orders.clone();
            async move {
                let e = admin
                    .describe_config(&orders, "retention.ms")
                    .await
                    .ok()??;
                (e.value.as_deref() == Some(value)).then_some(e)
            }
        }
    };
    let e = eventually(
        "retention.ms 3600000",
        Duration::from_secs(10),
        retention("3600000"),
    )
    .await;
    assert_eq!(e.source, ConfigSource::DynamicTopic);
    admin
        .incremental_alter_configs(
            &orders,
            &[AlterConfig::Set("retention.ms".into(), "7200000".into())],
        )
        .await
        .expect("alter retention");
    eventually(
        "retention.ms 7200000",
        Duration::from_secs(10),
        retention("7200000"),
    )
    .await;
    admin
        .incremental_alter_configs(&orders, &[AlterConfig::Delete("retention.ms".into())])
        .await
        .unwrap();
    let e = eventually(
        "retention.ms back to 168 h",
        Duration::from_secs(10),
        retention("604800000"),
    )
    .await;
    assert_ne!(e.source, ConfigSource::DynamicTopic);
    let bad = AlterConfig::Set("retention.ms".into(), "soon".into());
    let refused = admin
        .incremental_alter_configs(&orders, &[bad])
        .await
        .unwrap_err();
    assert_eq!(
        refused.kafka().map(|e| e.name.as_str()),
        Some("INVALID_CONFIG"),
        "{refused}"
    );
    let all = admin.describe_configs(&orders, None).await.unwrap();
    assert!(all
        .iter()
        .any(|e| e.name == "min.insync.replicas" && e.value.as_deref() == Some("2")));

    // A broker's own dynamic config goes to that broker; Delete puts back the static value.
    let broker1 = ConfigResource::Broker(1);
    let set = AlterConfig::Set("message.max.bytes".into(), "2000000".into());
    admin
        .incremental_alter_configs(&broker1, &[set])
        .await
        .expect("alter broker 1");
    let e = eventually(
        "broker 1 message.max.bytes",
        Duration::from_secs(10),
        || async {
            let e = admin
                .describe_config(&broker1, "message.max.bytes")
                .await
                .ok()??;
            (e.value.as_deref() == Some("2000000")).then_some(e)
        },
    )
    .await;
    assert_eq!(e.source, ConfigSource::DynamicBroker);
    let other = admin
        .describe_config(&ConfigResource::Broker(2), "message.max.bytes")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        other.value.as_deref(),
        Some("2000000"),
        "only broker 1 changed"
    );
    admin
        .incremental_alter_configs(&broker1, &[AlterConfig::Delete("message.max.bytes".into())])
        .await
        .unwrap();
}

pub async fn scram(admin: &AdminClient) {
    let upsert = |mechanism, iterations, len: usize| ScramUpsert {
        user: "alice".into(),
        mechanism,
        iterations,
        salt: vec![7; 16],
        salted_password: vec![42; len],
    };
    let upserts = [
        upsert(ScramMechanism::Sha256, 8192, 32),
        upsert(ScramMechanism::Sha512, 4096, 64),
    ];
    let results = admin
        .alter_user_scram_credentials(&upserts, &[])
        .await
        .expect("upsert");
    assert_eq!(results.get("alice"), Some(&Ok(())), "{results:?}");
    let expected = [
        (ScramMechanism::Sha256, 8192),
        (ScramMechanism::Sha512, 4096),
    ];
    let described = eventually(
        "alice's two credentials",
        Duration::from_secs(10),
        || async {
            let described = admin
                .describe_user_scram_credentials(Some(&["alice", "nobody"]))
                .await
                .ok()?;
            let alice = described.get("alice")?.as_ref().ok()?;
            let got: Vec<_> = alice.iter().map(|c| (c.mechanism, c.iterations)).collect();
            (got == expected).then_some(described)
        },
    )
    .await;
    let nobody = described["nobody"].as_ref().unwrap_err();
    assert_eq!(nobody.code, code::RESOURCE_NOT_FOUND, "{nobody}");

    let too_few = admin
        .alter_user_scram_credentials(&[upsert(ScramMechanism::Sha256, 100, 32)], &[])
        .await
        .unwrap();
    let err = too_few["alice"].as_ref().unwrap_err();
    assert_eq!(err.name, "UNACCEPTABLE_CREDENTIAL", "{err}");

    let deletion = ScramDeletion {
        user: "alice".into(),
        mechanism: ScramMechanism::Sha256,
    };
    let results = admin
        .alter_user_scram_credentials(&[], &[deletion])
        .await
        .unwrap();
    assert_eq!(results["alice"], Ok(()));
    eventually(
        "alice left with SCRAM-SHA-512 only",
        Duration::from_secs(10),
        || async {
            let all = admin.describe_user_scram_credentials(None).await.ok()?;
            let alice = all.get("alice")?.as_ref().ok()?;
            let mechanisms: Vec<_> = alice.iter().map(|c| c.mechanism).collect();
            (mechanisms == [ScramMechanism::Sha512]).then_some(())
        },
    )
    .await;
}

/// Plaintext works where the listener is plaintext; on the internal listener a certificate of
/// another CA is refused by the node, and a node certificate our CA did not sign by us.
pub async fn certificates(cluster: &Cluster) {
    let addrs: Vec<String> = cluster.nodes.iter().map(|n| n.client_addr()).collect();
    let plain = AdminClient::new(AdminConfig::new(addrs, None)).unwrap();
    let m = plain.metadata(None).await.expect("plaintext metadata");
    let ports: BTreeSet<i32> = m.brokers.iter().map(|b| b.port).collect();
    assert_eq!(
        ports,
        cluster
            .nodes
            .iter()
            .map(|n| i32::from(n.client_port))
            .collect()
    );

    let stranger = Ca::new("Another CA");
    let node = cluster.nodes[0].internal_addr();
    let t0 = Instant::now();
    let refused = cluster.admin_as(Some(stranger.console(&cluster.ca)));
    let err = refused.api_versions(&node).await.unwrap_err();
    assert!(
        matches!(err, AdminError::Tls { .. } | AdminError::Io { .. }),
        "{err:?}"
    );
    let err = refused.metadata(None).await.unwrap_err();
    eprintln!("a client certificate of another CA: {err}");
    assert!(
        matches!(err, AdminError::Tls { .. }),
        "refused, not retried: {err:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());

    let credulous = cluster.admin_as(Some(cluster.ca.console(&stranger)));
    let err = credulous.api_versions(&node).await.unwrap_err();
    eprintln!("a node certificate of an untrusted CA: {err}");
    assert!(
        matches!(&err, AdminError::Tls { message, .. } if message.contains("UnknownIssuer")),
        "{err:?}"
    );

    let plaintext_on_tls = cluster.admin_as(None).with_deadline(Duration::from_secs(2));
    assert!(plaintext_on_tls.api_versions(&node).await.is_err());
}
