//! Traffic of a cluster, from its nodes' own counters: each node runs Prometheus' JMX agent
//! (kafka/jmx-exporter.yaml) on a loopback port, which the console reads every few seconds.
//!
//! A node's counters start at zero with its process, and count what clients sent to and
//! fetched from the partitions it leads (replication between nodes is not counted). The
//! instance's traffic is the sum over its nodes of what each counted since the last reading:
//! [`advance`] keeps, per node, the last figures seen and the start time of the process that
//! served them ([`NodeMark`]), so that a node that restarted (its counters back at zero)
//! adds what it counted since its start instead of a negative difference. What a node counted
//! between the last reading and its death is lost (at most one reading interval).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One node's figures as its agent serves them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NodeCounters {
    /// The JVM's start (`process_start_time_seconds`, Unix seconds): a new value is a new
    /// process whose counters started again at zero.
    pub started_at: f64,
    /// Bytes clients produced (record batches as sent, on the partitions' leader).
    pub bytes_in: u64,
    /// Bytes clients fetched (consumers; replication excluded).
    pub bytes_out: u64,
    /// Messages clients produced.
    pub messages_in: u64,
    /// The JVM's resident memory (`process_resident_memory_bytes`).
    pub resident_bytes: u64,
}

const STARTED_AT: &str = "process_start_time_seconds";
const BYTES_IN: &str = "kafka_server_brokertopicmetrics_bytesin_total";
const BYTES_OUT: &str = "kafka_server_brokertopicmetrics_bytesout_total";
const MESSAGES_IN: &str = "kafka_server_brokertopicmetrics_messagesin_total";
const RESIDENT: &str = "process_resident_memory_bytes";

/// Reads the figures out of the agent's text (Prometheus exposition format). Only the series
/// without labels are read (the node's totals; per-topic series carry a `topic` label). A
/// counter the node has not registered yet (no client has produced since its start) reads
/// as zero; the start time must be there.
///
/// Hand-read rather than with a parser crate: five unlabelled series of an exporter whose
/// configuration is ours, one line each.
pub fn parse(text: &str) -> Result<NodeCounters, String> {
    let mut out = NodeCounters::default();
    let mut started = false;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let number = || -> Result<f64, String> {
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{name}: `{}` is not a number", value.trim()))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("{name}: {v} is not a count"))
            }
        };
        // Counters are floats in the text; exact up to 2^53, far beyond a node's life.
        let count = || number().map(|v| v as u64);
        match name {
            STARTED_AT => {
                out.started_at = number()?;
                started = true;
            }
            BYTES_IN => out.bytes_in = count()?,
            BYTES_OUT => out.bytes_out = count()?,
            MESSAGES_IN => out.messages_in = count()?,
            RESIDENT => out.resident_bytes = count()?,
            _ => {}
        }
    }
    if started {
        Ok(out)
    } else {
        Err(format!("no {STARTED_AT} in the node's metrics"))
    }
}

/// Largest metrics text read (the configuration keeps it to a few hundred lines).
const MAX_TEXT: u64 = 4 * 1024 * 1024;

/// Reads the metrics a node serves on `127.0.0.1:port` (HTTP/1.0: the agent's server then
/// sends the body unchunked and closes the connection).
pub async fn scrape(port: u16, timeout: Duration) -> Result<NodeCounters, String> {
    let read = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("metrics port {port}: {e}"))?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .map_err(|e| format!("metrics port {port}: {e}"))?;
        let mut answer = Vec::new();
        stream
            .take(MAX_TEXT)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| format!("metrics port {port}: {e}"))?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("metrics port {port}: not an HTTP answer"))?;
        let status = head.lines().next().unwrap_or_default();
        if status.split(' ').nth(1) != Some("200") {
            return Err(format!("metrics port {port}: {status}"));
        }
        parse(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| format!("metrics port {port}: no answer within {timeout:?}"))?
}

/// What was last counted of one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeMark {
    pub node_id: u32,
    pub started_at: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub messages_in: u64,
}

/// An instance's traffic since it was created (only grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub messages_in: u64,
}

/// The totals after a reading of some nodes (`read`: node id and figures; nodes that could
/// not be read are left out and keep their marks), and the marks to keep for the next one.
///
/// Per node: the same process as its mark adds what grew since (a figure lower than the mark
/// adds nothing); a new process (another start time), or a node never read before, adds all
/// it counted since its start.
pub fn advance(
    totals: Totals,
    marks: &[NodeMark],
    read: &[(u32, NodeCounters)],
) -> (Totals, Vec<NodeMark>) {
    let mut totals = totals;
    let mut next: Vec<NodeMark> = marks.to_vec();
    for (node_id, now) in read {
        let mark = next.iter_mut().find(|m| m.node_id == *node_id);
        let since = match mark.as_deref() {
            Some(m) if m.started_at == now.started_at => (m.bytes_in, m.bytes_out, m.messages_in),
            _ => (0, 0, 0),
        };
        totals.bytes_in += now.bytes_in.saturating_sub(since.0);
        totals.bytes_out += now.bytes_out.saturating_sub(since.1);
        totals.messages_in += now.messages_in.saturating_sub(since.2);
        let fresh = NodeMark {
            node_id: *node_id,
            started_at: now.started_at,
            // Never backwards within one process, so a figure read low once is not counted
            // twice when it reads right again.
            bytes_in: now.bytes_in.max(since.0),
            bytes_out: now.bytes_out.max(since.1),
            messages_in: now.messages_in.max(since.2),
        };
        match mark {
            Some(m) => *m = fresh,
            None => next.push(fresh),
        }
    }
    next.sort_by_key(|m| m.node_id);
    (totals, next)
}

/// The data an instance keeps, counted once however many replicas hold it: per partition, its
/// largest replica (the leader's, or a follower's that is ahead of a truncating leader), from
/// DescribeLogDirs of every node. Replicas being moved between directories (`future`) are left
/// out. None when no node answered.
pub fn retained_bytes(
    dirs: &std::collections::BTreeMap<
        i32,
        Result<Vec<crate::admin::LogDir>, crate::admin::AdminError>,
    >,
) -> Option<u64> {
    let mut largest: std::collections::HashMap<(&str, i32), i64> = std::collections::HashMap::new();
    let mut answered = false;
    for node in dirs.values().filter_map(|r| r.as_ref().ok()) {
        answered = true;
        for replica in node
            .iter()
            .flat_map(|d| &d.partitions)
            .filter(|r| !r.future)
        {
            let size = largest
                .entry((replica.topic.as_str(), replica.partition))
                .or_default();
            *size = (*size).max(replica.size);
        }
    }
    answered.then(|| {
        largest
            .values()
            .map(|s| u64::try_from(*s).unwrap_or(0))
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP process_start_time_seconds Start time of the process since unix epoch.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.765084812345E9
process_resident_memory_bytes 4.2532864E8
kafka_server_brokertopicmetrics_bytesin_total 123456.0
kafka_server_brokertopicmetrics_bytesin_total{topic=\"orders\",} 100000.0
kafka_server_brokertopicmetrics_bytesout_total 654321.0
kafka_server_brokertopicmetrics_messagesin_total 1000.0
kafka_server_brokertopicmetrics_replicationbytesin_total 999999.0
";

    #[test]
    fn retained_counts_each_partition_once_at_its_largest_replica() {
        use crate::admin::{LogDir, ReplicaSize};
        let dir = |replicas: &[(&str, i32, i64, bool)]| LogDir {
            path: "/d".into(),
            error: None,
            total_bytes: None,
            usable_bytes: None,
            partitions: replicas
                .iter()
                .map(|(topic, partition, size, future)| ReplicaSize {
                    topic: topic.to_string(),
                    partition: *partition,
                    size: *size,
                    offset_lag: 0,
                    future: *future,
                })
                .collect(),
        };
        let mut dirs = std::collections::BTreeMap::new();
        dirs.insert(
            0,
            Ok(vec![dir(&[("a", 0, 100, false), ("a", 1, 50, false)])]),
        );
        dirs.insert(
            1,
            Ok(vec![dir(&[
                ("a", 0, 90, false),
                ("a", 1, 60, false),
                ("a", 0, 500, true),
            ])]),
        );
        dirs.insert(2, Err(crate::admin::AdminError::UnknownNode(2)));
        assert_eq!(retained_bytes(&dirs), Some(160));
        let none: std::collections::BTreeMap<i32, Result<Vec<LogDir>, crate::admin::AdminError>> =
            [(0, Err(crate::admin::AdminError::UnknownNode(2)))]
                .into_iter()
                .collect();
        assert_eq!(retained_bytes(&none), None);
    }

    #[test]
    fn reads_the_node_totals_and_not_the_per_topic_or_replication_series() {
        let c = parse(TEXT).unwrap();
        assert_eq!(c.started_at, 1_765_084_812.345);
        assert_eq!(c.bytes_in, 123_456);
        assert_eq!(c.bytes_out, 654_321);
        assert_eq!(c.messages_in, 1000);
        assert_eq!(c.resident_bytes, 425_328_640);
    }

    #[test]
    fn a_node_nobody_produced_to_reads_zero_but_a_text_without_a_start_is_refused() {
        let fresh = parse("process_start_time_seconds 5\n").unwrap();
        assert_eq!((fresh.bytes_in, fresh.messages_in), (0, 0));
        assert!(parse("kafka_server_brokertopicmetrics_bytesin_total 5\n").is_err());
        let bad = parse(
            "process_start_time_seconds 5\nkafka_server_brokertopicmetrics_bytesin_total NaN\n",
        );
        assert!(bad.unwrap_err().contains("bytesin"));
        assert!(parse("process_start_time_seconds -1\n").is_err());
    }

    fn node(started_at: f64, bytes_in: u64, bytes_out: u64, messages_in: u64) -> NodeCounters {
        NodeCounters {
            started_at,
            bytes_in,
            bytes_out,
            messages_in,
            resident_bytes: 0,
        }
    }

    #[test]
    fn totals_add_what_each_node_counted_since_the_last_reading() {
        let (t, marks) = advance(
            Totals::default(),
            &[],
            &[(0, node(1.0, 100, 10, 1)), (1, node(1.0, 50, 0, 1))],
        );
        assert_eq!(
            t,
            Totals {
                bytes_in: 150,
                bytes_out: 10,
                messages_in: 2
            }
        );
        let (t, marks) = advance(
            t,
            &marks,
            &[(0, node(1.0, 300, 10, 3)), (1, node(1.0, 50, 40, 1))],
        );
        assert_eq!(
            t,
            Totals {
                bytes_in: 350,
                bytes_out: 50,
                messages_in: 4
            }
        );
        assert_eq!(marks.len(), 2);
    }

    #[test]
    fn a_restarted_node_adds_what_it_counted_since_its_start() {
        let (t, marks) = advance(Totals::default(), &[], &[(0, node(1.0, 1000, 0, 10))]);
        // Restarted: counters at 70, lower than the mark, and another start time.
        let (t, marks) = advance(t, &marks, &[(0, node(2.0, 70, 0, 1))]);
        assert_eq!(t.bytes_in, 1070);
        assert_eq!(t.messages_in, 11);
        assert_eq!(marks[0].started_at, 2.0);
    }

    #[test]
    fn a_node_not_read_keeps_its_mark_and_counts_when_read_again() {
        let (t, marks) = advance(
            Totals::default(),
            &[],
            &[(0, node(1.0, 100, 0, 1)), (1, node(1.0, 100, 0, 1))],
        );
        let (t, marks) = advance(t, &marks, &[(0, node(1.0, 150, 0, 2))]);
        assert_eq!(t.bytes_in, 250);
        let (t, _) = advance(t, &marks, &[(1, node(1.0, 400, 0, 4))]);
        assert_eq!(t.bytes_in, 550);
        assert_eq!(t.messages_in, 6);
    }

    #[test]
    fn a_figure_that_reads_lower_within_one_process_adds_nothing_now_or_later() {
        let (t, marks) = advance(Totals::default(), &[], &[(0, node(1.0, 100, 0, 1))]);
        let (t, marks) = advance(t, &marks, &[(0, node(1.0, 90, 0, 1))]);
        assert_eq!(t.bytes_in, 100);
        let (t, _) = advance(t, &marks, &[(0, node(1.0, 100, 0, 1))]);
        assert_eq!(t.bytes_in, 100);
    }
}
