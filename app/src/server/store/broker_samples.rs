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

/// The latest reading of each of the first `limit` instances that are not deleted (by id), with
/// the instance's name: what `/metrics` shows per instance, in one query.
pub async fn latest_of_live(
    pool: &SqlitePool,
    limit: i64,
) -> Result<Vec<(i64, String, Counters)>, sqlx::Error> {
    // (id, name, then the reading's six columns)
    type Latest = (i64, String, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Latest> = sqlx::query_as(
        "SELECT i.id, i.name, s.messages_in, s.bytes_in, s.messages_out, s.bytes_out,
                s.bytes_retained, s.record_cursor
         FROM (SELECT id, name FROM instances WHERE state <> 'deleted' ORDER BY id LIMIT ?) i
         JOIN broker_samples s ON s.instance_id = i.id
          AND s.at = (SELECT MAX(at) FROM broker_samples WHERE instance_id = i.id)
         ORDER BY i.id",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, a, b, c, d, e, f)| (id, name, counters((a, b, c, d, e, f))))
        .collect())
}
