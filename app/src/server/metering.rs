//! The metering task: at each hour boundary, and at start for every hour missed while the
//! console was down, it appends the ledger records of each instance for each closed hour. An
//! hour is written in one transaction together with the progress mark, and records are unique
//! per instance, hour and dimension: no hour is lost, none is counted twice, whenever and
//! however often this runs.

use super::store::{self, instances::InstanceRow, metering::NewRecord};
use super::{AppState, ServerError};
use crate::domain::metering::{self, HistoryPoint, Traffic, HOUR};
use crate::domain::Decimal;
use std::collections::HashMap;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MeterReport {
    /// Closed hours metered by this run.
    pub hours: u64,
    /// Records added.
    pub records: u64,
}

/// The ledger records of every instance for the hour starting at `hour`, computed from the
/// histories and the provisioner's traffic (not written).
pub async fn records_for_hour(
    state: &AppState,
    histories: &[(i64, Vec<HistoryPoint>)],
    instances: &HashMap<i64, InstanceRow>,
    hour: i64,
) -> Vec<(i64, &'static str, Decimal)> {
    let mut out = Vec::new();
    for (instance_id, history) in histories {
        let Some(instance) = instances.get(instance_id) else {
            continue;
        };
        let minutes = metering::billed_minutes(history, hour);
        let Some(size) = minutes.iter().map(|(size, _)| *size).max() else {
            continue;
        };
        let provisioner = state.operations.provisioner();
        let traffic = match provisioner.traffic(instance, hour, size).await {
            Ok(traffic) => traffic,
            Err(error) => {
                // Capacity is still metered; the traffic of this hour is not known.
                let error = super::provisioner::reason(&error);
                tracing::warn!(instance = instance_id, hour, %error, "no traffic figures for this hour");
                Traffic::default()
            }
        };
        for (dimension, quantity) in metering::hour_records(history, hour, traffic) {
            out.push((*instance_id, dimension, quantity));
        }
    }
    out
}

async fn instances_by_id(state: &AppState) -> Result<HashMap<i64, InstanceRow>, ServerError> {
    let rows = store::instances::all_including_deleted(&state.pool).await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

/// Meters every closed hour not metered yet. Safe to run at any time, concurrently too (the
/// progress mark and the unique records decide).
pub async fn run_due(state: &AppState) -> Result<MeterReport, ServerError> {
    let now = state.clock.unix();
    let mut conn = state.pool.acquire().await?;
    let metered_until = store::metering::metered_until(&mut conn).await?;
    drop(conn);
    let first = store::metering::first_history(&state.pool).await?;
    let due = metering::due_hours(metered_until, first, now);
    if due.is_empty() {
        return Ok(MeterReport::default());
    }
    let (start, due_until) = (due.start, due.end);
    let histories = store::metering::histories(&state.pool, due_until).await?;
    let instances = instances_by_id(state).await?;
    let mut report = MeterReport::default();
    let mut hour = start;
    while hour < due_until {
        let records = records_for_hour(state, &histories, &instances, hour).await;
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let license_id = store::metering::license_at(&mut tx, hour + HOUR).await?;
        for (instance_id, dimension, quantity) in records {
            let added = store::metering::insert(
                &mut tx,
                NewRecord {
                    record_id: metering::record_id(
                        &state.installation_id,
                        instance_id,
                        hour,
                        dimension,
                    ),
                    instance_id,
                    hour_start: hour,
                    dimension,
                    quantity: quantity.to_string(),
                    license_id: license_id.as_deref(),
                },
                now,
            )
            .await?;
            report.records += u64::from(added);
        }
        store::metering::set_metered_until(&mut tx, hour + HOUR).await?;
        tx.commit().await?;
        report.hours += 1;
        hour += HOUR;
    }
    if report.hours > 1 {
        tracing::info!(
            hours = report.hours,
            records = report.records,
            "metering caught up"
        );
    }
    Ok(report)
}

/// The current, unfinished hour's records so far (not in the ledger: the usage page adds them
/// as "so far"). The history is cut at `now`, so the rest of the hour is not counted.
pub async fn current_hour_so_far(
    state: &AppState,
) -> Result<Vec<(i64, &'static str, Decimal)>, ServerError> {
    let now = state.clock.unix();
    let hour = metering::hour_floor(now);
    let mut histories = store::metering::histories(&state.pool, now + 1).await?;
    for (_, history) in histories.iter_mut() {
        history.retain(|p| p.at <= now);
        if let Some(last) = history.last().copied() {
            history.push(HistoryPoint {
                at: now,
                state: crate::domain::instance::State::Deleted,
                size_aku: last.size_aku,
            });
        }
    }
    let instances = instances_by_id(state).await?;
    // The billed part of the hour ends now, so traffic counts for the elapsed part only.
    let records = records_for_hour(state, &histories, &instances, hour).await;
    Ok(records)
}
