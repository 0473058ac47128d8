//! Operations and their steps: what is recorded of each change of an instance, step by step,
//! so that an operation cut off by a restart goes on from the first step not done. Finishing
//! or failing an operation also sets its instance's state (`store::instances`), in the same
//! transaction with its audit entry.

use super::decode;
use super::instances::{set_bootstrap, set_state};
use crate::domain::instance::State;
use crate::domain::operation::{OperationKind, OperationStatus, StepId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// An operation as stored, typed.
#[derive(Debug, Clone)]
pub struct OperationRow {
    pub id: i64,
    pub instance_id: i64,
    pub kind: OperationKind,
    pub from_state: State,
    pub to_state: State,
    pub from_aku: Option<i64>,
    pub to_aku: Option<i64>,
    pub requested_by: String,
    pub requested_from: Option<String>,
    pub requested_at: i64,
    pub status: OperationStatus,
    pub steps_done: i64,
    pub step_count: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl<'r> sqlx::FromRow<'r, SqliteRow> for OperationRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        const T: &str = "operations";
        let id: i64 = row.try_get("id")?;
        let text = |column: &str| row.try_get::<String, _>(column);
        Ok(OperationRow {
            id,
            instance_id: row.try_get("instance_id")?,
            kind: decode::parsed(
                T,
                id,
                "kind",
                &text("kind")?,
                "an operation kind",
                OperationKind::parse,
            )?,
            from_state: decode::one_of(
                T,
                id,
                "from_state",
                &text("from_state")?,
                &State::ALL,
                State::as_str,
            )?,
            to_state: decode::one_of(
                T,
                id,
                "to_state",
                &text("to_state")?,
                &State::ALL,
                State::as_str,
            )?,
            from_aku: row.try_get("from_aku")?,
            to_aku: row.try_get("to_aku")?,
            requested_by: text("requested_by")?,
            requested_from: row.try_get("requested_from")?,
            requested_at: row.try_get("requested_at")?,
            status: decode::one_of(
                T,
                id,
                "status",
                &text("status")?,
                &OperationStatus::ALL,
                OperationStatus::as_str,
            )?,
            steps_done: row.try_get("steps_done")?,
            step_count: row.try_get("step_count")?,
            finished_at: row.try_get("finished_at")?,
            error: row.try_get("error")?,
        })
    }
}

impl OperationRow {
    pub fn kind(&self) -> OperationKind {
        self.kind
    }

    /// The kind and whether it failed: what `operation::retry_after` decides on.
    pub fn outcome(&self) -> (OperationKind, bool) {
        (self.kind, self.status == OperationStatus::Failed)
    }
}

/// A step as recorded. `succeeded`: `None` while it runs (or was cut off).
#[derive(Debug, Clone)]
pub struct StepRow {
    pub operation_id: i64,
    pub step_index: i64,
    pub step_id: StepId,
    pub attempts: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub succeeded: Option<bool>,
    pub detail: Option<String>,
}

impl<'r> sqlx::FromRow<'r, SqliteRow> for StepRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        const T: &str = "operation_steps";
        // The row's key is (operation, step): errors name the operation.
        let operation_id: i64 = row.try_get("operation_id")?;
        let step_id: String = row.try_get("step_id")?;
        let outcome: Option<String> = row.try_get("outcome")?;
        Ok(StepRow {
            operation_id,
            step_index: row.try_get("step_index")?,
            step_id: decode::parsed(
                T,
                operation_id,
                "step_id",
                &step_id,
                "a step",
                StepId::parse,
            )?,
            attempts: row.try_get("attempts")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            succeeded: outcome
                .map(|o| match o.as_str() {
                    "succeeded" => Ok(true),
                    "failed" => Ok(false),
                    other => Err(decode::bad_value(
                        T,
                        operation_id,
                        "outcome",
                        other,
                        "succeeded or failed",
                    )),
                })
                .transpose()?,
            detail: row.try_get("detail")?,
        })
    }
}

/// An operation with the name of its instance (recent operations on the overview).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperationWithName {
    #[sqlx(flatten)]
    pub operation: OperationRow,
    pub instance_name: String,
}

const OPERATION_COLUMNS: &str = "o.id, o.instance_id, o.kind, o.from_state, o.to_state, o.from_aku, o.to_aku, \
    o.requested_by, o.requested_from, o.requested_at, o.status, o.steps_done, o.step_count, o.finished_at, o.error";

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

/// At most `limit` operations of an instance, newest first, those before the operation
/// `before` if given (index `operations_instance`: one range read).
pub async fn history_of(
    conn: &mut SqliteConnection,
    instance_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<OperationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OPERATION_COLUMNS} FROM operations o
         WHERE o.instance_id = ?1 AND (?2 IS NULL OR o.id < ?2)
         ORDER BY o.id DESC LIMIT ?3"
    ))
    .bind(instance_id)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
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
        "SELECT operation_id, step_index, step_id, attempts, started_at, finished_at, outcome, detail
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

/// How far the running step `index` of the instance's running operation is, shown on its
/// page while it runs (replaced by what the step did when it completes). Not audited: it
/// changes nothing but the words of a step in progress.
pub async fn step_progress(
    pool: &SqlitePool,
    instance_id: i64,
    index: usize,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE operation_steps SET detail = ?
         WHERE step_index = ? AND finished_at IS NULL AND operation_id =
           (SELECT id FROM operations WHERE instance_id = ? AND status = 'running')",
    )
    .bind(detail)
    .bind(index as i64)
    .bind(instance_id)
    .execute(pool)
    .await?;
    Ok(())
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
        .bind(if op.kind == OperationKind::Scale {
            op.to_aku
        } else {
            None
        })
        .bind((final_state == State::Deleted).then_some(now))
        .bind(op.instance_id)
        .execute(&mut *tx)
        .await?;
        set_state(&mut tx, op.instance_id, final_state, None, None, now).await?;
        audit_finished(
            &mut tx,
            op,
            "operation_succeeded",
            "success",
            op.kind.as_str(),
            now,
        )
        .await?;
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
        let detail = format!("{}: {reason}", op.kind.as_str());
        audit_finished(&mut tx, op, "operation_failed", "failure", &detail, now).await?;
    }
    tx.commit().await
}
