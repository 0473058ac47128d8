//! Service accounts (the REST API's identities) and the answers kept for idempotent creates.

use super::decode;
use crate::domain::account::Role;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// A service account as stored. A role on disk that is not one of the roles fails the read.
#[derive(Debug, Clone)]
pub struct ServiceAccountRow {
    pub id: i64,
    pub name: String,
    role: Role,
    pub secret_sha256: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_used_from: Option<String>,
}

impl ServiceAccountRow {
    pub fn role(&self) -> Role {
        self.role
    }
}

impl<'r> sqlx::FromRow<'r, SqliteRow> for ServiceAccountRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        let id: i64 = row.try_get("id")?;
        let role: String = row.try_get("role")?;
        Ok(ServiceAccountRow {
            id,
            name: row.try_get("name")?,
            role: decode::role("service_accounts", id, &role)?,
            secret_sha256: row.try_get("secret_sha256")?,
            created_at: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            expires_at: row.try_get("expires_at")?,
            rotated_at: row.try_get("rotated_at")?,
            revoked_at: row.try_get("revoked_at")?,
            revoked_by: row.try_get("revoked_by")?,
            last_used_at: row.try_get("last_used_at")?,
            last_used_from: row.try_get("last_used_from")?,
        })
    }
}

const COLUMNS: &str = "id, name, role, secret_sha256, created_at, created_by, expires_at, \
    rotated_at, revoked_at, revoked_by, last_used_at, last_used_from";

pub async fn by_id(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<ServiceAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_accounts WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn by_name(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<ServiceAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_accounts WHERE name = ?"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Every service account, revoked ones too, newest first.
pub async fn all(pool: &SqlitePool) -> Result<Vec<ServiceAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_accounts ORDER BY id DESC"
    ))
    .fetch_all(pool)
    .await
}

pub struct NewServiceAccount<'a> {
    pub name: &'a str,
    pub role: Role,
    pub secret_sha256: &'a str,
    pub created_at: i64,
    pub created_by: &'a str,
    pub expires_at: Option<i64>,
}

pub async fn insert(
    conn: &mut SqliteConnection,
    new: &NewServiceAccount<'_>,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query(
        "INSERT INTO service_accounts (name, role, secret_sha256, created_at, created_by, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(new.name)
    .bind(new.role.as_str())
    .bind(new.secret_sha256)
    .bind(new.created_at)
    .bind(new.created_by)
    .bind(new.expires_at)
    .execute(conn)
    .await?
    .last_insert_rowid();
    Ok(id)
}

pub async fn set_secret(
    conn: &mut SqliteConnection,
    id: i64,
    secret_sha256: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE service_accounts SET secret_sha256 = ?, rotated_at = ? WHERE id = ?")
        .bind(secret_sha256)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke(
    conn: &mut SqliteConnection,
    id: i64,
    now: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE service_accounts SET revoked_at = ?, revoked_by = ? WHERE id = ?")
        .bind(now)
        .bind(by)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn note_use(pool: &SqlitePool, id: i64, now: i64, from: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE service_accounts SET last_used_at = ?, last_used_from = ? WHERE id = ?")
        .bind(now)
        .bind(from)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets a key (its request failed inside the server: a retry may try again).
pub async fn forget_answer(
    pool: &SqlitePool,
    account_id: i64,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE account_id = ? AND idempotency_key = ?")
        .bind(account_id)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// The answer kept for `key` of the account: (request hash, status, body, location, when).
/// Status 0: the first request with the key is still being answered (or was cut off).
pub type KeptAnswer = (String, i64, String, Option<String>, i64);

pub async fn kept_answer(
    conn: &mut SqliteConnection,
    account_id: i64,
    key: &str,
    kept_since: i64,
) -> Result<Option<KeptAnswer>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_sha256, status, body, location, created_at FROM idempotency_keys
         WHERE account_id = ? AND idempotency_key = ? AND created_at >= ?",
    )
    .bind(account_id)
    .bind(key)
    .bind(kept_since)
    .fetch_optional(conn)
    .await
}

pub struct Answer<'a> {
    pub account_id: i64,
    pub key: &'a str,
    pub request_sha256: &'a str,
    pub status: u16,
    pub body: &'a str,
    pub location: Option<&'a str>,
    pub now: i64,
}

/// Keeps an answer (replacing one older than the keeping period under the same key).
pub async fn keep_answer(conn: &mut SqliteConnection, a: &Answer<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT OR REPLACE INTO idempotency_keys
         (account_id, idempotency_key, request_sha256, status, body, location, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(a.account_id)
    .bind(a.key)
    .bind(a.request_sha256)
    .bind(i64::from(a.status))
    .bind(a.body)
    .bind(a.location)
    .bind(a.now)
    .execute(conn)
    .await?;
    Ok(())
}
