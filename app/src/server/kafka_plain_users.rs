//! Kafka users of a SASL/PLAIN instance (operators): the same operations as SCRAM users, kept
//! as salted PBKDF2-HMAC-SHA512 hashes ([`super::kafka::plain`]), never the password, and put in
//! force by writing every node's users file, which the nodes' callback handler reloads. Each
//! change and its audit entry commit together.

use super::access::{Authorized, Operator};
use super::audit::{self, Outcome};
use super::kafka::scram;
use super::kafka_users::{apply, connect_settings, no_such_user};
use super::store::{instances::InstanceRow, kafka_plain_users as keep};
use super::{AppState, ServerError};
use crate::domain::kafka_user::{self, USERS_MAX};
use crate::wire::error::AppError;
use crate::wire::kafka::{KafkaUserView, NewKafkaUser};

pub(super) async fn list(
    state: &AppState,
    row: &InstanceRow,
) -> Result<Vec<KafkaUserView>, ServerError> {
    let users = keep::plain_users(&state.pool, row.id).await?;
    Ok(users
        .into_iter()
        .map(|u| KafkaUserView {
            username: u.username,
            mechanism: kafka_user::PLAIN.into(),
            internal: false,
            created_by: u.created_by,
            created_at: u.created_at,
            rotated_at: u.rotated_at,
            certificate_expires_at: None,
        })
        .collect())
}

fn mechanism_field(row: &InstanceRow, mechanism: &str) -> Result<(), ServerError> {
    match mechanism.trim() {
        "" | kafka_user::PLAIN => Ok(()),
        _ => Err(AppError::invalid(
            "mechanism",
            format!(
                "{} authenticates clients with SASL/PLAIN: its users' mechanism is PLAIN.",
                row.name
            ),
        )
        .into()),
    }
}

pub(super) async fn create(
    state: &AppState,
    who: &Authorized<Operator>,
    row: &InstanceRow,
    username: &str,
    mechanism: &str,
) -> Result<NewKafkaUser, ServerError> {
    mechanism_field(row, mechanism)?;
    let actor = who.actor();
    let password = scram::generate_password();
    let hash = super::kafka::plain::hash(&password);
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if keep::count_plain_users(&mut tx, row.id).await? >= USERS_MAX as i64 {
        return Err(AppError::Conflict(format!(
            "{} has {USERS_MAX} users, the most an instance may have: delete one first.",
            row.name
        ))
        .into());
    }
    let now = state.clock.unix();
    if !keep::insert_plain_user(&mut tx, row.id, username, &hash, &actor.name, now).await? {
        return Err(AppError::invalid(
            "username",
            format!("{} has a user named {username} already.", row.name),
        )
        .into());
    }
    let detail = format!("{username} ({})", kafka_user::PLAIN);
    audit::record_in(
        &mut tx,
        state,
        actor,
        "kafka_user_create",
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    let applied = apply(state, row, false).await;
    shown(state, row, username, password, applied).await
}

pub(super) async fn rotate(
    state: &AppState,
    who: &Authorized<Operator>,
    row: &InstanceRow,
    username: &str,
) -> Result<NewKafkaUser, ServerError> {
    let actor = who.actor();
    let password = scram::generate_password();
    let hash = super::kafka::plain::hash(&password);
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if !keep::replace_plain_hash(&mut tx, row.id, username, &hash, state.clock.unix()).await? {
        return Err(no_such_user(row, username));
    }
    let detail = format!("{username} ({}): new password", kafka_user::PLAIN);
    audit::record_in(
        &mut tx,
        state,
        actor,
        "kafka_user_rotate",
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    let applied = apply(state, row, true).await;
    shown(state, row, username, password, applied).await
}

async fn shown(
    state: &AppState,
    row: &InstanceRow,
    username: &str,
    password: String,
    applied: String,
) -> Result<NewKafkaUser, ServerError> {
    let login = Some((username, kafka_user::PLAIN, password.as_str()));
    let connect = connect_settings(state, row, login, "my-topic").await;
    Ok(NewKafkaUser {
        username: username.to_string(),
        mechanism: kafka_user::PLAIN.into(),
        password,
        certificate_pem: None,
        certificate_serial: None,
        certificate_expires_at: None,
        client_properties: connect.client_properties,
        applied,
    })
}
