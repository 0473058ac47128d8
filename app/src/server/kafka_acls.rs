//! A Kafka user's access rules (operators): add one, add a preset's, remove one. The console's
//! list is the truth: each change and its audit entry commit together, then the cluster is
//! made to match at once (the control loop would within seconds anyway, and removes any rule
//! it finds that the console does not keep). Rules are checked by `domain::kafka_acl`.

use super::access::{Authorized, Operator, Viewer};
use super::audit::{self, Outcome};
use super::store::{self, instances::InstanceRow, kafka_acls as keep};
use super::{AppState, ServerError};
use crate::domain::instance_spec::SpecError;
use crate::domain::kafka_acl::{self, AclInput, AclRule, PresetInput, RULES_MAX};
use crate::wire::acls::{AclChange, KafkaAclView};
use crate::wire::error::AppError;

fn view(row: keep::AclRow) -> KafkaAclView {
    KafkaAclView {
        id: row.id,
        description: row.rule.describe(),
        username: row.username,
        rule: row.rule,
        until: row.until,
        created_by: row.created_by,
        created_at: row.created_at,
    }
}

fn field(e: SpecError) -> ServerError {
    AppError::invalid(e.field, e).into()
}

/// The instance, if its clients log in as users (rules are per user).
async fn user_instance(state: &AppState, id: i64) -> Result<InstanceRow, ServerError> {
    let row = {
        let mut conn = state.pool.acquire().await?;
        store::instances::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?
    };
    if matches!(
        row.state(),
        crate::domain::instance::State::Deleting | crate::domain::instance::State::Deleted
    ) {
        return Err(AppError::Conflict(format!(
            "{} is {}: its rules go with it.",
            row.name,
            row.state().as_str()
        ))
        .into());
    }
    if !takes_rules(&row) {
        return Err(AppError::Conflict(format!(
            "{} has no users (client authentication: {}): every client may use every topic \
             and group of it. Access rules are per user.",
            row.name,
            row.client_auth.label()
        ))
        .into());
    }
    Ok(row)
}

/// Whether the instance's clients log in as users of their own (not anonymous).
pub fn takes_rules(row: &InstanceRow) -> bool {
    row.client_auth != crate::domain::instance_spec::ClientAuth::Anonymous
}

/// Every rule of the instance (the REST API; the Kafka panel reads them through [`list`]).
pub async fn of_instance(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
) -> Result<Vec<KafkaAclView>, ServerError> {
    let row = user_instance(state, id).await?;
    list(state, &row).await
}

pub async fn list(state: &AppState, row: &InstanceRow) -> Result<Vec<KafkaAclView>, ServerError> {
    Ok(keep::of_instance(&state.pool, row.id)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// Adds one rule to a user.
pub async fn add(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
    input: &AclInput,
) -> Result<AclChange, ServerError> {
    let rule = kafka_acl::parse_rule(input).map_err(field)?;
    let row = user_instance(state, id).await?;
    let made = insert(state, who, &row, username, &[rule], "kafka_acl_create").await?;
    if made.is_empty() {
        return Err(AppError::Conflict(format!("{username} has this rule already.")).into());
    }
    Ok(AclChange {
        rules: made,
        applied: apply(state, &row).await,
    })
}

/// Adds a preset's rules to a user (those it has already are left as they are).
pub async fn add_preset(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
    input: &PresetInput,
) -> Result<AclChange, ServerError> {
    let (_, rules) = kafka_acl::expand_preset(input).map_err(field)?;
    let row = user_instance(state, id).await?;
    let made = insert(state, who, &row, username, &rules, "kafka_acl_create").await?;
    Ok(AclChange {
        rules: made,
        applied: apply(state, &row).await,
    })
}

/// Keeps the rules the user lacks and audits them, in one transaction.
async fn insert(
    state: &AppState,
    who: &Authorized<Operator>,
    row: &InstanceRow,
    username: &str,
    rules: &[AclRule],
    action: &str,
) -> Result<Vec<KafkaAclView>, ServerError> {
    let actor = who.actor();
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if !store::kafka_security::user_exists(&mut tx, row.id, username).await? {
        return Err(
            AppError::NotFound(format!("{} has no user named {username}.", row.name)).into(),
        );
    }
    let had = keep::count_of_user(&mut tx, row.id, username).await?;
    let mut made = Vec::new();
    for rule in rules {
        if let Some(acl_id) =
            keep::insert(&mut tx, row.id, username, rule, &actor.name, now).await?
        {
            made.push(KafkaAclView {
                id: acl_id,
                username: username.to_string(),
                description: rule.describe(),
                rule: rule.clone(),
                until: None,
                created_by: actor.name.clone(),
                created_at: now,
            });
        }
    }
    if had + made.len() as i64 > RULES_MAX as i64 {
        return Err(AppError::Conflict(format!(
            "{username} has {had} rules; a user may have {RULES_MAX}: remove some first."
        ))
        .into());
    }
    if made.is_empty() {
        return Ok(made);
    }
    let said: Vec<&str> = made.iter().map(|m| m.description.as_str()).collect();
    let detail = format!("{username}: {}", said.join("; "));
    audit::record_in(
        &mut tx,
        state,
        actor,
        action,
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(made)
}

/// Removes one rule.
pub async fn remove(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    acl_id: i64,
) -> Result<AclChange, ServerError> {
    let actor = who.actor();
    let row = user_instance(state, id).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let Some(gone) = keep::delete(&mut tx, row.id, acl_id).await? else {
        return Err(
            AppError::NotFound(format!("{} has no access rule {acl_id}.", row.name)).into(),
        );
    };
    if let Some(until) = gone.until.filter(|&until| until > state.clock.unix()) {
        // Dropped with the transaction: the rule stays.
        return Err(AppError::Conflict(format!(
            "Rule {acl_id} denies {}, a deleted user whose certificates stay valid until {} \
             (Kafka cannot revoke a certificate): it goes by itself then, not before.",
            gone.username,
            super::kafka_certificates::date(until)
        ))
        .into());
    }
    let detail = format!("{}: {}", gone.username, gone.rule.describe());
    audit::record_in(
        &mut tx,
        state,
        actor,
        "kafka_acl_delete",
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(AclChange {
        rules: vec![view(gone)],
        applied: apply(state, &row).await,
    })
}

/// Makes the cluster's rules the console's now, under the instance's lock (never at the same
/// time as a step or the control loop). A failure is said, not hidden: the control loop
/// retries within seconds.
pub async fn apply(state: &AppState, row: &InstanceRow) -> String {
    let lock = state.operations.control.locks.of(row.id);
    let _held = lock.lock().await;
    match state.operations.provisioner().apply_acls(row).await {
        Ok(done) => done,
        Err(error) => {
            let error = super::provisioner::reason(&error);
            tracing::warn!(instance = row.id, %error, "access rules not applied yet");
            format!("not yet on the cluster ({error}); the control loop retries within seconds")
        }
    }
}
