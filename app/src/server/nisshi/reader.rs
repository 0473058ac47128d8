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

    let groups = groups_of(pool, cluster).await?;
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
    let scram_users = scram_users_of(pool, cluster).await?;
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

async fn groups_of(pool: &SqlitePool, cluster: i64) -> Result<Vec<Group>, ReadError> {
    let rows = sqlx::query(
        "SELECT g.name, typeof(g.name) AS name_t, t.name AS topic, tp.partition, \
         o.committed_offset, typeof(o.committed_offset) AS committed_offset_t \
         FROM consumer_group g \
         LEFT JOIN consumer_offset o ON o.consumer_group = g.id \
         LEFT JOIN topition tp ON tp.id = o.topition \
         LEFT JOIN topic t ON t.id = tp.topic \
         WHERE g.cluster = ? ORDER BY g.name, t.name, tp.partition",
    )
    .bind(cluster)
    .fetch_all(pool)
    .await
    .map_err(sql("consumer_offset"))?;
    let mut out: Vec<Group> = Vec::new();
    for row in &rows {
        let name = text(row, "name", "consumer_group.name", &|| "a group".into())?;
        if out.last().is_none_or(|g| g.name != name) {
            out.push(Group {
                name: name.clone(),
                offsets: BTreeMap::new(),
            });
        }
        let topic: Option<String> = row.get("topic");
        let partition: Option<i64> = row.get("partition");
        let (topic, partition) = match (topic, partition) {
            (Some(t), Some(p)) => (t, p as i32),
            _ => {
                // A group without a commit; an offset whose partition is gone is refused.
                if kind(row, "committed_offset") != "null" {
                    return Err(bad(
                        "consumer_offset.topition",
                        format!("group {name} commits to a partition the file does not have"),
                    ));
                }
                continue;
            }
        };
        let place = || format!("group {name}, {topic}-{partition}");
        let offset = int(
            row,
            "committed_offset",
            "consumer_offset.committed_offset",
            true,
            &place,
        )?;
        match offset {
            // -1 (or NULL): nothing committed.
            None | Some(-1) => {}
            Some(o) if o >= 0 => {
                let group = out.last_mut().expect("pushed above");
                group.offsets.insert((topic, partition), o);
            }
            Some(o) => {
                return Err(bad(
                    "consumer_offset.committed_offset",
                    format!("{o} at {}; 0 or more (-1: none)", place()),
                ))
            }
        }
    }
    Ok(out)
}

async fn scram_users_of(pool: &SqlitePool, cluster: i64) -> Result<Vec<ScramUser>, ReadError> {
    let rows = sqlx::query(
        "SELECT username, typeof(username) AS username_t, mechanism, \
         typeof(mechanism) AS mechanism_t, iterations, typeof(iterations) AS iterations_t \
         FROM scram_credential WHERE cluster = ? ORDER BY username, mechanism",
    )
    .bind(cluster)
    .fetch_all(pool)
    .await
    .map_err(sql("scram_credential"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let username = text(row, "username", "scram_credential.username", &|| {
            "a user".into()
        })?;
        let place = || format!("user {username}");
        let mechanism = match int(
            row,
            "mechanism",
            "scram_credential.mechanism",
            false,
            &place,
        )? {
            Some(1) => "SCRAM-SHA-256",
            Some(2) => "SCRAM-SHA-512",
            other => {
                return Err(bad(
                    "scram_credential.mechanism",
                    format!("{other:?} at {}; 1 (SHA-256) or 2 (SHA-512)", place()),
                ))
            }
        };
        let iterations = int(
            row,
            "iterations",
            "scram_credential.iterations",
            false,
            &place,
        )?
        .unwrap_or(0);
        out.push(ScramUser {
            username,
            mechanism,
            iterations,
        });
    }
    Ok(out)
}

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
        let offset: i64 = row.get("offset_id");
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::PathBuf;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/nisshi-0.8.1")
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[tokio::test]
    async fn the_fixture_reads_as_expected_json_says() {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(fixture().join("expected.json")).unwrap())
                .unwrap();
        let pool = open(&fixture().join("storage.db")).await.unwrap();
        let store = read(&pool).await.unwrap();
        let names: Vec<&str> = store.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["audit.events", "orders", "payments"]);
        let mut total = 0;
        for (name, want) in expected["topics"].as_object().unwrap() {
            let topic = store.topic(name).unwrap();
            assert_eq!(
                topic.partitions.len() as u64,
                want["partitions"].as_u64().unwrap()
            );
            assert_eq!(topic.retention_ms, None, "no retention set in nisshi");
            let want_msgs = want["messages"].as_array().unwrap();
            for p in &topic.partitions {
                let got = all_messages(&pool, name, p).await.unwrap();
                let of_p: Vec<&Value> = want_msgs
                    .iter()
                    .filter(|m| m["partition"] == p.index)
                    .collect();
                assert_eq!(got.len(), of_p.len(), "{name}-{}", p.index);
                assert_eq!(p.messages, got.len() as u64);
                assert_eq!(p.bytes, got.iter().map(Message::bytes).sum::<u64>());
                for (i, (m, w)) in got.iter().zip(&of_p).enumerate() {
                    assert_eq!(m.offset, i as i64, "offset order");
                    let key = m
                        .key
                        .as_ref()
                        .map(|k| String::from_utf8(k.clone()).unwrap());
                    assert_eq!(serde_json::json!(key), w["key"]);
                    assert_eq!(hex(m.value.as_ref().unwrap()), w["value_hex"]);
                    assert_eq!(m.timestamp_ms, w["timestamp_ms"].as_i64().unwrap());
                    let headers: Vec<Value> = m
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            let v = String::from_utf8(v.clone().unwrap()).unwrap();
                            serde_json::json!([k, v])
                        })
                        .collect();
                    assert_eq!(Value::Array(headers), w["headers"]);
                }
                total += got.len();
            }
        }
        assert_eq!(total as u64, store.messages());
        assert_eq!(total, 200);

        for (group, want) in expected["groups"].as_object().unwrap() {
            let g = store.groups.iter().find(|g| &g.name == group).unwrap();
            for (tp, offset) in want.as_object().unwrap() {
                let (topic, partition) = tp.rsplit_once('/').unwrap();
                let got = g
                    .offsets
                    .get(&(topic.to_string(), partition.parse().unwrap()))
                    .copied();
                match offset.as_i64().unwrap() {
                    -1001 => assert_eq!(got, None, "{group} {tp}"),
                    o => assert_eq!(got, Some(o), "{group} {tp}"),
                }
            }
        }
        assert_eq!(store.groups.len(), 3);
        let users: Vec<&str> = store
            .scram_users
            .iter()
            .map(|u| u.username.as_str())
            .collect();
        assert_eq!(users, ["billing-svc", "orders-app"]);
        assert!(store
            .scram_users
            .iter()
            .all(|u| u.mechanism == "SCRAM-SHA-512" && u.iterations == 8192));
    }

    /// A copy of the fixture with `change` applied (the fixture itself stays untouched).
    async fn altered(change: &str) -> (tempfile::TempDir, SqlitePool) {
        let dir = altered_file(change).await;
        let pool = open(&dir.path().join("storage.db")).await.unwrap();
        (dir, pool)
    }

    /// A copy of the fixture with `change` applied, in a directory of its own.
    async fn altered_file(change: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage.db");
        std::fs::copy(fixture().join("storage.db"), &path).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).unwrap();
        let rw = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        sqlx::query(change).execute(&rw).await.unwrap();
        rw.close().await;
        dir
    }

    async fn first_error(pool: &SqlitePool) -> String {
        let store = match read(pool).await {
            Ok(store) => store,
            Err(e) => return e.to_string(),
        };
        for t in &store.topics {
            for p in &t.partitions {
                if let Err(e) = all_messages(pool, &t.name, p).await {
                    return e.to_string();
                }
            }
        }
        panic!("no error")
    }

    #[tokio::test]
    async fn values_the_schema_does_not_allow_are_errors_naming_the_column() {
        let cases = [
            (
                "UPDATE record SET timestamp = 'soon' WHERE topition = 1 AND offset_id = 3",
                "record.timestamp: text at orders-0 offset 3; an integer is expected",
            ),
            (
                "UPDATE record SET timestamp = NULL WHERE topition = 4 AND offset_id = 0",
                "record.timestamp: null at payments-0 offset 0",
            ),
            (
                "UPDATE record SET v = 'text' WHERE topition = 2 AND offset_id = 1",
                "record.v: text at orders-1 offset 1; bytes (blob) are expected",
            ),
            (
                "UPDATE record SET attributes = 32 WHERE topition = 2 AND offset_id = 2",
                "record.attributes: 0x20 at orders-1 offset 2",
            ),
            (
                "UPDATE header SET k = x'ff' WHERE topition = 1 AND offset_id = 0 AND ordinal = 0",
                "header.k: not UTF-8 at orders-0 offset 0",
            ),
            (
                "UPDATE consumer_offset SET committed_offset = 'x' WHERE id = 91",
                "consumer_offset.committed_offset: text at group pay-svc, payments-0",
            ),
            (
                "UPDATE watermark SET high = 5 WHERE topition = 4",
                "record.offset_id: 35 record(s) of payments-0 outside its watermarks [0, 5)",
            ),
            (
                "UPDATE topic SET partitions = 4 WHERE name = 'orders'",
                "topition.partition: topic orders has 4 partitions but 3 topition rows",
            ),
            (
                "INSERT INTO topic_configuration (topic, name, value) VALUES (2, 'retention.ms', 'a week')",
                "topic_configuration.value: retention.ms = \"a week\" of topic payments",
            ),
            (
                "UPDATE scram_credential SET mechanism = 7 WHERE username = 'orders-app'",
                "scram_credential.mechanism: Some(7) at user orders-app",
            ),
        ];
        for (change, want) in cases {
            let (_dir, pool) = altered(change).await;
            let got = first_error(&pool).await;
            assert!(got.starts_with(want), "{change}:\n got {got}\nwant {want}");
        }
    }

    #[tokio::test]
    async fn retention_is_read_from_the_topic_settings() {
        let (_dir, pool) = altered(
            "INSERT INTO topic_configuration (topic, name, value) VALUES (2, 'retention.ms', '604800000')",
        )
        .await;
        let store = read(&pool).await.unwrap();
        assert_eq!(
            store.topic("payments").unwrap().retention_ms,
            Some(604_800_000)
        );
        assert_eq!(store.topic("orders").unwrap().retention_ms, None);
    }

    #[tokio::test]
    async fn a_file_that_is_not_there_or_not_nisshi_is_refused() {
        let err = open(Path::new("/nonexistent/storage.db"))
            .await
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/storage.db: cannot be opened"));
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        let rw = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&other)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        sqlx::query("CREATE TABLE t (x)")
            .execute(&rw)
            .await
            .unwrap();
        rw.close().await;
        let err = open(&other).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "nisshi_schema_version: no such table: not a nisshi storage file"
        );
        // Not SQLite at all.
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database, just words ".repeat(100)).unwrap();
        let err = open(&text).await.unwrap_err().to_string();
        assert!(err.contains("cannot be opened as a SQLite file"), "{err}");
        // Another schema version.
        let changed = altered_file("UPDATE nisshi_schema_version SET version = 2").await;
        let err = open(&changed.path().join("storage.db")).await.unwrap_err().to_string();
        assert!(
            err.starts_with("nisshi_schema_version.version: 2; this reader knows nisshi 0.8.1"),
            "{err}"
        );
    }
}
