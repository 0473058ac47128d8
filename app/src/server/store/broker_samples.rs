//! Readings of each instance's traffic counters (see `server::kafka::traffic`), and what was
//! last counted of each of its Kafka nodes (`engine::meter::NodeMark`), stored together.

use byoc_engine::meter::NodeMark;
use sqlx::SqlitePool;

/// Cumulative traffic of one instance since it was created (never decreases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: u64,
    pub bytes_in: u64,
    pub messages_out: u64,
    pub bytes_out: u64,
    /// A level, not a flow: the data the instance keeps at the reading.
    pub bytes_retained: u64,
}

type Row = (i64, i64, i64, i64, i64);

fn counters((messages_in, bytes_in, messages_out, bytes_out, bytes_retained): Row) -> Counters {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Counters {
        messages_in: n(messages_in),
        bytes_in: n(bytes_in),
        messages_out: n(messages_out),
        bytes_out: n(bytes_out),
        bytes_retained: n(bytes_retained),
    }
}

const COLUMNS: &str = "messages_in, bytes_in, messages_out, bytes_out, bytes_retained";

fn db_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stores a reading and the node marks it was counted from, in one transaction (a second
/// reading in the same second replaces the first).
pub async fn insert(
    pool: &SqlitePool,
    instance_id: i64,
    at: i64,
    c: &Counters,
    marks: &[NodeMark],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!(
        "INSERT OR REPLACE INTO broker_samples (instance_id, at, {COLUMNS}, record_cursor)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
    ))
    .bind(instance_id)
    .bind(at)
    .bind(db_int(c.messages_in))
    .bind(db_int(c.bytes_in))
    .bind(db_int(c.messages_out))
    .bind(db_int(c.bytes_out))
    .bind(db_int(c.bytes_retained))
    .execute(&mut *tx)
    .await?;
    for m in marks {
        sqlx::query(
            "INSERT OR REPLACE INTO kafka_node_marks
               (instance_id, node_id, started_at, bytes_in, bytes_out, messages_in)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(instance_id)
        .bind(i64::from(m.node_id))
        .bind(m.started_at)
        .bind(db_int(m.bytes_in))
        .bind(db_int(m.bytes_out))
        .bind(db_int(m.messages_in))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The node marks stored with the latest reading. A row that breaks the table's rules (a
/// node id out of range) is an error, not a mark read as zero.
pub async fn marks(pool: &SqlitePool, instance_id: i64) -> Result<Vec<NodeMark>, sqlx::Error> {
    let rows: Vec<(i64, f64, i64, i64, i64)> = sqlx::query_as(
        "SELECT node_id, started_at, bytes_in, bytes_out, messages_in FROM kafka_node_marks
         WHERE instance_id = ? ORDER BY node_id",
    )
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(node_id, started_at, bytes_in, bytes_out, messages_in)| {
            let n = |v: i64| u64::try_from(v).map_err(|e| sqlx::Error::Decode(Box::new(e)));
            Ok(NodeMark {
                node_id: u32::try_from(node_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                started_at,
                bytes_in: n(bytes_in)?,
                bytes_out: n(bytes_out)?,
                messages_in: n(messages_in)?,
            })
        })
        .collect()
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
    // (id, name, then the reading's five columns)
    type Latest = (i64, String, i64, i64, i64, i64, i64);
    let rows: Vec<Latest> = sqlx::query_as(
        "SELECT i.id, i.name, s.messages_in, s.bytes_in, s.messages_out, s.bytes_out,
                s.bytes_retained
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
        .map(|(id, name, a, b, c, d, e)| (id, name, counters((a, b, c, d, e))))
        .collect())
}
