//! A nisshi 0.8.1 storage file (SQLite), read by the console itself, read-only: topics with
//! their partitions, watermarks and settings (retention), every message (key, value, headers,
//! timestamp) in offset order per partition, consumer groups' committed offsets, SCRAM users.
//!
//! nisshi's own tables: `topic`, `topition` (one row per partition), `watermark`, `record`,
//! `header`, `topic_configuration`, `consumer_group`, `consumer_offset`, `scram_credential`,
//! under one `cluster`. SQLite lets any column hold any type: each value read is checked
//! against what nisshi's schema allows (and what Kafka can carry), and one that is not is an
//! error naming its table and column and where it is, never replaced by a default.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::Row;

mod groups;
mod messages;
#[cfg(test)]
mod tests;

pub use messages::{all_messages, messages};

/// The schema version this reader knows (`nisshi_schema_version.version` of nisshi 0.8.1).
pub const SCHEMA_VERSION: i64 = 1;

/// Why a storage file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened (missing, not SQLite).
    #[error("{path}: cannot be opened as a SQLite file: {source}")]
    Open {
        /// The file.
        path: String,
        /// What SQLite said.
        source: sqlx::Error,
    },
    /// A query failed (a table or column of nisshi 0.8.1's schema is missing).
    #[error("{what}: {source}")]
    Sql {
        /// What was being read (`record`, `topic`...).
        what: &'static str,
        /// What SQLite said.
        source: sqlx::Error,
    },
    /// A value that nisshi's schema (or Kafka) does not allow.
    #[error("{at}: {message}")]
    Bad {
        /// `table.column`.
        at: &'static str,
        /// The value and where it is.
        message: String,
    },
}

fn bad(at: &'static str, message: impl Into<String>) -> ReadError {
    ReadError::Bad {
        at,
        message: message.into(),
    }
}

fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> ReadError {
    move |source| ReadError::Sql { what, source }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Partition index.
    pub index: i32,
    /// nisshi's `topition.id` of it.
    pub topition: i64,
    /// Watermarks: the first offset kept and the next offset to be written.
    pub low: i64,
    pub high: i64,
    /// Messages stored (offsets may have gaps below `high`: deleted messages).
    pub messages: u64,
    /// Bytes of their keys, values and headers (names and values).
    pub bytes: u64,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub replication_factor: i32,
    /// Partitions 0..n, in order.
    pub partitions: Vec<Partition>,
    /// `topic_configuration` rows (name -> value).
    pub configs: BTreeMap<String, String>,
    /// `retention.ms`, if set (-1: kept forever).
    pub retention_ms: Option<i64>,
    /// `retention.bytes`, if set (-1: no limit).
    pub retention_bytes: Option<i64>,
}

/// A consumer group and its committed offsets (the next offset to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// (topic, partition) -> committed offset.
    pub offsets: BTreeMap<(String, i32), i64>,
}

/// A SCRAM user: cannot be carried (Kafka needs the password, never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramUser {
    pub username: String,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: &'static str,
    pub iterations: i64,
}

/// What a storage file holds, messages aside ([`messages`] reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// Topics by name (internal ones left out).
    pub topics: Vec<Topic>,
    /// Groups by name.
    pub groups: Vec<Group>,
    /// SCRAM users by name.
    pub scram_users: Vec<ScramUser>,
}

impl Store {
    /// Messages of every partition.
    pub fn messages(&self) -> u64 {
        let parts = self.topics.iter().flat_map(|t| &t.partitions);
        parts.map(|p| p.messages).sum()
    }

    /// Bytes of every message ([`Partition::bytes`]).
    pub fn bytes(&self) -> u64 {
        let parts = self.topics.iter().flat_map(|t| &t.partitions);
        parts.map(|p| p.bytes).sum()
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its offset in nisshi.
    pub offset: i64,
    /// CreateTime, Unix ms.
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Headers in order (name, value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Message {
    /// Bytes of key, value and headers, as [`Partition::bytes`] counts them.
    pub fn bytes(&self) -> u64 {
        let len = |b: &Option<Vec<u8>>| b.as_ref().map_or(0, |b| b.len() as u64);
        let headers: u64 = self
            .headers
            .iter()
            .map(|(k, v)| k.len() as u64 + len(v))
            .sum();
        len(&self.key) + len(&self.value) + headers
    }
}

/// Opens `path` read-only and immutable (SQLite's `mode=ro&immutable=1`): nothing is
/// written next to it, not even the `-shm` and `-wal` files a WAL-mode file gets otherwise.
pub async fn open(path: &Path) -> Result<SqlitePool, ReadError> {
    let open_err = |source| ReadError::Open {
        path: path.display().to_string(),
        source,
    };
    if !path.is_file() {
        let source = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        return Err(open_err(source));
    }
    // Immutable means SQLite reads the main file alone: a write-ahead log that nisshi left
    // behind (stopped without a checkpoint) would be ignored, and its messages lost.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(bad(
            "-wal",
            format!(
                "{} holds writes not yet in the file: stop nisshi cleanly (or run `sqlite3 FILE \
                 'PRAGMA wal_checkpoint(TRUNCATE)'` on a copy) and move that",
                Path::new(&wal).display()
            ),
        ));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(open_err)?;
    let version: Result<Option<(i64,)>, _> =
        sqlx::query_as("SELECT version FROM nisshi_schema_version WHERE id = 1")
            .fetch_optional(&pool)
            .await;
    match version {
        Ok(Some((SCHEMA_VERSION,))) => Ok(pool),
        Ok(Some((v,))) => Err(bad(
            "nisshi_schema_version.version",
            format!("{v}; this reader knows nisshi 0.8.1's schema, version {SCHEMA_VERSION}"),
        )),
        Ok(None) => Err(bad("nisshi_schema_version.version", "no row")),
        Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Err(bad(
            "nisshi_schema_version",
            "no such table: not a nisshi storage file",
        )),
        Err(source) => Err(open_err(source)),
    }
}

/// The value's SQLite type (`typeof`), as selected beside it.
fn kind(row: &SqliteRow, col: &str) -> String {
    row.get::<String, _>(format!("{col}_t").as_str())
}

/// An INTEGER value; NULL allowed only if `nullable`.
fn int(
    row: &SqliteRow,
    col: &str,
    at: &'static str,
    nullable: bool,
    place: &dyn Fn() -> String,
) -> Result<Option<i64>, ReadError> {
    match kind(row, col).as_str() {
        "integer" => Ok(Some(row.get::<i64, _>(col))),
        "null" if nullable => Ok(None),
        other => Err(bad(
            at,
            format!("{other} at {}; an integer is expected", place()),
        )),
    }
}

/// A BLOB value or NULL.
fn blob(
    row: &SqliteRow,
    col: &str,
    at: &'static str,
    place: &dyn Fn() -> String,
) -> Result<Option<Vec<u8>>, ReadError> {
    match kind(row, col).as_str() {
        "blob" => Ok(Some(row.get::<Vec<u8>, _>(col))),
        "null" => Ok(None),
        other => Err(bad(
            at,
            format!("{other} at {}; bytes (blob) are expected", place()),
        )),
    }
}

/// A TEXT value, not NULL.
fn text(
    row: &SqliteRow,
    col: &str,
    at: &'static str,
    place: &dyn Fn() -> String,
) -> Result<String, ReadError> {
    match kind(row, col).as_str() {
        "text" => Ok(row.get::<String, _>(col)),
        other => Err(bad(at, format!("{other} at {}; text is expected", place()))),
    }
}

/// Reads everything but the messages, and counts those (and their bytes) per partition.
pub async fn read(pool: &SqlitePool) -> Result<Store, ReadError> {
    let clusters: Vec<(i64,)> = sqlx::query_as("SELECT id FROM cluster ORDER BY id")
        .fetch_all(pool)
        .await
        .map_err(sql("cluster"))?;
    let cluster = match clusters.as_slice() {
        [(id,)] => *id,
        other => {
            return Err(bad(
                "cluster.id",
                format!(
                    "{} clusters in the file; a move carries exactly one",
                    other.len()
                ),
            ))
        }
    };

    let rows = sqlx::query(
        "SELECT id, name, typeof(name) AS name_t, partitions, typeof(partitions) AS partitions_t, \
         replication_factor, typeof(replication_factor) AS replication_factor_t, \
         is_internal, typeof(is_internal) AS is_internal_t \
         FROM topic WHERE cluster = ? ORDER BY name",
    )
    .bind(cluster)
    .fetch_all(pool)
    .await
    .map_err(sql("topic"))?;
    let mut topics = Vec::new();
    let mut topic_ids: BTreeMap<i64, String> = BTreeMap::new();
    for row in &rows {
        let id: i64 = row.get("id");
        let name = text(row, "name", "topic.name", &|| format!("topic id {id}"))?;
        let place = || format!("topic {name}");
        let count = int(row, "partitions", "topic.partitions", false, &place)?.unwrap_or(0);
        if !(1..=i64::from(i32::MAX)).contains(&count) {
            return Err(bad(
                "topic.partitions",
                format!("{count} at {}; 1 or more", place()),
            ));
        }
        let rf = int(
            row,
            "replication_factor",
            "topic.replication_factor",
            false,
            &place,
        )?
        .unwrap_or(0);
        let internal = int(row, "is_internal", "topic.is_internal", false, &place)?;
        if !matches!(internal, Some(0 | 1)) {
            return Err(bad(
                "topic.is_internal",
                format!("{internal:?} at {}; 0 or 1", place()),
            ));
        }
        if internal == Some(1) {
            continue;
        }
        let partitions = partitions_of(pool, id, &name, count as i32).await?;
        let configs = configs_of(pool, id, &name).await?;
        let number = |key: &str| -> Result<Option<i64>, ReadError> {
            match configs.get(key) {
                None => Ok(None),
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if n >= -1 => Ok(Some(n)),
                    _ => Err(bad(
                        "topic_configuration.value",
                        format!("{key} = {v:?} of topic {name}; -1 or more"),
                    )),
                },
            }
        };
        topics.push(Topic {
            retention_ms: number("retention.ms")?,
            retention_bytes: number("retention.bytes")?,
            name: name.clone(),
            replication_factor: rf as i32,
            partitions,
            configs: configs.clone(),
        });
        topic_ids.insert(id, name);
    }

    let groups = groups::groups_of(pool, cluster).await?;
    for g in &groups {
        for (topic, partition) in g.offsets.keys() {
            if !topics.iter().any(|t| &t.name == topic) {
                return Err(bad(
                    "consumer_offset.topition",
                    format!(
                        "group {} commits to {topic}-{partition}, an internal topic",
                        g.name
                    ),
                ));
            }
        }
    }
    let scram_users = groups::scram_users_of(pool, cluster).await?;
    Ok(Store {
        topics,
        groups,
        scram_users,
    })
}

async fn partitions_of(
    pool: &SqlitePool,
    topic_id: i64,
    topic: &str,
    count: i32,
) -> Result<Vec<Partition>, ReadError> {
    let rows = sqlx::query(
        "SELECT t.id, t.partition, typeof(t.partition) AS partition_t, \
         (SELECT count(*) FROM watermark w WHERE w.topition = t.id) AS marks, \
         w.low, typeof(w.low) AS low_t, w.high, typeof(w.high) AS high_t, \
         (SELECT count(*) FROM record r WHERE r.topition = t.id) AS messages, \
         (SELECT count(*) FROM record r WHERE r.topition = t.id \
            AND (r.offset_id < w.low OR r.offset_id >= w.high)) AS outside, \
         (SELECT COALESCE(sum(COALESCE(length(r.k), 0) + COALESCE(length(r.v), 0)), 0) \
            FROM record r WHERE r.topition = t.id) AS record_bytes, \
         (SELECT COALESCE(sum(COALESCE(length(h.k), 0) + COALESCE(length(h.v), 0)), 0) \
            FROM header h WHERE h.topition = t.id) AS header_bytes \
         FROM topition t LEFT JOIN watermark w ON w.topition = t.id \
         WHERE t.topic = ? ORDER BY t.partition",
    )
    .bind(topic_id)
    .fetch_all(pool)
    .await
    .map_err(sql("topition"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let topition: i64 = row.get("id");
        let place = || format!("topition id {topition} of topic {topic}");
        let index = int(row, "partition", "topition.partition", false, &place)?.unwrap_or(-1);
        if index != out.len() as i64 {
            return Err(bad(
                "topition.partition",
                format!(
                    "{index} at {}; partitions 0 to {} are expected, each once",
                    place(),
                    count - 1
                ),
            ));
        }
        let place = || format!("{topic}-{index}");
        let marks: i64 = row.get("marks");
        if marks != 1 {
            return Err(bad(
                "watermark.topition",
                format!("{marks} watermark rows for {}; exactly one", place()),
            ));
        }
        let low = int(row, "low", "watermark.low", false, &place)?.unwrap_or(-1);
        let high = int(row, "high", "watermark.high", false, &place)?.unwrap_or(-1);
        if low < 0 || high < low {
            return Err(bad(
                "watermark.low",
                format!("low {low}, high {high} of {}; 0 <= low <= high", place()),
            ));
        }
        let outside: i64 = row.get("outside");
        if outside > 0 {
            return Err(bad(
                "record.offset_id",
                format!(
                    "{outside} record(s) of {} outside its watermarks [{low}, {high})",
                    place()
                ),
            ));
        }
        let messages: i64 = row.get("messages");
        let bytes: i64 = row.get::<i64, _>("record_bytes") + row.get::<i64, _>("header_bytes");
        out.push(Partition {
            index: index as i32,
            topition,
            low,
            high,
            messages: messages as u64,
            bytes: bytes as u64,
        });
    }
    if out.len() != count as usize {
        return Err(bad(
            "topition.partition",
            format!(
                "topic {topic} has {count} partitions but {} topition rows",
                out.len()
            ),
        ));
    }
    Ok(out)
}

async fn configs_of(
    pool: &SqlitePool,
    topic_id: i64,
    topic: &str,
) -> Result<BTreeMap<String, String>, ReadError> {
    let rows = sqlx::query(
        "SELECT name, typeof(name) AS name_t, value, typeof(value) AS value_t \
         FROM topic_configuration WHERE topic = ? ORDER BY name",
    )
    .bind(topic_id)
    .fetch_all(pool)
    .await
    .map_err(sql("topic_configuration"))?;
    let mut out = BTreeMap::new();
    for row in &rows {
        let place = || format!("topic {topic}");
        let name = text(row, "name", "topic_configuration.name", &place)?;
        let place = || format!("{name} of topic {topic}");
        let value = text(row, "value", "topic_configuration.value", &place)?;
        out.insert(name, value);
    }
    Ok(out)
}
