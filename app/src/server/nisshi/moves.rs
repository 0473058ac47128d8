//! Moves of a nisshi file into a Kafka-cluster instance (#34): their rows, the file a move
//! may name, and the start of one (checks, the move's rows and audit entry in one
//! transaction). The copy itself is in [`super::copy`].

use std::path::{Path, PathBuf};

use byoc_engine::admin::AdminClient;
use sqlx::SqlitePool;

use super::copy::drive;
use super::reader::{self, Partition, Topic};
use crate::server::access::{Authorized, Operator, Viewer};
use crate::server::audit::{self, Actor, Outcome};
use crate::server::{store, AppState, ServerError};
use crate::wire::error::AppError;

pub use crate::wire::moves::MoveView as MoveRow;

const COLUMNS: &str = "id, instance_id, source_path, state, messages_total, bytes_total, \
    messages_copied, bytes_copied, copy_ms, groups_committed, scram_users, last_error, \
    created_by, created_at, finished_at";

fn row_of(r: &sqlx::sqlite::SqliteRow) -> MoveRow {
    use sqlx::Row;
    MoveRow {
        id: r.get("id"),
        instance_id: r.get("instance_id"),
        source_path: r.get("source_path"),
        state: r.get("state"),
        messages_total: r.get("messages_total"),
        bytes_total: r.get("bytes_total"),
        messages_copied: r.get("messages_copied"),
        bytes_copied: r.get("bytes_copied"),
        copy_ms: r.get("copy_ms"),
        groups_committed: r.get("groups_committed"),
        scram_users: r.get("scram_users"),
        last_error: r.get("last_error"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        finished_at: r.get("finished_at"),
    }
}

/// A move by id.
pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<MoveRow>, sqlx::Error> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM nisshi_moves WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(r.as_ref().map(row_of))
}

/// An instance's moves, newest first.
pub async fn of_instance(pool: &SqlitePool, instance_id: i64) -> Result<Vec<MoveRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM nisshi_moves WHERE instance_id = ? ORDER BY id DESC"
    ))
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(row_of).collect())
}

/// The file `path` names, which must be inside `dir` (the directory the console was told
/// about with `serve --import-dir`): no `..` out of it, no symbolic link out of it.
pub fn resolve_source(dir: Option<&Path>, path: &str) -> Result<PathBuf, AppError> {
    let Some(dir) = dir else {
        return Err(AppError::invalid(
            "path",
            "moves from a nisshi file are off: start the console with --import-dir DIR and put \
             the file there",
        ));
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(AppError::invalid(
            "path",
            "the storage file's name in the import directory",
        ));
    }
    let candidate = dir.join(path);
    let real = candidate
        .canonicalize()
        .map_err(|e| AppError::invalid("path", format!("{}: {e}", candidate.display())))?;
    let root = dir
        .canonicalize()
        .map_err(|e| AppError::invalid("path", format!("{}: {e}", dir.display())))?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(AppError::invalid(
            "path",
            format!("{path} is not a file inside {}", root.display()),
        ));
    }
    Ok(real)
}

/// Starts a move of the nisshi file at `source` (resolved by [`resolve_source`]) into
/// instance `instance_id`: checks, writes the move with its audit entry, and starts the copy.
pub async fn start(
    state: &AppState,
    actor: &Actor,
    instance_id: i64,
    source: &Path,
) -> Result<i64, ServerError> {
    let src = reader::open(source)
        .await
        .map_err(|e| AppError::invalid("path", e.to_string()))?;
    let read = reader::read(&src).await;
    let store = read.map_err(|e| AppError::invalid("path", e.to_string()))?;
    // Every message is read once here, so that a value the schema does not allow refuses the
    // move before anything is written.
    for t in &store.topics {
        for p in &t.partitions {
            check_partition(&src, t, p)
                .await
                .map_err(|e| AppError::invalid("path", e.to_string()))?;
        }
    }
    src.close().await;

    let instance = {
        let mut conn = state.pool.acquire().await.map_err(ServerError::Database)?;
        store::instances::get(&mut conn, instance_id)
            .await
            .map_err(ServerError::Database)?
    };
    let instance = instance.ok_or_else(|| AppError::NotFound(format!("instance {instance_id}")))?;
    if instance.state().as_str() != "running" {
        return Err(AppError::Conflict(format!(
            "instance {} is {}: a move needs it running",
            instance.name,
            instance.state().as_str()
        ))
        .into());
    }
    let admin = admin_of(state, &instance).await?;
    let names: Vec<&str> = store.topics.iter().map(|t| t.name.as_str()).collect();
    if !names.is_empty() {
        let metadata = admin
            .metadata(Some(&names))
            .await
            .map_err(|e| AppError::Conflict(format!("the instance's cluster: {e}")))?;
        if let Some(t) = metadata.topics.iter().find(|t| t.error.is_none()) {
            return Err(AppError::invalid(
                "path",
                format!(
                    "topic {} already exists on instance {}: a move writes only into topics it \
                     creates",
                    t.name, instance.name
                ),
            )
            .into());
        }
    }

    let users: Vec<&str> = store
        .scram_users
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    let mut users = users;
    users.dedup();
    let source_text = source.display().to_string();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO nisshi_moves (instance_id, source_path, state, messages_total, bytes_total, \
         scram_users, created_by, created_at) VALUES (?, ?, 'copying', ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(instance_id)
    .bind(&source_text)
    .bind(store.messages() as i64)
    .bind(store.bytes() as i64)
    .bind(users.join(","))
    .bind(&actor.name)
    .bind(state.clock.unix())
    .fetch_one(&mut *tx)
    .await?;
    for t in &store.topics {
        for p in &t.partitions {
            sqlx::query(
                "INSERT INTO nisshi_move_partitions (move_id, topic, partition, messages_total) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&t.name)
            .bind(p.index)
            .bind(p.messages as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    let detail = format!(
        "move {id} from {source_text}: {} topics, {} partitions, {} messages, {} bytes, {} \
         groups; SCRAM users not carried (new password needed): {}",
        store.topics.len(),
        store
            .topics
            .iter()
            .map(|t| t.partitions.len())
            .sum::<usize>(),
        store.messages(),
        store.bytes(),
        store.groups.len(),
        if users.is_empty() {
            "none".to_string()
        } else {
            users.join(", ")
        }
    );
    audit::record_in(
        &mut tx,
        state,
        actor,
        "nisshi_move_start",
        Some(&instance.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    drive(state, id);
    Ok(id)
}

/// Reads every message of a partition once (the reader's checks), in batches.
async fn check_partition(
    src: &SqlitePool,
    t: &Topic,
    p: &Partition,
) -> Result<(), reader::ReadError> {
    let mut after = None;
    loop {
        let batch = reader::messages(src, &t.name, p, after, 2000).await?;
        match batch.last() {
            None => return Ok(()),
            Some(m) => after = Some(m.offset),
        }
    }
}

pub(super) async fn admin_of(
    state: &AppState,
    instance: &store::instances::InstanceRow,
) -> Result<AdminClient, ServerError> {
    let admin = state
        .operations
        .provisioner()
        .admin_client(instance)
        .await
        .map_err(|e| AppError::Conflict(format!("the instance's cluster: {e}")))?;
    admin.ok_or_else(|| {
        AppError::Conflict(format!(
            "instance {} is not a Kafka cluster (the simulated provisioner has no data)",
            instance.name
        ))
        .into()
    })
}

/// The REST API's and the page's start of a move: the file `path` names inside the import
/// directory, into instance `id` (operators only).
pub async fn start_named(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    path: &str,
) -> Result<MoveRow, ServerError> {
    let source = resolve_source(state.config.import_dir.as_deref(), path)?;
    let move_id = start(state, who.actor(), id, &source).await?;
    get(&state.pool, move_id)
        .await?
        .ok_or_else(|| ServerError::internal("reading the move just written", "no row"))
}

/// An instance's moves, newest first (viewers).
pub async fn list(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
) -> Result<Vec<MoveRow>, ServerError> {
    Ok(of_instance(&state.pool, id).await?)
}
