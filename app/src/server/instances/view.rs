//! What the instance pages read: the list, the create form's context and one instance, built
//! from the store's rows. Any signed-in viewer may read them.

use crate::domain::account::Role;
use crate::domain::instance::State;
use crate::domain::license_state::Phase;
use crate::domain::operation::{self, OperationStatus};
use crate::domain::{environment, sizing};
use crate::server::access::{Authorized, Viewer};
use crate::server::license::{self, LicenseNow};
use crate::server::paging::{self, Keyset};
use crate::server::provisioner::SupportedSecurity;
use crate::server::store::instances::{self as store, ListedRow};
use crate::server::store::operations::{self as ops, OperationRow, StepRow};
use crate::server::{store as db, AppState, ServerError};
use crate::wire::error::AppError;
use crate::wire::instances::*;

/// Instances that are not deleted (those in `filter`'s state only, if given), counts per
/// state, and the quota.
pub async fn list(
    state: &AppState,
    who: &Authorized<Viewer>,
    filter: Option<State>,
    name: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<InstanceList, ServerError> {
    let Page { items, next } = page(state, who, filter, name, cursor, limit).await?;
    let now = license::now(state).await?;
    Ok(InstanceList {
        instances: items,
        next,
        counts: now.totals.by_state(),
        quota: quota(&now),
        can_change: who.may(Role::Operator),
    })
}

/// The most a page of a list holds.
pub const PAGE_LIMIT: u32 = 100;
/// A page's size when none is asked for.
pub const PAGE_DEFAULT: u32 = 50;
/// The instance list's cursor (newest first).
const INSTANCES: Keyset = Keyset {
    letter: 'i',
    field: "cursor",
};

/// A page of instances and the cursor of the next one (None: this is the last).
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<InstanceSummary>,
    pub next: Option<String>,
}

/// A page of the list: the instances after `cursor` (as a previous page answered it), newest
/// first, at most `limit`, filtered by state and name. The cursor is opaque to callers; a
/// cursor that this console did not make is refused, naming the field.
pub async fn page(
    state: &AppState,
    _who: &Authorized<Viewer>,
    filter: Option<State>,
    name: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page, ServerError> {
    let limit = paging::limit(limit, PAGE_DEFAULT, PAGE_LIMIT)?;
    let before = INSTANCES.after(cursor)?;
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    // One more than asked: whether another page follows.
    let rows = store::page(&state.pool, filter, name, before, i64::from(limit) + 1).await?;
    let (rows, next) = INSTANCES.page(rows, limit, |r| r.id);
    let running = ops::running_operations_by_instance(&state.pool).await?;
    Ok(Page {
        next,
        items: rows
            .iter()
            .map(|row| summary(row, running.get(&row.id)))
            .collect(),
    })
}

/// One operation and its steps.
pub async fn operation(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
) -> Result<OperationDetail, ServerError> {
    let op = ops::operation(&state.pool, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no operation {id}.")))?;
    let rows = ops::steps_of(&state.pool, id).await?;
    Ok(OperationDetail {
        instance_id: op.instance_id,
        steps: steps(&op, &rows),
        operation: operation_line(&op),
    })
}

/// The create form's context: the quota, the region's zones, examples, and the security
/// choices the provisioner can put in force.
pub async fn form_context(
    state: &AppState,
    who: &Authorized<Viewer>,
) -> Result<NewInstanceContext, ServerError> {
    let env = db::environment::get(&state.pool)
        .await?
        .ok_or_else(|| ServerError::invariant("no environment before setup"))?;
    let now = license::now(state).await?;
    let security = state.operations.provisioner().supported_security();
    let owned = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let allowed = |choices: &[(&str, Option<&str>)]| {
        choices
            .iter()
            .filter(|(_, refused)| refused.is_none())
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
    };
    let notes = |s: &SupportedSecurity| {
        let refused = s.client_auth.iter().chain(&s.transit_encryption);
        refused
            .filter_map(|(_, why)| why.map(str::to_string))
            .chain(s.internet.map(str::to_string))
            .collect::<Vec<_>>()
    };
    let (vpc_example, subnet_example) = match env.cloud_provider.as_str() {
        "aws" => ("vpc-0a1b2c3d4e", "subnet-0a1b2c3d"),
        "alibaba" => ("vpc-bp1a2b3c4d", "vsw-bp1a2b3c4d"),
        _ => ("prod-network", "prod-subnet-a"),
    };
    Ok(NewInstanceContext {
        quota: quota(&now),
        zones: environment::zones(&env.cloud_provider, &env.region).to_vec(),
        region: env.region,
        vpc_example: vpc_example.into(),
        subnet_example: subnet_example.into(),
        can_change: who.may(Role::Operator),
        allowed_client_auth: security.as_ref().map(|s| allowed(&s.client_auth)),
        allowed_transit_encryption: security.as_ref().map(|s| allowed(&s.transit_encryption)),
        allowed_endpoint_exposure: security.as_ref().map(|s| match s.internet {
            Some(_) => owned(&["vpc"]),
            None => owned(&["vpc", "internet"]),
        }),
        security_notes: security.as_ref().map(notes).unwrap_or_default(),
    })
}

/// Operations shown on an instance's page at a time, newest first.
pub const OPERATIONS_PER_PAGE: u32 = 20;
/// The cursor of an instance's operation history (newest first).
const OPERATIONS: Keyset = Keyset {
    letter: 'o',
    field: "operations_cursor",
};

/// One instance, deleted ones too (their settings and history are kept), with a page of its
/// operation history: the newest, or those older than `operations_cursor`.
pub async fn detail(
    state: &AppState,
    who: &Authorized<Viewer>,
    id: i64,
    operations_cursor: Option<&str>,
) -> Result<InstanceDetail, ServerError> {
    let before = OPERATIONS.after(operations_cursor)?;
    let mut conn = state.pool.acquire().await?;
    let row = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?;
    let running = ops::running_operation_of(&mut conn, id).await?;
    let latest = ops::latest_operation_of(&mut conn, id).await?;
    let history =
        ops::history_of(&mut conn, id, before, i64::from(OPERATIONS_PER_PAGE) + 1).await?;
    drop(conn);
    let (operations, operations_next) = OPERATIONS.page(history, OPERATIONS_PER_PAGE, |o| o.id);
    let steps = match &latest {
        Some(latest) => steps(latest, &ops::steps_of(&state.pool, latest.id).await?),
        None => Vec::new(),
    };
    let now = license::now(state).await?;
    Ok(InstanceDetail {
        summary: summary(&row.listed(), running.as_ref()),
        description: row.description.clone(),
        deployment: row.deployment,
        vpc_id: row.vpc_id.clone(),
        placement: row.zones().into_iter().zip(row.subnets()).collect(),
        data_bucket: row.data_bucket.clone(),
        wal_mode: row.wal_mode,
        client_auth: row.client_auth,
        transit_encryption: row.transit_encryption,
        endpoint_exposure: row.endpoint_exposure,
        tags: row.tags(),
        created_by: row.created_by.clone(),
        capacity: sizing::capacity(row.size()),
        operations: operations.iter().map(operation_line).collect(),
        operations_next,
        steps,
        quota: quota(&now),
        can_change: who.may(Role::Operator),
    })
}

pub fn summary(row: &ListedRow, running: Option<&OperationRow>) -> InstanceSummary {
    InstanceSummary {
        id: row.id,
        name: row.name.clone(),
        state: row.state,
        state_reason: row.state_reason.clone(),
        size_aku: row.size_aku,
        target_aku: row.target_aku,
        kafka_version: row.kafka_version.clone(),
        zones: row.zones.clone(),
        bootstrap: row.bootstrap.clone(),
        created_at: row.created_at,
        progress: running.and_then(|op| {
            let done = usize::try_from(op.steps_done).ok()?;
            Some(operation::progress(op.kind(), done))
        }),
    }
}

pub fn operation_line(op: &OperationRow) -> OperationLine {
    let aku = |a: Option<i64>| a.and_then(|a| u32::try_from(a).ok());
    OperationLine {
        id: op.id,
        kind: Some(op.kind()),
        requested_by: op.requested_by.clone(),
        requested_from: op.requested_from.clone(),
        requested_at: op.requested_at,
        from_state: op.from_state.as_str().to_string(),
        to_state: op.to_state.as_str().to_string(),
        from_aku: aku(op.from_aku),
        to_aku: aku(op.to_aku),
        status: op.status.as_str().to_string(),
        finished_at: op.finished_at,
        error: op.error.clone(),
    }
}

fn steps(op: &OperationRow, rows: &[StepRow]) -> Vec<StepLine> {
    op.kind()
        .steps()
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let row = rows.iter().find(|r| r.step_index == i as i64);
            let status = match row.and_then(|r| r.succeeded) {
                Some(true) => StepStatus::Done,
                Some(false) => StepStatus::Failed,
                None if row.is_some() && op.status == OperationStatus::Running => {
                    StepStatus::Running
                }
                None => StepStatus::Waiting,
            };
            StepLine {
                label: step.label.to_string(),
                status,
                attempts: row.map(|r| r.attempts).unwrap_or(0),
                detail: row.and_then(|r| r.detail.clone()),
            }
        })
        .collect()
}

pub fn quota(now: &LicenseNow) -> QuotaView {
    let payload = now.current.as_ref().map(|c| &c.payload);
    let growth_blocked = crate::domain::quota::check_growth(&now.status, None, now.used_aku, 0)
        .err()
        .map(|e| e.to_string());
    QuotaView {
        used_aku: now.used_aku,
        quota: payload.and_then(|p| p.aku_quota),
        max_per_instance: payload
            .map(|p| p.max_aku_per_instance)
            .unwrap_or(crate::domain::license::MAX_INSTANCE_AKU),
        growth_blocked: match now.status.phase {
            Phase::Unactivated => Some("The environment is not activated.".into()),
            _ => growth_blocked,
        },
    }
}
