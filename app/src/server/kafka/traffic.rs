//! Traffic readings: every few seconds each running cluster's nodes are read (their JMX
//! agents, `engine::meter`), kept in memory for the live chart, and once a minute (and at the
//! first reading of each hour, and when the console stops) stored for metering, with the
//! node marks they were counted from (one transaction). Data retained is asked of the nodes
//! (DescribeLogDirs) at each reading.

use super::KafkaProvisioner;
use crate::domain::metering::{Traffic, HOUR};
use crate::domain::sizing;
use crate::server::provisioner::ProvisionError;
use crate::server::store::broker_samples::{self, Counters};
use crate::server::store::{self, instances::InstanceRow};
use crate::wire::kafka::{LiveTraffic, TrafficPoint};
use byoc_engine::meter::{self, NodeMark, Totals};
use std::collections::VecDeque;
use std::sync::Weak;
use std::time::Duration;

const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// A node's agent that has not answered in this long is left out of the reading (its
/// mark stays, so what it counted meanwhile is added when it answers again).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);
/// Readings kept in memory for the page (10 minutes).
const LIVE_POINTS: usize = 120;
/// One reading a minute goes to the database for metering.
const PERSIST_EVERY_S: i64 = 60;

pub const BASIS: &str = "Bytes in and out and messages in are counted by Kafka on each node \
    (what clients produced and fetched; replication between nodes is not counted) and summed \
    over the instance's nodes; messages out are estimated as bytes out divided by the mean \
    size of a message in; data retained is each partition's largest replica on disk, counted \
    once (DescribeLogDirs).";

/// One instance's readings in memory.
pub(super) struct Readings {
    live: VecDeque<(i64, Counters)>,
    marks: Vec<NodeMark>,
    persisted_at: i64,
}

const MIB: u64 = 1024 * 1024;

impl KafkaProvisioner {
    /// Instances with at least one node process running on this host.
    pub(super) fn running_instances(&self) -> Vec<i64> {
        self.instance_dirs()
            .into_iter()
            .filter(|id| {
                self.layout_on_host(*id).is_some_and(|layout| {
                    self.cluster(*id)
                        .processes(&layout)
                        .iter()
                        .any(|(_, p)| p.is_some())
                })
            })
            .collect()
    }

    /// One reading of the cluster's counters, kept in memory and (once a minute, or when
    /// `persist`) in the database. False when no node could be read.
    pub(super) async fn read_traffic(&self, instance_id: i64, persist: bool) -> bool {
        // Every node the instance has (broker-only nodes lead partitions too).
        let Some(layout) = self.layout_on_host(instance_id) else {
            return false;
        };
        let mut read = Vec::with_capacity(layout.nodes.len());
        for node in &layout.nodes {
            match meter::scrape(node.ports.metrics, SCRAPE_TIMEOUT).await {
                Ok(counters) => read.push((node.node_id, counters)),
                Err(error) => tracing::debug!(instance = instance_id, %error, "no reading"),
            }
        }
        if read.is_empty() {
            return false;
        }
        let now = self.clock.unix();
        let remembered = self.readings.lock().ok().and_then(|r| {
            r.get(&instance_id)
                .and_then(|r| Some((r.live.back()?.1, r.marks.clone())))
        });
        let (previous, marks, first_since_start) = match remembered {
            Some((counters, marks)) => (counters, marks, false),
            // First reading since this console started: go on from the last stored one.
            None => {
                let stored = broker_samples::latest(&self.pool, instance_id).await;
                let marks = broker_samples::marks(&self.pool, instance_id).await;
                match (stored, marks) {
                    (Ok(stored), Ok(marks)) => (stored.unwrap_or_default(), marks, true),
                    (Err(error), _) | (_, Err(error)) => {
                        // Never count from zero over stored figures that could not be read.
                        tracing::warn!(instance = instance_id, %error, "stored reading unreadable");
                        return false;
                    }
                }
            }
        };
        let totals = Totals {
            bytes_in: previous.bytes_in,
            bytes_out: previous.bytes_out,
            messages_in: previous.messages_in,
        };
        let (totals, marks) = meter::advance(totals, &marks, &read);
        let due = {
            let Ok(readings) = self.readings.lock() else {
                return false;
            };
            let persisted_at = match readings.get(&instance_id) {
                Some(r) if !first_since_start => r.persisted_at,
                _ => 0,
            };
            persist
                || now - persisted_at >= PERSIST_EVERY_S
                // The first reading of each hour too, so that every hour has one near its end.
                || now.div_euclid(HOUR) != persisted_at.div_euclid(HOUR)
        };
        // Asked at every reading (four small requests on loopback), so that the panel's
        // figure is as fresh as the traffic's; the last one stands when no node answers.
        let bytes_retained = self
            .retained(instance_id)
            .await
            .unwrap_or(previous.bytes_retained);
        let counters = Counters {
            messages_in: totals.messages_in,
            bytes_in: totals.bytes_in,
            messages_out: estimated_messages_out(&totals).max(previous.messages_out),
            bytes_out: totals.bytes_out,
            bytes_retained,
        };
        if due {
            if let Err(error) =
                broker_samples::insert(&self.pool, instance_id, now, &counters, &marks).await
            {
                // Kept in memory only: the next stored reading includes this one's traffic.
                tracing::warn!(instance = instance_id, %error, "traffic reading not stored");
            }
        }
        let Ok(mut readings) = self.readings.lock() else {
            return false;
        };
        let entry = readings.entry(instance_id).or_insert(Readings {
            live: VecDeque::new(),
            marks: Vec::new(),
            persisted_at: 0,
        });
        entry.live.push_back((now, counters));
        while entry.live.len() > LIVE_POINTS {
            entry.live.pop_front();
        }
        entry.marks = marks;
        if due {
            entry.persisted_at = now;
        }
        true
    }

    /// Data the instance keeps (each partition once), or None when no node answered.
    async fn retained(&self, instance_id: i64) -> Option<u64> {
        let mut conn = self.pool.acquire().await.ok()?;
        let row = store::instances::get(&mut conn, instance_id).await.ok()??;
        drop(conn);
        let admin = self.admin_of(&row).await.ok()?;
        let dirs = admin.describe_all_log_dirs().await.ok()?;
        meter::retained_bytes(&dirs)
    }

    /// The traffic of the hour from `hour_start`: the difference of the stored readings at
    /// its start and its end.
    pub(super) async fn hour_traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
    ) -> Result<Traffic, ProvisionError> {
        let at = |t| broker_samples::at_or_before(&self.pool, instance.id, t);
        let start = at(hour_start).await?.unwrap_or_default();
        let end = at(hour_start + HOUR).await?;
        Ok(end.map_or(Traffic::default(), |end| difference(&end, &start)))
    }

    /// The last ten minutes of readings as rates, and the totals, for the Kafka panel.
    pub(super) fn live(&self, instance: &InstanceRow) -> Option<LiveTraffic> {
        let readings = self.readings.lock().ok()?;
        let live = &readings.get(&instance.id)?.live;
        let (_, last) = live.back()?;
        let points = live
            .iter()
            .zip(live.iter().skip(1))
            .filter(|((t0, _), (t1, _))| t1 > t0)
            .map(|((t0, a), (t1, b))| {
                let seconds = (t1 - t0) as f64;
                let rate =
                    |later: u64, earlier: u64| later.saturating_sub(earlier) as f64 / seconds;
                TrafficPoint {
                    at: *t1,
                    messages_in_s: rate(b.messages_in, a.messages_in),
                    bytes_in_s: rate(b.bytes_in, a.bytes_in),
                    messages_out_s: rate(b.messages_out, a.messages_out),
                    bytes_out_s: rate(b.bytes_out, a.bytes_out),
                }
            })
            .collect();
        let (write, read) = sizing::capacity(instance.size());
        Some(LiveTraffic {
            points,
            messages_in_total: last.messages_in,
            bytes_in_total: last.bytes_in,
            messages_out_total: last.messages_out,
            bytes_retained: last.bytes_retained,
            write_capacity_bytes_s: u64::from(write) * MIB,
            read_capacity_bytes_s: u64::from(read) * MIB,
            basis: BASIS.into(),
        })
    }

    pub(super) fn latest(&self, instance_id: i64) -> Option<Counters> {
        let readings = self.readings.lock().ok()?;
        readings.get(&instance_id)?.live.back().map(|(_, c)| *c)
    }
}

/// Reads every cluster with a running node every few seconds, for as long as the provisioner
/// lives.
pub(super) fn spawn_readings(provisioner: Weak<KafkaProvisioner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(provisioner) = provisioner.upgrade() else {
                return;
            };
            for id in provisioner.running_instances() {
                provisioner.read_traffic(id, false).await;
            }
        }
    });
}

/// Messages out, estimated: Kafka counts bytes fetched, not messages.
fn estimated_messages_out(totals: &Totals) -> u64 {
    if totals.bytes_in == 0 {
        return 0;
    }
    let estimate =
        u128::from(totals.bytes_out) * u128::from(totals.messages_in) / u128::from(totals.bytes_in);
    u64::try_from(estimate).unwrap_or(u64::MAX)
}

fn difference(later: &Counters, earlier: &Counters) -> Traffic {
    Traffic {
        bytes_in: later.bytes_in.saturating_sub(earlier.bytes_in),
        bytes_out: later.bytes_out.saturating_sub(earlier.bytes_out),
        bytes_retained: later.bytes_retained,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_out_are_bytes_out_at_the_mean_message_size_in() {
        let totals = Totals {
            bytes_in: 1000,
            bytes_out: 3000,
            messages_in: 10,
        };
        assert_eq!(estimated_messages_out(&totals), 30);
        assert_eq!(estimated_messages_out(&Totals::default()), 0);
        let huge = Totals {
            bytes_in: 1,
            bytes_out: u64::MAX,
            messages_in: u64::MAX,
        };
        assert_eq!(estimated_messages_out(&huge), u64::MAX);
    }

    #[test]
    fn an_hour_is_the_difference_of_two_readings_and_retained_is_a_level() {
        let earlier = Counters {
            bytes_in: 100,
            bytes_out: 50,
            bytes_retained: 999,
            ..Counters::default()
        };
        let later = Counters {
            bytes_in: 400,
            bytes_out: 60,
            bytes_retained: 10,
            ..Counters::default()
        };
        let t = difference(&later, &earlier);
        assert_eq!((t.bytes_in, t.bytes_out, t.bytes_retained), (300, 10, 10));
    }
}
