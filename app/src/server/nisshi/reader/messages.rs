//! A partition's messages, in offset order, with their headers.

use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::{bad, blob, int, sql, Message, Partition, ReadError};

/// Attribute bits of a record that the move cannot carry as a plain message.
const TRANSACTIONAL: i64 = 0x10;
const CONTROL: i64 = 0x20;

/// Up to `limit` messages of `partition` of `topic` after offset `after` (from the first
/// when `None`), in offset order, with their headers.
pub async fn messages(
    pool: &SqlitePool,
    topic: &str,
    partition: &Partition,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, ReadError> {
    let after = after.unwrap_or(-1);
    let rows = sqlx::query(
        "SELECT offset_id, typeof(offset_id) AS offset_id_t, attributes, \
         typeof(attributes) AS attributes_t, timestamp, typeof(timestamp) AS timestamp_t, \
         k, typeof(k) AS k_t, v, typeof(v) AS v_t \
         FROM record WHERE topition = ? AND offset_id > ? ORDER BY offset_id LIMIT ?",
    )
    .bind(partition.topition)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(sql("record"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let place0 = || format!("{topic}-{}", partition.index);
        let offset = int(row, "offset_id", "record.offset_id", false, &place0)?.unwrap_or(-1);
        let place = || format!("{topic}-{} offset {offset}", partition.index);
        let attributes = int(row, "attributes", "record.attributes", true, &place)?.unwrap_or(0);
        if attributes & (TRANSACTIONAL | CONTROL) != 0 {
            return Err(bad(
                "record.attributes",
                format!(
                    "{attributes:#x} at {}: a transaction's record or marker; the move carries \
                     plain messages only",
                    place()
                ),
            ));
        }
        let Some(timestamp_ms) = int(row, "timestamp", "record.timestamp", true, &place)? else {
            return Err(bad(
                "record.timestamp",
                format!("null at {}; every message has a timestamp", place()),
            ));
        };
        out.push(Message {
            offset,
            timestamp_ms,
            key: blob(row, "k", "record.k", &place)?,
            value: blob(row, "v", "record.v", &place)?,
            headers: Vec::new(),
        });
    }
    let (Some(first), Some(last)) = (out.first(), out.last()) else {
        return Ok(out);
    };
    let rows = sqlx::query(
        "SELECT offset_id, ordinal, typeof(ordinal) AS ordinal_t, k, typeof(k) AS k_t, \
         v, typeof(v) AS v_t \
         FROM header WHERE topition = ? AND offset_id BETWEEN ? AND ? \
         ORDER BY offset_id, ordinal",
    )
    .bind(partition.topition)
    .bind(first.offset)
    .bind(last.offset)
    .fetch_all(pool)
    .await
    .map_err(sql("header"))?;
    let mut i = 0;
    for row in &rows {
        let offset: i64 = row.try_get("offset_id").map_err(|_| {
            bad(
                "header.offset_id",
                format!("not an integer, a header of {topic}-{}", partition.index),
            )
        })?;
        let place = || format!("{topic}-{} offset {offset}", partition.index);
        while i < out.len() && out[i].offset < offset {
            i += 1;
        }
        if i == out.len() || out[i].offset != offset {
            return Err(bad(
                "header.offset_id",
                format!("a header of {}, a record the file does not have", place()),
            ));
        }
        let ordinal = int(row, "ordinal", "header.ordinal", false, &place)?.unwrap_or(-1);
        if ordinal != out[i].headers.len() as i64 {
            return Err(bad(
                "header.ordinal",
                format!(
                    "{ordinal} at {}; {} expected (0, 1... in order)",
                    place(),
                    out[i].headers.len()
                ),
            ));
        }
        let Some(key) = blob(row, "k", "header.k", &place)? else {
            return Err(bad(
                "header.k",
                format!("null at {}; a header has a name", place()),
            ));
        };
        let key = String::from_utf8(key).map_err(|_| {
            bad(
                "header.k",
                format!("not UTF-8 at {}; a Kafka header's name is text", place()),
            )
        })?;
        if out[i].headers.iter().any(|(k, _)| *k == key) {
            return Err(bad(
                "header.k",
                format!(
                    "{key:?} twice at {}; the move carries each header name once",
                    place()
                ),
            ));
        }
        let value = blob(row, "v", "header.v", &place)?;
        out[i].headers.push((key, value));
    }
    Ok(out)
}

/// Every message of a partition (for tests and small stores: the copy reads in batches).
pub async fn all_messages(
    pool: &SqlitePool,
    topic: &str,
    partition: &Partition,
) -> Result<Vec<Message>, ReadError> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map(|m: &Message| m.offset);
        let batch = messages(pool, topic, partition, after, 500).await?;
        if batch.is_empty() {
            return Ok(out);
        }
        out.extend(batch);
    }
}
