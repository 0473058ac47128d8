//! Kafka users of an instance (operators): create (the password generated here and shown
//! once), rotate a password, delete. The console keeps only SCRAM verifiers; each change and
//! its audit entry commit together, then the change is put in force on the broker at once
//! (the control loop would within seconds anyway). Deleting a user or rotating a password
//! also cuts the instance's open connections (a broker restart), since the broker checks a
//! password only at login.

use super::access::{Authorized, Operator, Viewer};
use super::audit::{self, Outcome};
use super::kafka::scram;
use super::store::{self, instances::InstanceRow, kafka_security as keep};
use super::{AppState, ServerError};
use crate::domain::instance_spec::{ClientAuth, SpecError, TransitEncryption};
use crate::domain::kafka_user::{self, Credential, Mechanism, CONSOLE_USER, USERS_MAX};
use crate::wire::error::AppError;
use crate::wire::kafka::{connect_info, ConnectAuth, KafkaUserView, NewKafkaUser};

async fn scram_instance(state: &AppState, id: i64) -> Result<InstanceRow, ServerError> {
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
            "{} is {}: its users go with it.",
            row.name,
            row.state().as_str()
        ))
        .into());
    }
    if !matches!(
        row.client_auth,
        ClientAuth::SaslScram | ClientAuth::SaslPlain | ClientAuth::Mtls
    ) {
        return Err(AppError::Conflict(format!(
            "{} takes no credentials (client authentication: {}): Kafka users apply to \
             SASL/SCRAM, SASL/PLAIN and mutual TLS instances only.",
            row.name,
            row.client_auth.label()
        ))
        .into());
    }
    Ok(row)
}

/// The users of a SASL/SCRAM instance, for a viewer (the REST API; the Kafka panel reads
/// them through [`list`]).
pub async fn of_instance(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
) -> Result<Vec<KafkaUserView>, ServerError> {
    let row = scram_instance(state, id).await?;
    list(state, &row).await
}

pub async fn list(state: &AppState, row: &InstanceRow) -> Result<Vec<KafkaUserView>, ServerError> {
    if row.client_auth == ClientAuth::SaslPlain {
        return super::kafka_plain_users::list(state, row).await;
    }
    if row.client_auth == ClientAuth::Mtls {
        return super::kafka_certificates::list(state, row).await;
    }
    let users = keep::users(&state.pool, row.id).await?;
    Ok(users
        .into_iter()
        .map(|u| KafkaUserView {
            username: u.credential.username,
            mechanism: u.credential.mechanism.as_str().into(),
            internal: u.internal,
            created_by: u.created_by,
            created_at: u.created_at,
            rotated_at: u.rotated_at,
            certificate_expires_at: None,
        })
        .collect())
}

/// Puts the change in force on the broker, under the instance's lock (never at the same time
/// as a step or the control loop): at once on a live broker, whatever the instance's state;
/// into its storage for its next start otherwise. A failure is said, not hidden: the control
/// loop finds the difference within seconds, puts it right and cuts the sessions it must.
pub(super) async fn apply(state: &AppState, row: &InstanceRow, cut_sessions: bool) -> String {
    apply_with(state, row, cut_sessions, None).await
}

/// A new or rotated credential, handed to the provisioner once (see
/// [`super::provisioner::Provisioner::put_credential`]).
struct Fresh<'a> {
    username: &'a str,
    mechanism: Mechanism,
    verifier: &'a crate::domain::kafka_user::Verifier,
    password: &'a str,
}

async fn apply_with(
    state: &AppState,
    row: &InstanceRow,
    cut_sessions: bool,
    fresh: Option<Fresh<'_>>,
) -> String {
    let lock = state.operations.control.locks.of(row.id);
    let _held = lock.lock().await;
    let provisioner = state.operations.provisioner();
    if let Some(fresh) = fresh {
        let salted = scram::salted_password(
            fresh.mechanism,
            fresh.password,
            &fresh.verifier.salt,
            fresh.verifier.iterations,
        );
        if let Err(error) = provisioner
            .put_credential(
                row,
                fresh.username,
                fresh.mechanism,
                fresh.verifier,
                &salted,
            )
            .await
        {
            let error = super::provisioner::reason(&error);
            tracing::warn!(instance = row.id, %error, "Kafka user not written");
            return format!("not on the cluster ({error}); rotate the password to send it again");
        }
    }
    match provisioner.apply_users(row, cut_sessions).await {
        Ok(done) => done,
        Err(error) => {
            let error = super::provisioner::reason(&error);
            tracing::warn!(instance = row.id, %error, "Kafka users not applied yet");
            format!("not yet on the broker ({error}); the control loop retries within seconds")
        }
    }
}

fn user_field(e: SpecError) -> ServerError {
    AppError::invalid(e.field, e).into()
}

pub async fn create(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
    mechanism: &str,
) -> Result<NewKafkaUser, ServerError> {
    let actor = who.actor();
    let username = kafka_user::parse_name(username).map_err(user_field)?;
    let row = scram_instance(state, id).await?;
    if row.client_auth == ClientAuth::SaslPlain {
        return super::kafka_plain_users::create(state, who, &row, &username, mechanism).await;
    }
    if row.client_auth == ClientAuth::Mtls {
        return super::kafka_certificates::create(state, who, &row, &username, mechanism).await;
    }
    let mechanism = Mechanism::parse(mechanism).map_err(user_field)?;
    let password = scram::generate_password();
    let credential = Credential {
        username: username.clone(),
        mechanism,
        verifier: scram::verifier(mechanism, &password)
            .map_err(|e| ServerError::internal("making a SCRAM verifier", e))?,
    };
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if keep::count_users(&mut tx, id).await? >= USERS_MAX as i64 {
        return Err(AppError::Conflict(format!(
            "{} has {USERS_MAX} users, the most an instance may have: delete one first.",
            row.name
        ))
        .into());
    }
    if !keep::insert_user(&mut tx, id, &credential, false, &actor.name, now).await? {
        return Err(AppError::invalid(
            "username",
            format!("{} has a user named {username} already.", row.name),
        )
        .into());
    }
    let detail = format!("{username} ({})", mechanism.as_str());
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
    let fresh = Fresh {
        username: &username,
        mechanism,
        verifier: &credential.verifier,
        password: &password,
    };
    let applied = apply_with(state, &row, false, Some(fresh)).await;
    let topic = "my-topic";
    let connect = connect_settings(
        state,
        &row,
        Some((&username, mechanism.as_str(), &password)),
        topic,
    )
    .await;
    Ok(NewKafkaUser {
        username,
        mechanism: mechanism.as_str().into(),
        password,
        certificate_pem: None,
        certificate_serial: None,
        certificate_expires_at: None,
        client_properties: connect.client_properties,
        applied,
    })
}

pub async fn rotate(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
) -> Result<NewKafkaUser, ServerError> {
    let actor = who.actor();
    let row = scram_instance(state, id).await?;
    refuse_console_user(username)?;
    if row.client_auth == ClientAuth::SaslPlain {
        return super::kafka_plain_users::rotate(state, who, &row, username).await;
    }
    if row.client_auth == ClientAuth::Mtls {
        return super::kafka_certificates::renew(state, who, &row, username).await;
    }
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let Some(user) = keep::user(&mut tx, id, username).await? else {
        return Err(no_such_user(&row, username));
    };
    let mechanism = user.credential.mechanism;
    let password = scram::generate_password();
    let verifier = scram::verifier(mechanism, &password)
        .map_err(|e| ServerError::internal("making a SCRAM verifier", e))?;
    keep::replace_verifier(&mut tx, id, username, &verifier, state.clock.unix()).await?;
    let detail = format!("{username} ({}): new password", mechanism.as_str());
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
    let fresh = Fresh {
        username,
        mechanism,
        verifier: &verifier,
        password: &password,
    };
    let applied = apply_with(state, &row, true, Some(fresh)).await;
    let connect = connect_settings(
        state,
        &row,
        Some((username, mechanism.as_str(), &password)),
        "my-topic",
    )
    .await;
    Ok(NewKafkaUser {
        username: username.to_string(),
        mechanism: mechanism.as_str().into(),
        password,
        certificate_pem: None,
        certificate_serial: None,
        certificate_expires_at: None,
        client_properties: connect.client_properties,
        applied,
    })
}

pub async fn delete(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
) -> Result<String, ServerError> {
    let actor = who.actor();
    let row = scram_instance(state, id).await?;
    refuse_console_user(username)?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let deleted = if row.client_auth == ClientAuth::SaslPlain {
        store::kafka_plain_users::delete_plain_user(&mut tx, id, username).await?
    } else if row.client_auth == ClientAuth::Mtls {
        store::kafka_client_certificates::delete_certificate_user(&mut tx, id, username).await?
    } else {
        keep::delete_user(&mut tx, id, username).await?
    };
    if !deleted {
        return Err(no_such_user(&row, username));
    }
    // Its access rules go with it, in the same transaction (a user of the same name made
    // later starts with none).
    let rules = store::kafka_acls::delete_of_user(&mut tx, id, username).await?;
    let mut detail = format!("{username} and its {rules} access rule(s)");
    let mut denied = None;
    if row.client_auth == ClientAuth::Mtls {
        let by = &actor.name;
        if let Some(until) =
            super::kafka_certificates::deny_until_expiry(&mut tx, id, username, by, state).await?
        {
            let said = format!(
                "User:{username} denied everything until {} (its last certificate's expiry: \
                 Kafka cannot revoke a certificate)",
                super::kafka_certificates::date(until)
            );
            detail.push_str(&format!("; {said}"));
            denied = Some(said);
        }
    }
    audit::record_in(
        &mut tx,
        state,
        actor,
        "kafka_user_delete",
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    let users = apply(state, &row, true).await;
    let acls = super::kafka_acls::apply(state, &row).await;
    Ok(match denied {
        Some(said) => format!("{said}; {users}; {acls}"),
        None => format!("{users}; {acls}"),
    })
}

fn refuse_console_user(username: &str) -> Result<(), ServerError> {
    if username == CONSOLE_USER {
        return Err(AppError::invalid(
            "username",
            format!(
                "{CONSOLE_USER} is the console's own user (it reads topics and offsets): the \
                 console manages its password."
            ),
        )
        .into());
    }
    Ok(())
}

pub(super) fn no_such_user(row: &InstanceRow, username: &str) -> ServerError {
    AppError::NotFound(format!("{} has no user named {username}.", row.name)).into()
}

/// The client settings of the instance, with a user's credentials when given (shown once).
pub async fn connect_settings(
    state: &AppState,
    row: &InstanceRow,
    login: Option<(&str, &str, &str)>,
    topic: &str,
) -> crate::wire::kafka::ConnectInfo {
    let has_ca = row.transit_encryption == TransitEncryption::Tls
        && state
            .operations
            .provisioner()
            .ca_certificate()
            .await
            .is_ok();
    let auth = match row.client_auth {
        ClientAuth::SaslScram => ConnectAuth::Scram,
        ClientAuth::SaslPlain => ConnectAuth::Plain,
        ClientAuth::Mtls => ConnectAuth::Certificate,
        ClientAuth::Anonymous => ConnectAuth::None,
    };
    connect_info(
        &row.bootstrap,
        auth,
        row.transit_encryption == TransitEncryption::Tls && has_ca,
        login,
        topic,
    )
}
