//! The move of a nisshi 0.8.1 storage file into a Kafka-cluster instance (#34), resumable
//! after a console crash (kill -9 included) without a message missing or doubled.
//!
//! - **Start** ([`super::moves::start`]): the file is read and checked whole (an error names the table and
//!   column), the instance must be a running Kafka cluster without any of the file's topics;
//!   the move's row, one row per partition and the audit entry are written in one
//!   transaction, then the copy runs in the background.
//! - **Copy rule**: topics are created with the file's partition count (replication factor 3,
//!   `retention.ms` and `retention.bytes` as the file sets them, -1 when it does not: nisshi
//!   kept every message); then partition by partition, in the order of topic names and
//!   partition indexes, messages in nisshi offset order, in batches of at most 500 messages
//!   and 512 KiB, each produced once (acks=all). After Kafka acknowledges a batch, the
//!   partition's `copied` count and the nisshi offset of its last message are written in one
//!   transaction with the move's totals.
//! - **Resume rule**: a partition's destination offsets 0..n hold its first n messages (the
//!   topic is the move's own, created empty). Before writing to a partition, and after any
//!   failure, the copy reads its end offset (ListOffsets): `end - copied` messages landed from
//!   a batch whose acknowledgement the crash lost; they are recorded as copied (the next ones
//!   after the last recorded nisshi offset), and the copy goes on after them. An end offset
//!   below `copied`, or beyond the partition's messages, stops the move (failed, named).
//! - **Offset rule** (`byoc_domain::offset_move`): a group's committed offset `c` on a nisshi
//!   partition (the next offset to read) becomes the number of the partition's messages with
//!   an offset below `c`: the destination offset of the first message at or after `c`. An
//!   offset of a deleted message (below the low watermark, in a gap) therefore goes to the
//!   next message still there; one at or past the end goes to the end. Committed with
//!   OffsetCommit once every partition is copied (again after a crash: the same values).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use byoc_engine::admin::{code, AdminClient, NewTopic, ProduceRecord};
use sqlx::SqlitePool;

use super::moves::{admin_of, get, MoveRow};
use super::reader::{self, Partition, Store, Topic};
use crate::server::audit::{self, Actor, Outcome};
use crate::server::{store, AppState, ServerError};

/// Messages per batch at most.
pub const BATCH_MESSAGES: u32 = 500;
/// Bytes (keys, values, headers) per batch at most; a message larger goes alone.
pub const BATCH_BYTES: u64 = 512 * 1024;
/// Consecutive failures (Kafka unreachable...) before the move is marked failed.
const ATTEMPTS: u32 = 30;

/// Takes up every move left copying or committing offsets by a previous process.
pub async fn resume_all(state: &AppState) -> Result<usize, ServerError> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM nisshi_moves WHERE state IN ('copying', 'offsets')")
            .fetch_all(&state.pool)
            .await?;
    for id in &ids {
        tracing::info!(nisshi_move = id, "taking up a move left running");
        drive(state, *id);
    }
    Ok(ids.len())
}

/// Runs move `id` to its end in a background task.
pub fn drive(state: &AppState, id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut failures = 0;
        loop {
            match run(&state, id).await {
                Ok(()) => return,
                Err(error) => {
                    failures += 1;
                    let text = format!("{error:#}");
                    tracing::warn!(nisshi_move = id, error = %text, failures, "move interrupted");
                    let last = failures >= ATTEMPTS || error.is::<Fatal>();
                    if let Err(e) = note_error(&state, id, &text, last).await {
                        tracing::warn!(nisshi_move = id, error = %e, "cannot record the error");
                    }
                    if last {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}

/// An error that retrying cannot mend: the move is marked failed at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Fatal(String);

async fn note_error(
    state: &AppState,
    id: i64,
    text: &str,
    failed: bool,
) -> Result<(), ServerError> {
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let target: Option<String> = sqlx::query_scalar(
        "SELECT i.name FROM nisshi_moves m JOIN instances i ON i.id = m.instance_id WHERE m.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    match failed {
        true => {
            sqlx::query(
                "UPDATE nisshi_moves SET state = 'failed', last_error = ?, finished_at = ? \
                 WHERE id = ?",
            )
            .bind(text)
            .bind(state.clock.unix())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let detail = format!("move {id}: {text}");
            audit::record_in(
                &mut tx,
                state,
                &Actor::system(),
                "nisshi_move_failed",
                target.as_deref(),
                Outcome::Failure,
                Some(&detail),
            )
            .await?;
        }
        false => {
            sqlx::query("UPDATE nisshi_moves SET last_error = ? WHERE id = ?")
                .bind(text)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// One pass of the move from where it stands: create topics, copy what is left, commit the
/// groups' offsets, done.
async fn run(state: &AppState, id: i64) -> anyhow::Result<()> {
    let Some(mv) = get(&state.pool, id).await? else {
        return Err(Fatal(format!("move {id} is gone")).into());
    };
    if !matches!(mv.state.as_str(), "copying" | "offsets") {
        return Ok(());
    }
    let instance = {
        let mut conn = state.pool.acquire().await?;
        store::instances::get(&mut conn, mv.instance_id).await?
    };
    let instance = instance.ok_or_else(|| Fatal(format!("instance {} is gone", mv.instance_id)))?;
    let admin = admin_of(state, &instance)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let src = reader::open(Path::new(&mv.source_path))
        .await
        .map_err(|e| Fatal(e.to_string()))?;
    let store = reader::read(&src).await.map_err(|e| Fatal(e.to_string()))?;
    let result = run_with(state, id, &mv, &admin, &src, &store).await;
    src.close().await;
    result
}

async fn run_with(
    state: &AppState,
    id: i64,
    mv: &MoveRow,
    admin: &AdminClient,
    src: &SqlitePool,
    store: &Store,
) -> anyhow::Result<()> {
    if mv.state == "copying" {
        let batch = state.config.move_batch_messages.clamp(1, BATCH_MESSAGES);
        for t in &store.topics {
            ensure_topic(admin, t).await?;
        }
        for t in &store.topics {
            for p in &t.partitions {
                copy_partition(&state.pool, id, admin, src, t, p, batch).await?;
            }
        }
        sqlx::query("UPDATE nisshi_moves SET state = 'offsets' WHERE id = ? AND state = 'copying'")
            .bind(id)
            .execute(&state.pool)
            .await?;
    }
    let mut committed = 0;
    for g in &store.groups {
        let offsets = translate(src, store, g).await?;
        if offsets.is_empty() {
            continue;
        }
        admin
            .commit_group_offsets(&g.name, &offsets)
            .await
            .with_context(|| format!("OffsetCommit of group {}", g.name))?;
        committed += 1;
    }
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE nisshi_moves SET state = 'done', groups_committed = ?, last_error = NULL, \
         finished_at = ? WHERE id = ? AND state = 'offsets'",
    )
    .bind(committed)
    .bind(state.clock.unix())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        let mv = sqlx::query_as::<_, (i64, i64, i64, String)>(
            "SELECT m.messages_copied, m.bytes_copied, m.copy_ms, i.name FROM nisshi_moves m \
             JOIN instances i ON i.id = m.instance_id WHERE m.id = ?",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let mib_s = match mv.2 {
            0 => 0.0,
            ms => mv.1 as f64 / 1_048_576.0 / (ms as f64 / 1000.0),
        };
        let detail = format!(
            "move {id}: {} messages, {} bytes copied in {} ms ({mib_s:.2} MiB/s); {committed} \
             groups' offsets committed",
            mv.0, mv.1, mv.2
        );
        audit::record_in(
            &mut tx,
            state,
            &Actor::system(),
            "nisshi_move_done",
            Some(&mv.3),
            Outcome::Success,
            Some(&detail),
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    }
    tx.commit().await?;
    Ok(())
}

/// Creates the topic as the copy rule says; one that exists (the move created it before a
/// crash) must have the same partition count.
async fn ensure_topic(admin: &AdminClient, t: &Topic) -> anyhow::Result<()> {
    let partitions = t.partitions.len() as i32;
    let retention = |v: Option<i64>| v.unwrap_or(-1).to_string();
    let new = NewTopic::new(&t.name, partitions, 3)
        .config("retention.ms", retention(t.retention_ms))
        .config("retention.bytes", retention(t.retention_bytes));
    match admin.create_topic(&new).await {
        Ok(_) => {}
        Err(e)
            if e.kafka()
                .is_some_and(|k| k.code == code::TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(anyhow!("creating topic {}: {e}", t.name)),
    }
    let metadata = admin.metadata(Some(&[t.name.as_str()])).await?;
    let found = metadata.topics.iter().find(|m| m.name == t.name);
    match found {
        Some(m) if m.error.is_none() && m.partitions.len() as i32 != partitions => {
            Err(Fatal(format!(
                "topic {} has {} partitions on the instance, {partitions} in the file",
                t.name,
                m.partitions.len()
            ))
            .into())
        }
        _ => Ok(()),
    }
}

/// The end offset of `topic`-`partition` on the destination, waiting for a new topic's
/// metadata to reach the node asked.
async fn end_offset(admin: &AdminClient, topic: &str, partition: i32) -> anyhow::Result<i64> {
    let started = Instant::now();
    loop {
        match admin.list_offsets(&[topic]).await {
            Ok(all) => {
                let p = all.iter().find(|p| p.partition == partition);
                if let Some(p) = p {
                    return Ok(p.latest);
                }
            }
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                return Err(anyhow!("ListOffsets of {topic}-{partition}: {e}"))
            }
            Err(_) => {}
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(anyhow!("{topic}-{partition} is not on the instance"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Progress {
    copied: i64,
    last: Option<i64>,
}

async fn progress(pool: &SqlitePool, id: i64, t: &str, p: i32) -> anyhow::Result<Progress> {
    let (copied, last): (i64, Option<i64>) = sqlx::query_as(
        "SELECT copied, last_source_offset FROM nisshi_move_partitions \
         WHERE move_id = ? AND topic = ? AND partition = ?",
    )
    .bind(id)
    .bind(t)
    .bind(p)
    .fetch_one(pool)
    .await?;
    Ok(Progress { copied, last })
}

/// Records `messages` (the next of the partition, in order) as copied, with the move's
/// totals, in one transaction.
async fn record(
    pool: &SqlitePool,
    id: i64,
    t: &str,
    p: i32,
    messages: &[reader::Message],
    spent: Duration,
) -> anyhow::Result<()> {
    let (Some(last), n) = (messages.last(), messages.len() as i64) else {
        return Ok(());
    };
    let bytes: u64 = messages.iter().map(reader::Message::bytes).sum();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "UPDATE nisshi_move_partitions SET copied = copied + ?, last_source_offset = ?, \
         bytes_copied = bytes_copied + ? WHERE move_id = ? AND topic = ? AND partition = ?",
    )
    .bind(n)
    .bind(last.offset)
    .bind(bytes as i64)
    .bind(id)
    .bind(t)
    .bind(p)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE nisshi_moves SET messages_copied = messages_copied + ?, \
         bytes_copied = bytes_copied + ?, copy_ms = copy_ms + ?, last_error = NULL WHERE id = ?",
    )
    .bind(n)
    .bind(bytes as i64)
    .bind(spent.as_millis() as i64)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

fn to_record(m: &reader::Message) -> ProduceRecord {
    use byoc_engine::admin::produce::Bytes;
    ProduceRecord {
        key: m.key.clone().map(Bytes::from),
        value: m.value.clone().map(Bytes::from),
        headers: m
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map(Bytes::from)))
            .collect(),
        timestamp_ms: m.timestamp_ms,
    }
}

/// Copies what is left of one partition (the copy and resume rules of the module).
async fn copy_partition(
    pool: &SqlitePool,
    id: i64,
    admin: &AdminClient,
    src: &SqlitePool,
    t: &Topic,
    p: &Partition,
    batch_messages: u32,
) -> anyhow::Result<()> {
    let mut at = progress(pool, id, &t.name, p.index).await?;
    if at.copied as u64 == p.messages {
        return Ok(());
    }
    let place = format!("{}-{}", t.name, p.index);
    let end = end_offset(admin, &t.name, p.index).await?;
    if end < at.copied {
        return Err(Fatal(format!(
            "{place}: the instance holds {end} messages, {} were acknowledged: the copy stops \
             rather than guess",
            at.copied
        ))
        .into());
    }
    // Messages of a batch that landed although its acknowledgement was lost (a crash, a
    // timeout): the next `end - copied` messages of the file, recorded without writing them.
    let mut landed = end - at.copied;
    while landed > 0 {
        let n = landed.min(i64::from(BATCH_MESSAGES)) as u32;
        let batch = reader::messages(src, &t.name, p, at.last, n).await?;
        if (batch.len() as u32) < n {
            return Err(Fatal(format!(
                "{place}: the instance holds {end} messages, more than the file's {}",
                p.messages
            ))
            .into());
        }
        record(pool, id, &t.name, p.index, &batch, Duration::ZERO).await?;
        landed -= batch.len() as i64;
        at = progress(pool, id, &t.name, p.index).await?;
    }
    loop {
        let started = Instant::now();
        let mut batch = reader::messages(src, &t.name, p, at.last, batch_messages).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut bytes = 0;
        let keep = batch
            .iter()
            .position(|m| {
                bytes += m.bytes();
                bytes > BATCH_BYTES
            })
            .unwrap_or(batch.len())
            .max(1);
        batch.truncate(keep);
        let records: Vec<ProduceRecord> = batch.iter().map(to_record).collect();
        let base = admin
            .produce(&t.name, p.index, &records)
            .await
            .with_context(|| format!("Produce to {place}"))?;
        if base != at.copied {
            return Err(Fatal(format!(
                "{place}: Kafka put the batch at offset {base}, {} expected: something else \
                 writes to the topic",
                at.copied
            ))
            .into());
        }
        record(pool, id, &t.name, p.index, &batch, started.elapsed()).await?;
        at = Progress {
            copied: at.copied + batch.len() as i64,
            last: batch.last().map(|m| m.offset),
        };
    }
}

/// A group's committed offsets on the destination (the offset rule of the module).
pub async fn translate(
    src: &SqlitePool,
    store: &Store,
    g: &reader::Group,
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let mut out = BTreeMap::new();
    for ((topic, partition), offset) in &g.offsets {
        let p = store
            .topic(topic)
            .and_then(|t| t.partitions.iter().find(|p| p.index == *partition))
            .ok_or_else(|| {
                Fatal(format!(
                    "group {}: {topic}-{partition} is not in the file",
                    g.name
                ))
            })?;
        let kept: Vec<i64> = sqlx::query_scalar(
            "SELECT offset_id FROM record WHERE topition = ? ORDER BY offset_id",
        )
        .bind(p.topition)
        .fetch_all(src)
        .await?;
        let Some(below) = byoc_domain::offset_move::destination_offset(*offset, &kept) else {
            continue;
        };
        out.insert((topic.clone(), *partition), below);
    }
    Ok(out)
}
