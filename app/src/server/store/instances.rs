//! Instances, their operations and steps, and their state history. Functions that take a
//! `SqliteConnection` run on a pool connection or inside a caller's transaction alike.

use crate::domain::instance::State;
use crate::domain::instance_spec::InstanceSpec;
use crate::domain::operation::OperationKind;
use crate::domain::quota::{self, Holding};
use sqlx::{SqliteConnection, SqlitePool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstanceRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub kafka_version: String,
    pub deployment: String,
    pub zones: String,
    pub vpc_id: String,
    pub subnets: String,
    pub data_bucket: String,
    pub wal_mode: String,
    pub client_auth: String,
    pub transit_encryption: String,
    pub endpoint_exposure: String,
    pub tags: String,
    pub size_aku: i64,
    pub target_aku: Option<i64>,
    pub state: String,
    pub state_reason: Option<String>,
    pub bootstrap: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl InstanceRow {
    /// The state as the domain knows it; a value the schema's CHECK would refuse reads as
    /// abnormal rather than panicking.
    pub fn state(&self) -> State {
        parse_state(&self.state)
    }

    pub fn zones(&self) -> Vec<String> {
        serde_json::from_str(&self.zones).unwrap_or_default()
    }

    pub fn subnets(&self) -> Vec<String> {
        serde_json::from_str(&self.subnets).unwrap_or_default()
    }

    pub fn tags(&self) -> Vec<(String, String)> {
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&self.tags)
            .map(|t| t.into_iter().collect())
            .unwrap_or_default()
    }

    pub fn size(&self) -> u32 {
        u32::try_from(self.size_aku).unwrap_or(0)
    }

    pub fn target(&self) -> Option<u32> {
        self.target_aku.and_then(|t| u32::try_from(t).ok())
    }
}

pub fn parse_state(s: &str) -> State {
    use State::*;
    [
        Creating, Running, Changing, Deleting, Deleted, Suspended, Abnormal,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
    .unwrap_or(Abnormal)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperationRow {
    pub id: i64,
    pub instance_id: i64,
    pub kind: String,
    pub from_state: String,
    pub to_state: String,
    pub from_aku: Option<i64>,
    pub to_aku: Option<i64>,
    pub requested_by: String,
    pub requested_from: Option<String>,
    pub requested_at: i64,
    pub status: String,
    pub steps_done: i64,
    pub step_count: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl OperationRow {
    pub fn kind(&self) -> Option<OperationKind> {
        OperationKind::parse(&self.kind)
    }

    /// The kind and whether it failed: what `operation::retry_after` decides on.
    pub fn outcome(&self) -> Option<(OperationKind, bool)> {
        self.kind().map(|kind| (kind, self.status == "failed"))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step_index: i64,
    pub step_id: String,
    pub attempts: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

/// An operation with the name of its instance (recent operations on the overview).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperationWithName {
    #[sqlx(flatten)]
    pub operation: OperationRow,
    pub instance_name: String,
}

const INSTANCE_COLUMNS: &str = "id, name, description, kafka_version, deployment, zones, vpc_id, subnets, \
    data_bucket, wal_mode, client_auth, transit_encryption, endpoint_exposure, tags, size_aku, target_aku, \
    state, state_reason, bootstrap, created_by, created_at, updated_at, deleted_at";

const OPERATION_COLUMNS: &str = "o.id, o.instance_id, o.kind, o.from_state, o.to_state, o.from_aku, o.to_aku, \
    o.requested_by, o.requested_from, o.requested_at, o.status, o.steps_done, o.step_count, o.finished_at, o.error";

/// AKU in use: the quota rule of the domain over every instance's holding.
pub async fn used_aku(conn: &mut SqliteConnection) -> Result<u32, sqlx::Error> {
    let rows: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT size_aku, target_aku FROM instances WHERE state <> 'deleted'")
            .fetch_all(conn)
            .await?;
    Ok(quota::used_aku(rows.into_iter().map(|(size, target)| {
        Holding {
            size_aku: u32::try_from(size).unwrap_or(u32::MAX),
            target_aku: target.and_then(|t| u32::try_from(t).ok()),
            deleted: false,
        }
    })))
}

pub async fn name_taken(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM instances WHERE name = ? AND state <> 'deleted'")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

pub async fn get(conn: &mut SqliteConnection, id: i64) -> Result<Option<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Instances that are not deleted, newest first; only those in `state` when given.
pub async fn list(
    pool: &SqlitePool,
    state: Option<State>,
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances
         WHERE state <> 'deleted' AND (?1 IS NULL OR state = ?1)
         ORDER BY id DESC"
    ))
    .bind(state.map(State::as_str))
    .fetch_all(pool)
    .await
}

/// The ids of the instances that are not deleted (the control loop's work list).
pub async fn live_ids(pool: &SqlitePool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM instances WHERE state <> 'deleted' ORDER BY id")
        .fetch_all(pool)
        .await
}

/// Every instance ever created, deleted ones included (metering reads their history).
pub async fn all_including_deleted(pool: &SqlitePool) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances ORDER BY id"
    ))
    .fetch_all(pool)
    .await
}

/// Instances in `state` (the license watcher's work list).
pub async fn in_state(pool: &SqlitePool, state: State) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE state = ? ORDER BY id"
    ))
    .bind(state.as_str())
    .fetch_all(pool)
    .await
}

/// The largest instances that are not deleted (for "which are largest" when over quota).
pub async fn largest(pool: &SqlitePool, limit: i64) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE state <> 'deleted'
         ORDER BY MAX(size_aku, COALESCE(target_aku, 0)) DESC, name LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn count_by_state(pool: &SqlitePool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT state, COUNT(*) FROM instances WHERE state <> 'deleted' GROUP BY state ORDER BY state",
    )
    .fetch_all(pool)
    .await
}

/// Inserts a new instance in `creating`; returns its id.
pub async fn insert(
    conn: &mut SqliteConnection,
    spec: &InstanceSpec,
    created_by: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar(
        "INSERT INTO instances (name, description, kafka_version, deployment, zones, vpc_id, subnets,
            data_bucket, wal_mode, client_auth, transit_encryption, endpoint_exposure, tags, size_aku,
            state, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?)
         RETURNING id",
    )
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(&spec.kafka_version)
    .bind(&spec.deployment)
    .bind(to_json(&spec.zones))
    .bind(&spec.vpc_id)
    .bind(to_json(&spec.subnets))
    .bind(&spec.data_bucket)
    .bind(&spec.wal_mode)
    .bind(&spec.client_auth)
    .bind(&spec.transit_encryption)
    .bind(&spec.endpoint_exposure)
    .bind(to_json(&spec.tags))
    .bind(i64::from(spec.size_aku))
    .bind(created_by)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// JSON text of the spec's list and map fields (strings only: serialising cannot fail).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Moves an instance to `state` (and its scale target), and appends the state history.
pub async fn set_state(
    conn: &mut SqliteConnection,
    id: i64,
    state: State,
    target_aku: Option<u32>,
    reason: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instances SET state = ?, target_aku = ?, state_reason = ?, updated_at = ? WHERE id = ?",
    )
    .bind(state.as_str())
    .bind(target_aku.map(i64::from))
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    append_history(conn, id, now).await
}

async fn append_history(conn: &mut SqliteConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instance_history (instance_id, at, state, size_aku)
         SELECT id, ?, state, size_aku FROM instances WHERE id = ?",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn record_created(
    conn: &mut SqliteConnection,
    id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    append_history(conn, id, now).await
}

pub struct NewOperation<'a> {
    pub instance_id: i64,
    pub kind: OperationKind,
    pub from_state: State,
    pub to_state: State,
    pub from_aku: Option<u32>,
    pub to_aku: Option<u32>,
    pub requested_by: &'a str,
    pub requested_from: &'a str,
}

/// Records a new running operation. The unique index allows one running operation per
/// instance: a second one fails here, inside the caller's transaction.
pub async fn insert_operation(
    conn: &mut SqliteConnection,
    op: NewOperation<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO operations (instance_id, kind, from_state, to_state, from_aku, to_aku, requested_by,
            requested_from, requested_at, status, steps_done, step_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', 0, ?) RETURNING id",
    )
    .bind(op.instance_id)
    .bind(op.kind.as_str())
    .bind(op.from_state.as_str())
    .bind(op.to_state.as_str())
    .bind(op.from_aku.map(i64::from))
    .bind(op.to_aku.map(i64::from))
    .bind(op.requested_by)
    .bind(op.requested_from)
    .bind(now)
    .bind(op.kind.steps().len() as i64)
    .fetch_one(conn)
    .await
}

pub async fn operation(pool: &SqlitePool, id: i64) -> Result<Option<OperationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o WHERE o.id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The running operation of an instance, if any.
pub async fn running_operation_of(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<Option<OperationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o WHERE o.instance_id = ? AND o.status = 'running'"
    ))
    .bind(instance_id)
    .fetch_optional(conn)
    .await
}

/// The latest operation of an instance (what a retry repeats).
pub async fn latest_operation_of(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<Option<OperationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o WHERE o.instance_id = ? ORDER BY o.id DESC LIMIT 1"
    ))
    .bind(instance_id)
    .fetch_optional(conn)
    .await
}

/// Every running operation, by instance (one query for the instance list).
pub async fn running_operations_by_instance(
    pool: &SqlitePool,
) -> Result<std::collections::HashMap<i64, OperationRow>, sqlx::Error> {
    let rows: Vec<OperationRow> = sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o WHERE o.status = 'running'"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|op| (op.instance_id, op)).collect())
}

/// Every operation still running: at start, these are taken up again.
pub async fn running_operations(pool: &SqlitePool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM operations WHERE status = 'running' ORDER BY id")
        .fetch_all(pool)
        .await
}

pub async fn operations_of(
    pool: &SqlitePool,
    instance_id: i64,
) -> Result<Vec<OperationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o WHERE o.instance_id = ? ORDER BY o.id DESC"
    ))
    .bind(instance_id)
    .fetch_all(pool)
    .await
}

pub async fn recent_operations(
    pool: &SqlitePool,
    limit: i64,
) -> Result<Vec<OperationWithName>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS}, i.name AS instance_name
         FROM operations o JOIN instances i ON i.id = o.instance_id
         ORDER BY o.id DESC LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn steps_of(pool: &SqlitePool, operation_id: i64) -> Result<Vec<StepRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT step_index, step_id, attempts, started_at, finished_at, outcome, detail
         FROM operation_steps WHERE operation_id = ? ORDER BY step_index",
    )
    .bind(operation_id)
    .fetch_all(pool)
    .await
}

/// Notes that a step starts (again, after a restart: `attempts` counts). Returns the attempt.
pub async fn begin_step(
    pool: &SqlitePool,
    operation_id: i64,
    index: usize,
    step_id: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO operation_steps (operation_id, step_index, step_id, attempts, started_at)
         VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (operation_id, step_index)
         DO UPDATE SET attempts = attempts + 1, started_at = excluded.started_at
         RETURNING attempts",
    )
    .bind(operation_id)
    .bind(index as i64)
    .bind(step_id)
    .bind(now)
    .fetch_one(pool)
    .await
}

/// Marks step `index` done and moves the operation past it, in one transaction. Guarded by
/// `steps_done = index`: a step can be counted once only.
pub async fn complete_step(
    pool: &SqlitePool,
    operation_id: i64,
    index: usize,
    detail: Option<&str>,
    bootstrap: Option<(i64, &str)>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let moved = sqlx::query(
        "UPDATE operations SET steps_done = steps_done + 1
         WHERE id = ? AND steps_done = ? AND status = 'running'",
    )
    .bind(operation_id)
    .bind(index as i64)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved {
        sqlx::query(
            "UPDATE operation_steps SET finished_at = ?, outcome = 'succeeded', detail = ?
             WHERE operation_id = ? AND step_index = ?",
        )
        .bind(now)
        .bind(detail)
        .bind(operation_id)
        .bind(index as i64)
        .execute(&mut *tx)
        .await?;
        if let Some((instance_id, address)) = bootstrap {
            set_bootstrap(&mut tx, instance_id, address, now).await?;
        }
    }
    tx.commit().await?;
    Ok(moved)
}

/// The operation succeeded: the instance takes its final state (and size), and the audit log
/// records it (`operation_succeeded`, the kind as detail), in one transaction.
pub async fn finish_operation(
    pool: &SqlitePool,
    op: &OperationRow,
    final_state: State,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE operations SET status = 'succeeded', finished_at = ? WHERE id = ? AND status = 'running'",
    )
    .bind(now)
    .bind(op.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        sqlx::query(
            "UPDATE instances SET size_aku = COALESCE(?, size_aku), deleted_at = ? WHERE id = ?",
        )
        .bind(if op.kind == "scale" { op.to_aku } else { None })
        .bind((final_state == State::Deleted).then_some(now))
        .bind(op.instance_id)
        .execute(&mut *tx)
        .await?;
        set_state(&mut tx, op.instance_id, final_state, None, None, now).await?;
        audit_finished(&mut tx, op, "operation_succeeded", "success", &op.kind, now).await?;
    }
    tx.commit().await
}

/// The audit entry of a finished operation, in the transaction that finishes it: exactly one
/// per operation (the callers append only when they moved it out of `running`). Actor
/// `system`: the console carried out the steps (who asked is the operation's `requested_by`,
/// and the entry that recorded the request).
async fn audit_finished(
    conn: &mut SqliteConnection,
    op: &OperationRow,
    action: &str,
    outcome: &str,
    detail: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM instances WHERE id = ?")
        .bind(op.instance_id)
        .fetch_optional(&mut *conn)
        .await?;
    let target = name.unwrap_or_else(|| op.instance_id.to_string());
    super::audit::append_in(
        conn,
        super::audit::Entry::by_console(now, action, &target, outcome, detail),
    )
    .await?;
    Ok(())
}

/// A step failed: the operation ends failed and the instance turns abnormal with the reason;
/// the audit log records it (`operation_failed`, "kind: reason"), in the same transaction.
/// A failed scale keeps its target reserved in the quota until it is retried or deleted.
pub async fn fail_operation(
    pool: &SqlitePool,
    op: &OperationRow,
    step_index: usize,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "UPDATE operation_steps SET finished_at = ?, outcome = 'failed', detail = ?
         WHERE operation_id = ? AND step_index = ?",
    )
    .bind(now)
    .bind(reason)
    .bind(op.id)
    .bind(step_index as i64)
    .execute(&mut *tx)
    .await?;
    let failed = sqlx::query(
        "UPDATE operations SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'",
    )
    .bind(now)
    .bind(reason)
    .bind(op.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if failed {
        let target: Option<i64> =
            sqlx::query_scalar("SELECT target_aku FROM instances WHERE id = ?")
                .bind(op.instance_id)
                .fetch_one(&mut *tx)
                .await?;
        set_state(
            &mut tx,
            op.instance_id,
            State::Abnormal,
            target.and_then(|t| u32::try_from(t).ok()),
            Some(reason),
            now,
        )
        .await?;
        let detail = format!("{}: {reason}", op.kind);
        audit_finished(&mut tx, op, "operation_failed", "failure", &detail, now).await?;
    }
    tx.commit().await
}

/// Records a new bootstrap address of a running instance (its listener's address was
/// reconfigured), with its audit entry, in one transaction. `Ok(false)`: it had that one.
pub async fn change_bootstrap(
    pool: &SqlitePool,
    instance_id: i64,
    address: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let old: Option<(String, String)> =
        sqlx::query_as("SELECT name, bootstrap FROM instances WHERE id = ?")
            .bind(instance_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((name, old)) = old.filter(|(_, old)| old != address) else {
        return Ok(false);
    };
    set_bootstrap(&mut tx, instance_id, address, now).await?;
    let detail = format!("bootstrap address {old} -> {address}");
    super::audit::append_in(
        &mut tx,
        super::audit::Entry::by_console(now, "instance_endpoint", &name, "success", &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn set_bootstrap(
    conn: &mut SqliteConnection,
    instance_id: i64,
    address: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE instances SET bootstrap = ?, updated_at = ? WHERE id = ?")
        .bind(address)
        .bind(now)
        .bind(instance_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
