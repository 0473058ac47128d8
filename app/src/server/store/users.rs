//! Users and their credentials.

use crate::domain::account::Role;
use sqlx::SqlitePool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub must_change_password: bool,
    pub credentials_version: i64,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl UserRow {
    /// The role, or viewer (least rights) if the stored value is unknown.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }
}

const COLUMNS: &str = "id, username, password_hash, role, must_change_password, credentials_version, disabled_at, created_at, last_login_at";

pub async fn by_username(
    pool: &SqlitePool,
    username: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub async fn by_id(pool: &SqlitePool, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn record_login(pool: &SqlitePool, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Number of users per role, for the overview.
pub async fn count_by_role(pool: &SqlitePool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT role, COUNT(*) FROM users WHERE disabled_at IS NULL GROUP BY role ORDER BY role",
    )
    .fetch_all(pool)
    .await
}
