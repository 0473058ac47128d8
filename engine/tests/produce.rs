//! Produce against a real three-node Apache Kafka 4.4 KRaft cluster (ports 27100-27108):
//! batches written once each land at consecutive offsets (the base offset answered), and
//! confluent-kafka reads back every key, value, header and timestamp, null keys and values
//! included; a topic that does not exist is refused naming it. Needs Kafka's jars.

mod common;

use std::path::Path;
use std::process::Command;

use byoc_engine::admin::*;
use bytes::Bytes;
use common::Cluster;
use serde_json::Value;

fn record(i: i64) -> ProduceRecord {
    ProduceRecord {
        key: (i % 4 != 0).then(|| Bytes::from(format!("key-{i}"))),
        value: (i % 5 != 4).then(|| Bytes::from(format!("value-{i}"))),
        headers: match i % 3 {
            0 => vec![
                ("trace".into(), Some(Bytes::from(format!("t{i}")))),
                ("empty".into(), None),
            ],
            _ => vec![],
        },
        timestamp_ms: 1_764_547_200_000 + i * 1000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_land_once_in_order_and_confluent_kafka_reads_them_back() {
    let _serial = common::serial().await;
    let cluster = Cluster::start_on(27100).await;
    let admin = cluster.admin();
    admin
        .create_topic(&NewTopic::new("moved", 2, 3).config("retention.ms", "-1"))
        .await
        .unwrap();

    let all: Vec<ProduceRecord> = (0..30).map(record).collect();
    let mut next = 0;
    for chunk in all.chunks(10) {
        let base = admin.produce("moved", 1, chunk).await.unwrap();
        assert_eq!(base, next, "each batch lands after the last");
        next += chunk.len() as i64;
    }
    let ends = admin.list_offsets(&["moved"]).await.unwrap();
    let p1 = ends.iter().find(|p| p.partition == 1).unwrap();
    assert_eq!((p1.earliest, p1.latest), (0, 30));
    let p0 = ends.iter().find(|p| p.partition == 0).unwrap();
    assert_eq!(p0.latest, 0, "nothing written to partition 0");

    let err = admin.produce("absent", 0, &all[..1]).await.unwrap_err();
    assert!(err.to_string().contains("absent-0"), "{err}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kafka/dump.py");
    let bootstrap = cluster.nodes[0].client_addr();
    let out = Command::new("timeout")
        .args(["120", "python3"])
        .arg(script)
        .args(["messages", &bootstrap, "moved"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump: Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = dump["moved"]["1"].as_array().unwrap();
    assert_eq!(read.len(), 30);
    for (i, (m, want)) in read.iter().zip(&all).enumerate() {
        assert_eq!(m["offset"], i as i64);
        let key = want
            .key
            .as_ref()
            .map(|k| String::from_utf8(k.to_vec()).unwrap());
        assert_eq!(m["key"], serde_json::json!(key));
        let value = want.value.as_ref().map(|v| hex(v));
        assert_eq!(m["value_hex"], serde_json::json!(value));
        assert_eq!(m["timestamp_ms"], want.timestamp_ms);
        assert_eq!(m["timestamp_type"], 1, "CreateTime");
        let headers: Vec<Value> = want
            .headers
            .iter()
            .map(|(k, v)| {
                let v = v.as_ref().map(|v| String::from_utf8(v.to_vec()).unwrap());
                serde_json::json!([k, v])
            })
            .collect();
        assert_eq!(m["headers"], Value::Array(headers));
    }
    assert!(dump["moved"]["0"].as_array().unwrap().is_empty());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
