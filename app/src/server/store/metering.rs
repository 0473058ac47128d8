//! The metering ledger and its progress, and the state history metering reads.

use crate::domain::metering::HistoryPoint;
use sqlx::{SqliteConnection, SqlitePool};

/// The state history of every instance that existed before `until`, in (instance, time)
/// order: what AKU-hours are computed from.
pub async fn histories(
    pool: &SqlitePool,
    until: i64,
) -> Result<Vec<(i64, Vec<HistoryPoint>)>, sqlx::Error> {
    let rows: Vec<(i64, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT id, instance_id, at, state, size_aku FROM instance_history
         WHERE instance_id IN (SELECT instance_id FROM instance_history WHERE at < ?)
         ORDER BY instance_id, at, id",
    )
    .bind(until)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(i64, Vec<HistoryPoint>)> = Vec::new();
    for (id, instance_id, at, state, size) in rows {
        let point = HistoryPoint {
            at,
            state: super::instances::state_of("instance_history", id, &state)?,
            size_aku: super::decode::count("instance_history", id, "size_aku", size)?,
        };
        match out.last_mut() {
            Some((id, points)) if *id == instance_id => points.push(point),
            _ => out.push((instance_id, vec![point])),
        }
    }
    Ok(out)
}

/// The earliest moment any instance existed (where a first back-fill starts).
pub async fn first_history(pool: &SqlitePool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(at) FROM instance_history")
        .fetch_one(pool)
        .await
}

pub async fn metered_until(conn: &mut SqliteConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT metered_until FROM metering_progress WHERE id = 1")
        .fetch_optional(conn)
        .await
}

pub async fn set_metered_until(conn: &mut SqliteConnection, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO metering_progress (id, metered_until) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET metered_until = MAX(metered_until, excluded.metered_until)",
    )
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}

pub struct NewRecord<'a> {
    pub record_id: String,
    pub instance_id: i64,
    pub hour_start: i64,
    pub dimension: &'a str,
    pub quantity: String,
    pub license_id: Option<&'a str>,
}

/// Appends a record unless that instance, hour and dimension is recorded already. Returns
/// whether it was added.
pub async fn insert(
    conn: &mut SqliteConnection,
    r: NewRecord<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO usage_ledger (record_id, instance_id, hour_start, dimension, quantity, license_id, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&r.record_id)
    .bind(r.instance_id)
    .bind(r.hour_start)
    .bind(r.dimension)
    .bind(&r.quantity)
    .bind(r.license_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The license in force at `t`: the latest key applied before it.
pub async fn license_at(
    conn: &mut SqliteConnection,
    t: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT license_id FROM license_keys WHERE applied_at <= ? ORDER BY id DESC LIMIT 1",
    )
    .bind(t)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LedgerRow {
    pub record_id: String,
    pub instance_id: i64,
    pub instance_name: String,
    pub hour_start: i64,
    pub dimension: String,
    pub quantity: String,
    pub license_id: Option<String>,
}

/// Records with an hour in [from, until), in (hour, instance, dimension) order: at most
/// `limit` of those after `after` (a record's hour, instance and dimension).
pub async fn records(
    pool: &SqlitePool,
    from: i64,
    until: i64,
    after: Option<(i64, i64, String)>,
    limit: usize,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    // The first batch starts before every record of the hour `from` (ids are positive). One
    // row-value bound, without a separate `hour_start >= from`, is what lets SQLite seek the
    // export index to the cursor (EXPLAIN QUERY PLAN); with both it walks the cursor's hour.
    let (hour, instance, dimension) = after.unwrap_or((from, i64::MIN, String::new()));
    sqlx::query_as(
        "SELECT l.record_id, l.instance_id, i.name AS instance_name, l.hour_start, l.dimension,
                l.quantity, l.license_id
         FROM usage_ledger l JOIN instances i ON i.id = l.instance_id
         WHERE (l.hour_start, l.instance_id, l.dimension) > (?, ?, ?) AND l.hour_start < ?
         ORDER BY l.hour_start, l.instance_id, l.dimension LIMIT ?",
    )
    .bind(hour)
    .bind(instance)
    .bind(dimension)
    .bind(until)
    .bind(limit as i64)
    .fetch_all(pool)
    .await
}

/// Instance names by id (the live hour's rows need them too).
pub async fn instance_names(pool: &SqlitePool) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM instances")
        .fetch_all(pool)
        .await
}
