//! Traffic measured from a broker's own storage: the broker keeps every record in its SQLite
//! file, which the console reads (read-only) every few seconds.
//!
//! - messages in: the sum of the partitions' high watermarks (counted);
//! - bytes in: key and value bytes of the records written since the last reading (counted,
//!   by a cursor over the record table);
//! - messages out: the sum of the consumer groups' committed offsets (counted; consumers that
//!   never commit are not seen);
//! - bytes out: messages out times the mean record size (estimated);
//! - retained: the size of the broker's files on disk (counted).

use crate::server::provisioner::ProvisionError;
use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use std::path::Path;

/// Cumulative counters of one broker since its instance was created (never decrease).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: u64,
    pub bytes_in: u64,
    pub messages_out: u64,
    pub bytes_out: u64,
    pub bytes_retained: u64,
    /// The last record row counted into `bytes_in`.
    pub record_cursor: i64,
}

pub const STORAGE_FILE: &str = "tansu.db";

/// Reads the broker's files and moves `previous` forward. A broker that has not created its
/// storage yet reads as no traffic.
pub async fn read(dir: &Path, previous: Counters) -> Result<Counters, ProvisionError> {
    let path = dir.join(STORAGE_FILE);
    let bytes_retained = retained_bytes(dir);
    if !path.exists() {
        return Ok(Counters {
            bytes_retained,
            ..previous
        });
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .connect()
        .await
        .context("cannot read the broker's storage")?;
    let result = query(&mut conn, previous, bytes_retained).await;
    let _ = conn.close().await;
    result.context("cannot read the broker's storage")
}

async fn query(
    conn: &mut sqlx::SqliteConnection,
    previous: Counters,
    bytes_retained: u64,
) -> Result<Counters, sqlx::Error> {
    let messages_in: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(high), 0) FROM watermark")
        .fetch_one(&mut *conn)
        .await?;
    let messages_out: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(committed_offset), 0) FROM consumer_offset")
            .fetch_one(&mut *conn)
            .await?;
    let (cursor, new_bytes): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(MAX(rowid), ?1),
                COALESCE(SUM(COALESCE(length(v), 0) + COALESCE(length(k), 0)), 0)
         FROM record WHERE rowid > ?1",
    )
    .bind(previous.record_cursor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(advance(
        previous,
        u64::try_from(messages_in).unwrap_or(0),
        u64::try_from(messages_out).unwrap_or(0),
        cursor,
        u64::try_from(new_bytes).unwrap_or(0),
        bytes_retained,
    ))
}

/// The counters after a reading: never backwards (a reading lower than the last one, such as
/// a consumer group that was deleted, adds nothing), bytes out at the mean record size so far.
fn advance(
    previous: Counters,
    messages_in: u64,
    messages_out: u64,
    cursor: i64,
    new_bytes: u64,
    bytes_retained: u64,
) -> Counters {
    let messages_in = messages_in.max(previous.messages_in);
    let bytes_in = previous.bytes_in + new_bytes;
    let consumed = messages_out.saturating_sub(previous.messages_out);
    let mean = bytes_in.checked_div(messages_in).unwrap_or(0);
    Counters {
        messages_in,
        bytes_in,
        messages_out: messages_out.max(previous.messages_out),
        bytes_out: previous.bytes_out + consumed * mean,
        bytes_retained,
        record_cursor: cursor.max(previous.record_cursor),
    }
}

/// The broker's files on disk (the database and its write-ahead log).
pub fn retained_bytes(dir: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(dir.join(format!("{STORAGE_FILE}{suffix}"))).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_only_move_forward() {
        let start = Counters::default();
        let one = advance(start, 100, 0, 100, 10_000, 4096);
        assert_eq!(one.messages_in, 100);
        assert_eq!(one.bytes_in, 10_000);
        // 50 consumed at the mean size of 100 bytes.
        let two = advance(one, 100, 50, 100, 0, 4096);
        assert_eq!(two.bytes_out, 5_000);
        // A consumer group that disappears does not make the counters go back.
        let three = advance(two, 100, 0, 100, 0, 4096);
        assert_eq!(three.messages_out, 50);
        assert_eq!(three.bytes_out, 5_000);
        assert_eq!(three.record_cursor, 100);
    }
}
