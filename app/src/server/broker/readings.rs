//! Traffic readings: every few seconds each running broker's counters are read from its
//! storage, kept in memory for the live chart, and once a minute (and near each hour's end)
//! stored for metering.

use super::meter::{self, Counters};
use super::BrokerProvisioner;
use crate::domain::metering::{Traffic, HOUR};
use crate::domain::sizing;
use crate::server::provisioner::ProvisionError;
use crate::server::store::{self, instances::InstanceRow};
use crate::wire::kafka::{LiveTraffic, TrafficPoint};
use std::collections::VecDeque;
use std::sync::Weak;
use std::time::Duration;

const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Readings kept in memory for the page (10 minutes).
const LIVE_POINTS: usize = 120;
/// One reading a minute goes to the database for metering.
const PERSIST_EVERY_S: i64 = 60;

pub const BASIS: &str = "Messages in and bytes in are counted from the broker's records; \
    messages out are counted from consumer groups' committed offsets (consumers that never \
    commit are not seen); bytes out are estimated as messages out times the mean record size; \
    data retained is the broker's storage on disk.";

pub(super) struct Readings {
    pub(super) live: VecDeque<(i64, Counters)>,
    pub(super) persisted_at: i64,
}

const MIB: u64 = 1024 * 1024;

impl BrokerProvisioner {
    /// One reading of the broker's counters, kept in memory and (once a minute, or when
    /// `persist`) in the database. False when the storage could not be read.
    pub(super) async fn read_traffic(&self, instance_id: i64, persist: bool) -> bool {
        let now = self.clock.unix();
        let last = self
            .readings
            .lock()
            .ok()
            .and_then(|r| r.get(&instance_id).and_then(|r| r.live.back().copied()));
        let (previous, persisted_at) = match last {
            Some((_, counters)) => (counters, None),
            // First reading since this console started: go on from the last stored one.
            None => (
                store::broker_samples::latest(&self.pool, instance_id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                Some(0),
            ),
        };
        let counters = match meter::read(&self.dir(instance_id), previous).await {
            Ok(counters) => counters,
            Err(error) => {
                let error = format!("{error:#}");
                tracing::debug!(instance = instance_id, %error, "no traffic reading");
                return false;
            }
        };
        let due = {
            let Ok(mut readings) = self.readings.lock() else {
                return false;
            };
            let entry = readings.entry(instance_id).or_insert(Readings {
                live: VecDeque::new(),
                persisted_at: persisted_at.unwrap_or(0),
            });
            entry.live.push_back((now, counters));
            while entry.live.len() > LIVE_POINTS {
                entry.live.pop_front();
            }
            // Also the first reading of each hour, so that every hour has a reading near
            // its end for metering.
            let due = persist
                || now - entry.persisted_at >= PERSIST_EVERY_S
                || now.div_euclid(HOUR) != entry.persisted_at.div_euclid(HOUR);
            if due {
                entry.persisted_at = now;
            }
            due
        };
        if due {
            if let Err(error) =
                store::broker_samples::insert(&self.pool, instance_id, now, &counters).await
            {
                tracing::warn!(instance = instance_id, %error, "traffic reading not stored");
            }
        }
        true
    }

    /// The traffic of the hour from `hour_start`: the difference of the stored readings at
    /// its start and its end.
    pub(super) async fn hour_traffic(
        &self,
        instance: &InstanceRow,
        hour_start: i64,
    ) -> Result<Traffic, ProvisionError> {
        let at = |t| store::broker_samples::at_or_before(&self.pool, instance.id, t);
        let start = at(hour_start).await?;
        let end = at(hour_start + HOUR).await?;
        let start = start.unwrap_or_default();
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
}

/// Reads every running broker's traffic every few seconds, for as long as the provisioner
/// lives.
pub(super) fn spawn_readings(provisioner: Weak<BrokerProvisioner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(provisioner) = provisioner.upgrade() else {
                return;
            };
            for id in provisioner.serving() {
                provisioner.read_traffic(id, false).await;
            }
        }
    });
}

fn difference(later: &Counters, earlier: &Counters) -> Traffic {
    Traffic {
        bytes_in: later.bytes_in.saturating_sub(earlier.bytes_in),
        bytes_out: later.bytes_out.saturating_sub(earlier.bytes_out),
        bytes_retained: later.bytes_retained,
    }
}
