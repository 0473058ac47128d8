//! Service accounts (admins): create one with a role and an optional expiry, rotate its secret
//! (the old one stops working at once), revoke it. The secret is answered once and stored only
//! as its SHA-256; every change is audited in its transaction. The bearer check itself is
//! `access::require_bearer`.

use super::access::{Admin, Authorized};
use super::audit::{self, Outcome};
use super::store::service_accounts::{self as store, NewServiceAccount, ServiceAccountRow};
use super::{AppState, ServerError};
use crate::domain::account::Role;
use crate::domain::digest::sha256_hex;
use crate::domain::service_account::{self as rules, Status, Token, SECRET_BYTES};
use crate::wire::error::AppError;
use crate::wire::service_accounts::{NewToken, ServiceAccountLine};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

/// Every service account, revoked ones too, newest first.
pub async fn list(
    state: &AppState,
    _who: &Authorized<Admin>,
) -> Result<Vec<ServiceAccountLine>, ServerError> {
    let now = state.clock.unix();
    Ok(store::all(&state.pool)
        .await?
        .into_iter()
        .map(|row| line(row, now))
        .collect())
}

pub fn line(row: ServiceAccountRow, now: i64) -> ServiceAccountLine {
    ServiceAccountLine {
        id: row.id,
        role: row.role(),
        status: Status::of(row.expires_at, row.revoked_at, now)
            .as_str()
            .into(),
        name: row.name,
        created_at: row.created_at,
        created_by: row.created_by,
        expires_at: row.expires_at,
        rotated_at: row.rotated_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        last_used_from: row.last_used_from,
    }
}

/// A new random secret: 32 bytes from the OS generator, base64url.
fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates an account; answers its token, once.
pub async fn create(
    state: &AppState,
    who: &Authorized<Admin>,
    name: &str,
    role: &str,
    expires: &str,
) -> Result<NewToken, ServerError> {
    let now = state.clock.unix();
    let name = rules::parse_name(name).map_err(|e| AppError::invalid("name", e))?;
    let role = Role::parse(role.trim())
        .ok_or_else(|| AppError::invalid("role", "Choose a role: admin, operator or viewer."))?;
    let expires_at =
        rules::parse_expiry(expires, now).map_err(|e| AppError::invalid("expires", e))?;
    let secret = new_secret();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    if store::by_name(&mut tx, &name).await?.is_some() {
        return Err(AppError::invalid(
            "name",
            format!("A service account named {name} exists already; choose another name."),
        )
        .into());
    }
    let id = store::insert(
        &mut tx,
        &NewServiceAccount {
            name: &name,
            role,
            secret_sha256: &sha256_hex(secret.as_bytes()),
            created_at: now,
            created_by: &who.actor().name,
            expires_at,
        },
    )
    .await?;
    let detail = match expires_at.and_then(rules::expiry_day) {
        Some(day) => format!("role {role}; works until the end of {day}"),
        None => format!("role {role}; no expiry"),
    };
    audit::record_in(
        &mut tx,
        state,
        who.actor(),
        "service_account_create",
        Some(&name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(shown_once(id, name, secret))
}

async fn active(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    now: i64,
) -> Result<ServiceAccountRow, ServerError> {
    let row = store::by_id(conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no service account {id}.")))?;
    if Status::of(row.expires_at, row.revoked_at, now) == Status::Revoked {
        return Err(AppError::Conflict(format!("{} is revoked.", row.name)).into());
    }
    Ok(row)
}

/// A new secret for the account; the old one stops working at once. Answers it, once.
pub async fn rotate(
    state: &AppState,
    who: &Authorized<Admin>,
    id: i64,
) -> Result<NewToken, ServerError> {
    let now = state.clock.unix();
    let secret = new_secret();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = active(&mut tx, id, now).await?;
    store::set_secret(&mut tx, id, &sha256_hex(secret.as_bytes()), now).await?;
    audit::record_in(
        &mut tx,
        state,
        who.actor(),
        "service_account_rotate",
        Some(&row.name),
        Outcome::Success,
        Some("new secret; the old one stops working"),
    )
    .await?;
    tx.commit().await?;
    Ok(shown_once(id, row.name, secret))
}

/// The answer that carries the token's text: the only time it is shown.
fn shown_once(id: i64, name: String, secret: String) -> NewToken {
    NewToken {
        id,
        name,
        token: Token {
            account_id: id,
            secret,
        }
        .text(),
    }
}

/// Revokes the account: its token stops working at once; the row stays for the audit trail.
pub async fn revoke(state: &AppState, who: &Authorized<Admin>, id: i64) -> Result<(), ServerError> {
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = active(&mut tx, id, now).await?;
    store::revoke(&mut tx, id, now, &who.actor().name).await?;
    audit::record_in(
        &mut tx,
        state,
        who.actor(),
        "service_account_revoke",
        Some(&row.name),
        Outcome::Success,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
