//! The instance service: create, scale, delete and retry, each checked and written in one
//! `BEGIN IMMEDIATE` transaction (the quota rule: concurrent requests never together exceed
//! the quota), then handed to the operation runner. Also the license watcher's part: suspend
//! running instances when the license lapses, resume them when a valid key is applied.

mod control;
pub mod view;

pub use control::{broker_died, follow_license, restart_broker, Restart};

use super::access::{Authorized, Operator};
use super::audit::{self, Actor, Outcome};
use super::store::instances::{self as store, InstanceRow};
use super::store::operations::{self as ops, NewOperation, OperationRow};
use super::{license, operations, AppState, ServerError};
use crate::domain::instance::State;
use crate::domain::instance_spec::{self, InstanceInput};
use crate::domain::license::MAX_INSTANCE_AKU;
use crate::domain::license_state::Phase;
use crate::domain::marketplace::SubscriptionEffect;
use crate::domain::operation::{self, OperationKind, OperationStatus};
use crate::domain::quota::{self, QuotaError};
use crate::wire::error::AppError;
use sqlx::SqliteConnection;

/// The quota rule's refusals are refusals by the license or the quota: audited
/// ([`audit::audited_refusal`]), though "not enough quota" names the size field.
fn quota_refusal(error: QuotaError) -> ServerError {
    match error {
        QuotaError::Exceeded { .. } => ServerError::policy(AppError::invalid("size_aku", error)),
        QuotaError::LicenseForbidsGrowth { .. } => {
            ServerError::policy(AppError::Conflict(error.to_string()))
        }
    }
}

/// Whether `extra` AKU may be taken at `now`, on the transaction's view of license and usage.
/// (`now` comes from [`license::license_clock`], read before the transaction begins: it may
/// write the clock watermark, which would wait for the transaction's own lock.)
async fn check_growth(
    state: &AppState,
    conn: &mut SqliteConnection,
    now: time::OffsetDateTime,
    extra: u32,
) -> Result<(), ServerError> {
    let (current, status, used) = license::status_on(state, conn, now).await?;
    let billing = current.as_ref().map(|c| c.payload.billing);
    let effect = super::marketplace::effect_on(state, conn, billing, now.unix_timestamp()).await?;
    let when = match effect {
        SubscriptionEffect::Normal => None,
        SubscriptionEffect::NoGrowth { suspend_at } => Some(format!(
            "; running instances are suspended at {} unless it is renewed",
            crate::format::utc(suspend_at)
        )),
        SubscriptionEffect::Suspend => Some(String::new()),
    };
    if let Some(when) = when {
        return Err(ServerError::policy(AppError::Conflict(format!(
            "The marketplace subscription has ended: nothing can be created or scaled up until it is renewed{when}."
        ))));
    }
    super::marketplace::grace::check_growth(state, conn, current.as_ref(), now.unix_timestamp())
        .await?;
    let quota = current.as_ref().and_then(|c| c.payload.aku_quota);
    quota::check_growth(&status, quota, used, extra).map_err(quota_refusal)
}

/// The license's largest instance size (500 without a license: growth is refused anyway).
async fn max_per_instance(state: &AppState) -> Result<u32, ServerError> {
    Ok(license::current(state)
        .await?
        .map(|c| c.payload.max_aku_per_instance)
        .unwrap_or(MAX_INSTANCE_AKU))
}

/// A size the catalog allows (checked before, as input) but the license's per-instance
/// maximum does not: a refusal by the license (audited).
fn check_license_size(size_input: &str, max_per_instance: u32) -> Result<(), ServerError> {
    instance_spec::parse_size(size_input, max_per_instance)
        .map(|_| ())
        .map_err(|e| ServerError::policy(AppError::invalid(e.field, e)))
}

/// A change's audit entry, written in the change's transaction (the target is the instance).
struct Entry<'a> {
    action: &'a str,
    detail: &'a str,
}

/// What a change started: the instance and the operation that carries it out (to poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub instance_id: i64,
    pub operation_id: i64,
}

/// Creates an instance from the form. The operation runs in the background.
pub async fn create(
    state: &AppState,
    who: &Authorized<Operator>,
    input: &InstanceInput,
) -> Result<Started, ServerError> {
    let actor = who.actor();
    let env = super::store::environment::get(&state.pool)
        .await?
        .ok_or_else(|| ServerError::invariant("no environment before setup"))?;
    // The catalog's rules first (bad input, not audited), then the license's maximum size.
    let spec = instance_spec::validate(input, &env.cloud_provider, &env.region, MAX_INSTANCE_AKU)
        .map_err(|e| AppError::invalid(e.field, e))?;
    // A setting the provisioner cannot put in force is refused, never shown as if it were.
    if let Some(refusal) = state.operations.provisioner().refuses(&spec) {
        return Err(AppError::invalid(refusal.field, refusal).into());
    }

    let result: Result<Started, ServerError> = async {
        check_license_size(&input.size_aku, max_per_instance(state).await?)?;
        let (license_now, _) = license::license_clock(state).await?;
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        if store::name_taken(&mut tx, &spec.name).await? {
            return Err(AppError::invalid(
                "name",
                format!(
                    "An instance named {} exists already; choose another name.",
                    spec.name
                ),
            )
            .into());
        }
        check_growth(state, &mut tx, license_now, spec.size_aku).await?;
        let now = state.clock.unix();
        let id = store::insert(&mut tx, &spec, &actor.name, now).await?;
        store::record_created(&mut tx, id, now).await?;
        let op = ops::insert_operation(
            &mut tx,
            NewOperation {
                instance_id: id,
                kind: OperationKind::Create,
                from_state: State::Creating,
                to_state: State::Running,
                from_aku: None,
                to_aku: Some(spec.size_aku),
                requested_by: &actor.name,
                requested_from: &actor.addr,
            },
            now,
        )
        .await?;
        let detail = format!(
            "{} AKU, Kafka {}, {}",
            spec.size_aku,
            spec.kafka_version,
            spec.zones.join(" ")
        );
        let action = "instance_create";
        audit::record_in(
            &mut tx,
            state,
            actor,
            action,
            Some(&spec.name),
            Outcome::Success,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        super::metrics::operation_started(OperationKind::Create.as_str());
        operations::drive(state, op);
        Ok(Started {
            instance_id: id,
            operation_id: op,
        })
    }
    .await;
    if let Err(error) = &result {
        audit::refusal(state, actor, "instance_create", Some(&spec.name), error).await;
    }
    result
}

/// The live instance `id` inside the transaction, and no operation running on it.
async fn idle_instance(conn: &mut SqliteConnection, id: i64) -> Result<InstanceRow, ServerError> {
    let instance = store::get(conn, id)
        .await?
        .filter(|i| i.state() != State::Deleted)
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?;
    if instance.state().is_busy() || ops::running_operation_of(conn, id).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "{} is {}: wait until the operation in progress finishes.",
            instance.name,
            if instance.state().is_busy() {
                instance.state().as_str()
            } else {
                "being suspended or resumed"
            }
        ))
        .into());
    }
    Ok(instance)
}

/// Changes the size of instance `id`. Up only within the quota and while the license allows
/// growth; down always.
pub async fn scale(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    size_input: &str,
) -> Result<i64, ServerError> {
    let actor = who.actor();
    let to = instance_spec::parse_size(size_input, MAX_INSTANCE_AKU)
        .map_err(|e| AppError::invalid(e.field, e))?;
    let max = max_per_instance(state).await?;
    let mut name = id.to_string();
    let (license_now, _) = license::license_clock(state).await?;
    let result: Result<i64, ServerError> = async {
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let instance = idle_instance(&mut tx, id).await?;
        name = instance.name.clone();
        check_license_size(size_input, max)?;
        if !OperationKind::Scale.may_start_from(instance.state()) {
            return Err(AppError::Conflict(format!(
                "Only a running instance can be scaled; {} is {}.",
                instance.name,
                instance.state().as_str()
            ))
            .into());
        }
        let from = instance.size();
        if to == from {
            return Err(AppError::invalid(
                "size_aku",
                format!("{} is already {to} AKU.", instance.name),
            )
            .into());
        }
        if to > from {
            check_growth(state, &mut tx, license_now, to - from).await?;
        }
        let detail = format!("{from} AKU -> {to} AKU");
        let entry = Entry {
            action: "instance_scale",
            detail: &detail,
        };
        start(
            tx,
            state,
            actor,
            &instance,
            OperationKind::Scale,
            Some(to),
            entry,
        )
        .await
    }
    .await;
    if let Err(error) = &result {
        audit::refusal(state, actor, "instance_scale", Some(&name), error).await;
    }
    result
}

/// Deletes instance `id`. The pages ask for the name typed again (`confirm_name`); a REST
/// client names the instance by its id in the path and passes None. Returns the operation.
pub async fn delete(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    confirm_name: Option<&str>,
) -> Result<i64, ServerError> {
    let actor = who.actor();
    let mut name = id.to_string();
    let result: Result<i64, ServerError> = async {
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let instance = idle_instance(&mut tx, id).await?;
        name = instance.name.clone();
        if confirm_name.is_some_and(|typed| typed.trim() != instance.name) {
            return Err(AppError::invalid(
                "confirm_name",
                format!(
                    "Type the instance name, {}, to confirm the deletion.",
                    instance.name
                ),
            )
            .into());
        }
        if !OperationKind::Delete.may_start_from(instance.state()) {
            return Err(AppError::Conflict(format!(
                "{} cannot be deleted while {}.",
                instance.name,
                instance.state().as_str()
            ))
            .into());
        }
        let detail = format!("{} AKU released when done", instance.size());
        let entry = Entry {
            action: "instance_delete",
            detail: &detail,
        };
        start(
            tx,
            state,
            actor,
            &instance,
            OperationKind::Delete,
            None,
            entry,
        )
        .await
    }
    .await;
    if let Err(error) = &result {
        audit::refusal(state, actor, "instance_delete", Some(&name), error).await;
    }
    result
}

/// Runs the failed operation of an abnormal instance again. Returns the new operation.
pub async fn retry(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
) -> Result<i64, ServerError> {
    let actor = who.actor();
    let (now, _) = license::license_clock(state).await?;
    let mut name = id.to_string();
    let result: Result<i64, ServerError> = async {
        let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
        let instance = idle_instance(&mut tx, id).await?;
        name = instance.name.clone();
        if instance.state() != State::Abnormal {
            return Err(AppError::Conflict(format!(
                "Only an abnormal instance can be retried; {} is {}.",
                instance.name, instance.state().as_str()
            ))
            .into());
        }
        let (current, status, _) = license::status_on(state, &mut tx, now).await?;
        if status.phase == Phase::Lapsed {
            return Err(ServerError::policy(AppError::Conflict(
                "The license has lapsed: apply a new product key first.".into(),
            )));
        }
        let billing = current.as_ref().map(|c| c.payload.billing);
        let effect =
            super::marketplace::effect_on(state, &mut tx, billing, now.unix_timestamp()).await?;
        if effect == SubscriptionEffect::Suspend {
            return Err(ServerError::policy(AppError::Conflict(
                "The marketplace subscription has ended and its grace period has passed: renew it first.".into(),
            )));
        }
        let latest = ops::latest_operation_of(&mut tx, id).await?;
        let again = operation::retry_after(latest.as_ref().map(OperationRow::outcome))
            .ok_or_else(|| {
                AppError::Conflict(format!(
                    "{} has no failed operation to retry; delete it instead.",
                    instance.name
                ))
            })?;
        let to_aku = latest
            .filter(|op| op.status == OperationStatus::Failed)
            .and_then(|op| op.to_aku)
            .and_then(|a| u32::try_from(a).ok());
        let entry = Entry {
            action: "instance_retry",
            detail: again.as_str(),
        };
        start(tx, state, actor, &instance, again, to_aku, entry).await
    }
    .await;
    if let Err(error) = &result {
        audit::refusal(state, actor, "instance_retry", Some(&name), error).await;
    }
    result
}

/// Moves the instance into the operation's state, records the operation and its audit entry,
/// commits (all of it or nothing), and hands the operation to the runner.
async fn start(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    state: &AppState,
    actor: &Actor,
    instance: &InstanceRow,
    kind: OperationKind,
    to_aku: Option<u32>,
    entry: Entry<'_>,
) -> Result<i64, ServerError> {
    let from = instance.state();
    let during = kind.state_during(from);
    let now = state.clock.unix();
    // A scale holds the larger of both sizes in the quota until it finishes.
    let target = if kind == OperationKind::Scale {
        to_aku
    } else {
        instance.target()
    };
    let op = ops::insert_operation(
        &mut tx,
        NewOperation {
            instance_id: instance.id,
            kind,
            from_state: from,
            to_state: kind.state_after(),
            from_aku: Some(instance.size()),
            to_aku: to_aku.or(Some(instance.size())),
            requested_by: &actor.name,
            requested_from: &actor.addr,
        },
        now,
    )
    .await?;
    if during != from || target != instance.target() {
        store::set_state(&mut tx, instance.id, during, target, None, now).await?;
    }
    audit::record_in(
        &mut tx,
        state,
        actor,
        entry.action,
        Some(&instance.name),
        Outcome::Success,
        Some(entry.detail),
    )
    .await?;
    // Committed before the runner starts: it reads the operation from the database.
    tx.commit().await?;
    super::metrics::operation_started(kind.as_str());
    operations::drive(state, op);
    Ok(op)
}
