//! Kafka users of a mutual TLS instance: each logs in with a client certificate the console
//! issues from the environment's CA, subject `CN=<user>,OU=byoc-instance-<id>`, valid
//! [`CLIENT_CERT_VALIDITY_S`] (30 days). The key is generated for the one download and never
//! kept; the console records each certificate's serial and dates (also after the user is
//! deleted: Kafka cannot revoke a certificate, see [`latest_expiry`]). Renewing issues a new
//! certificate; the old one stays valid until it expires. Deleting a user denies its principal
//! everything until its last certificate expires ([`deny_until_expiry`]), and the name is not
//! given again before then. Each change and its audit entry commit together.

use super::access::{Authorized, Operator, Viewer};
use super::audit::{self, Outcome};
use super::kafka_users::{connect_settings, no_such_user};
use super::store::{self, instances::InstanceRow, kafka_client_certificates as keep};
use super::{AppState, ServerError};
use crate::domain::certificate::CLIENT_CERT_VALIDITY_S;
use crate::domain::instance_spec::ClientAuth;
use crate::domain::kafka_acl;
use crate::domain::kafka_user::USERS_MAX;
use crate::wire::error::AppError;
use crate::wire::kafka::{KafkaUserView, NewKafkaUser};
use serde::Serialize;

/// The mechanism name of mutual TLS users (the page and the API show it).
pub const CERTIFICATE: &str = "certificate";

/// One issued certificate, as the API lists it (never a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedCertificate {
    /// The certificate's serial number (hex).
    pub serial: String,
    /// Valid from (Unix seconds).
    pub not_before: i64,
    /// Valid until (Unix seconds).
    pub not_after: i64,
    pub issued_by: String,
    pub issued_at: i64,
}

pub async fn list(state: &AppState, row: &InstanceRow) -> Result<Vec<KafkaUserView>, ServerError> {
    let users = keep::certificate_users(&state.pool, row.id).await?;
    Ok(users
        .into_iter()
        .map(|u| KafkaUserView {
            username: u.username,
            mechanism: CERTIFICATE.into(),
            internal: false,
            created_by: u.created_by,
            created_at: u.created_at,
            rotated_at: None,
            certificate_expires_at: u.expires_at,
        })
        .collect())
}

/// The certificates issued to a user of a mutual TLS instance, newest first (a viewer's).
pub async fn of_user(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
    username: &str,
) -> Result<Vec<IssuedCertificate>, ServerError> {
    let row = mtls_instance(state, id).await?;
    let certificates = keep::client_certificates(&state.pool, row.id, username).await?;
    if certificates.is_empty() {
        return Err(no_such_user(&row, username));
    }
    Ok(certificates
        .into_iter()
        .map(|c| IssuedCertificate {
            serial: c.serial,
            not_before: c.not_before,
            not_after: c.not_after,
            issued_by: c.issued_by,
            issued_at: c.issued_at,
        })
        .collect())
}

/// A new certificate for a user of a mutual TLS instance (REST's POST .../certificates; the
/// page's "New certificate" goes through [`super::kafka_users::rotate`] to [`renew`]).
pub async fn issue_to(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    username: &str,
) -> Result<NewKafkaUser, ServerError> {
    let row = mtls_instance(state, id).await?;
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
    renew(state, who, &row, username).await
}

/// When the last certificate issued to `username` on instance `instance_id` expires, whether
/// the user still exists or not: until then a certificate of that principal can log in, so a
/// deleted user's principal must stay denied (by ACL) until this time. `None`: none issued.
pub async fn latest_expiry(
    state: &AppState,
    instance_id: i64,
    username: &str,
) -> Result<Option<i64>, ServerError> {
    let mut conn = state.pool.acquire().await?;
    Ok(keep::latest_certificate_expiry(&mut conn, instance_id, username).await?)
}

/// A deleted user's principal is denied everything ([`kafka_acl::deny_everything`]) until its
/// last certificate expires, in the caller's transaction (the delete's). `None`: no
/// certificate of it is valid any more, nothing to deny.
pub(super) async fn deny_until_expiry(
    tx: &mut sqlx::SqliteConnection,
    instance_id: i64,
    username: &str,
    by: &str,
    state: &AppState,
) -> Result<Option<i64>, ServerError> {
    let now = state.clock.unix();
    let Some(until) = keep::latest_certificate_expiry(tx, instance_id, username).await? else {
        return Ok(None);
    };
    if until <= now {
        return Ok(None);
    }
    for rule in kafka_acl::deny_everything() {
        store::kafka_acls::insert_until(tx, instance_id, username, &rule, until, by, now).await?;
    }
    Ok(Some(until))
}

/// A name whose deleted user is still denied cannot be given to a new user before then: its
/// certificates' deny would apply to the new one (a deny wins over any allow).
async fn refuse_denied_name(
    tx: &mut sqlx::SqliteConnection,
    row: &InstanceRow,
    username: &str,
    now: i64,
) -> Result<(), ServerError> {
    if let Some(until) = store::kafka_acls::denied_until(tx, row.id, username, now).await? {
        return Err(AppError::invalid(
            "username",
            format!(
                "{username} was a user of {} whose certificates stay valid until {} (Kafka \
                 cannot revoke a certificate), so its principal is denied everything until \
                 then: choose another name.",
                row.name,
                date(until)
            ),
        )
        .into());
    }
    Ok(())
}

async fn mtls_instance(state: &AppState, id: i64) -> Result<InstanceRow, ServerError> {
    let mut conn = state.pool.acquire().await?;
    let row = store::instances::get(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?;
    if row.client_auth != ClientAuth::Mtls {
        return Err(AppError::Conflict(format!(
            "{} does not use mutual TLS (client authentication: {}): it has no client \
             certificates.",
            row.name,
            row.client_auth.label()
        ))
        .into());
    }
    Ok(row)
}

fn mechanism_field(row: &InstanceRow, mechanism: &str) -> Result<(), ServerError> {
    match mechanism.trim() {
        "" | CERTIFICATE => Ok(()),
        _ => Err(AppError::invalid(
            "mechanism",
            format!(
                "{} authenticates clients with mutual TLS: its users' mechanism is {CERTIFICATE}.",
                row.name
            ),
        )
        .into()),
    }
}

/// Issues a certificate (before the transaction: a failure changes nothing).
async fn issue(
    state: &AppState,
    row: &InstanceRow,
    username: &str,
) -> Result<super::kafka::tls::ServerCertificate, ServerError> {
    state
        .operations
        .provisioner()
        .issue_user_certificate(row, username, state.clock.unix())
        .await
        .map_err(|e| {
            AppError::Conflict(format!(
                "No certificate could be issued for {} ({}).",
                row.name,
                super::provisioner::reason(&e)
            ))
            .into()
        })
}

pub async fn create(
    state: &AppState,
    who: &Authorized<Operator>,
    row: &InstanceRow,
    username: &str,
    mechanism: &str,
) -> Result<NewKafkaUser, ServerError> {
    mechanism_field(row, mechanism)?;
    let actor = who.actor();
    let cert = issue(state, row, username).await?;
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if keep::count_certificate_users(&mut tx, row.id).await? >= USERS_MAX as i64 {
        return Err(AppError::Conflict(format!(
            "{} has {USERS_MAX} users, the most an instance may have: delete one first.",
            row.name
        ))
        .into());
    }
    refuse_denied_name(&mut tx, row, username, now).await?;
    if !keep::insert_certificate_user(&mut tx, row.id, username, &actor.name, now).await? {
        return Err(AppError::invalid(
            "username",
            format!("{} has a user named {username} already.", row.name),
        )
        .into());
    }
    record(&mut tx, row, username, &cert, &actor.name, now).await?;
    let detail = format!(
        "{username} ({CERTIFICATE}): certificate serial {} valid to {}",
        cert.serial,
        date(cert.not_after)
    );
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
    shown(state, row, username, cert).await
}

/// A new certificate for the user (its old ones stay valid until they expire).
pub async fn renew(
    state: &AppState,
    who: &Authorized<Operator>,
    row: &InstanceRow,
    username: &str,
) -> Result<NewKafkaUser, ServerError> {
    let actor = who.actor();
    let cert = issue(state, row, username).await?;
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if !keep::certificate_user_exists(&mut tx, row.id, username).await? {
        return Err(no_such_user(row, username));
    }
    record(&mut tx, row, username, &cert, &actor.name, now).await?;
    let detail = format!(
        "{username} ({CERTIFICATE}): new certificate serial {} valid to {}",
        cert.serial,
        date(cert.not_after)
    );
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
    shown(state, row, username, cert).await
}

async fn record(
    tx: &mut sqlx::SqliteConnection,
    row: &InstanceRow,
    username: &str,
    cert: &super::kafka::tls::ServerCertificate,
    by: &str,
    now: i64,
) -> Result<(), ServerError> {
    let issued = keep::ClientCertificateRow {
        username: username.to_string(),
        serial: cert.serial.clone(),
        not_before: cert.not_before,
        not_after: cert.not_after,
        issued_by: by.to_string(),
        issued_at: now,
    };
    keep::record_client_certificate(tx, row.id, &issued).await?;
    Ok(())
}

async fn shown(
    state: &AppState,
    row: &InstanceRow,
    username: &str,
    cert: super::kafka::tls::ServerCertificate,
) -> Result<NewKafkaUser, ServerError> {
    let connect = connect_settings(state, row, Some((username, CERTIFICATE, "")), "my-topic").await;
    Ok(NewKafkaUser {
        username: username.to_string(),
        mechanism: CERTIFICATE.into(),
        password: String::new(),
        certificate_pem: Some(format!("{}{}", cert.key_pem, cert.cert_pem)),
        certificate_serial: Some(cert.serial),
        certificate_expires_at: Some(cert.not_after),
        client_properties: connect.client_properties,
        applied: format!(
            "in force at once: the nodes accept a certificate of the environment's CA that \
             names this instance; valid {} days, to {} (renew before then)",
            CLIENT_CERT_VALIDITY_S / 86_400,
            date(cert.not_after)
        ),
    })
}

pub(super) fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
