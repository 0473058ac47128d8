//! Readings of the brokers' traffic counters (see `server::broker::meter`).

use crate::server::broker::meter::Counters;
use sqlx::SqlitePool;

type Row = (i64, i64, i64, i64, i64, i64);

fn counters(
    (messages_in, bytes_in, messages_out, bytes_out, bytes_retained, cursor): Row,
) -> Counters {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Counters {
        messages_in: n(messages_in),
        bytes_in: n(bytes_in),
        messages_out: n(messages_out),
        bytes_out: n(bytes_out),
        bytes_retained: n(bytes_retained),
        record_cursor: cursor,
    }
}

const COLUMNS: &str =
    "messages_in, bytes_in, messages_out, bytes_out, bytes_retained, record_cursor";

/// Stores a reading (a second reading in the same second replaces the first).
pub async fn insert(
    pool: &SqlitePool,
    instance_id: i64,
    at: i64,
    c: &Counters,
) -> Result<(), sqlx::Error> {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(&format!(
        "INSERT OR REPLACE INTO broker_samples (instance_id, at, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(instance_id)
    .bind(at)
    .bind(i(c.messages_in))
    .bind(i(c.bytes_in))
    .bind(i(c.messages_out))
    .bind(i(c.bytes_out))
    .bind(i(c.bytes_retained))
    .bind(c.record_cursor)
    .execute(pool)
    .await?;
    Ok(())
}

/// The last reading taken at or before `at`.
pub async fn at_or_before(
    pool: &SqlitePool,
    instance_id: i64,
    at: i64,
) -> Result<Option<Counters>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broker_samples WHERE instance_id = ? AND at <= ? ORDER BY at DESC LIMIT 1"
    ))
    .bind(instance_id)
    .bind(at)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(counters))
}

/// The latest reading.
pub async fn latest(pool: &SqlitePool, instance_id: i64) -> Result<Option<Counters>, sqlx::Error> {
    at_or_before(pool, instance_id, i64::MAX).await
}
