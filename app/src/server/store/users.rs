//! Users and their credentials.

use super::decode;
use crate::domain::account::Role;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// A user as stored. A role on disk that is not one of the roles fails the read, naming the
/// row and the value: such a user can do nothing until an administrator looks.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    role: Role,
    pub must_change_password: bool,
    pub credentials_version: i64,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, SqliteRow> for UserRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        let id: i64 = row.try_get("id")?;
        let role: String = row.try_get("role")?;
        Ok(UserRow {
            id,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: decode::role("users", id, &role)?,
            must_change_password: row.try_get("must_change_password")?,
            credentials_version: row.try_get("credentials_version")?,
            disabled_at: row.try_get("disabled_at")?,
            created_at: row.try_get("created_at")?,
            last_login_at: row.try_get("last_login_at")?,
        })
    }
}

impl UserRow {
    pub fn role(&self) -> Role {
        self.role
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

pub async fn record_login(
    conn: &mut SqliteConnection,
    id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
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

/// The users list's order: admins first, then operators, then viewers, each by name.
const RANK: &str = "CASE role WHEN 'admin' THEN 0 WHEN 'operator' THEN 1 ELSE 2 END";

/// At most `limit` users in the list's order (admins first, then by name), those after the
/// user `after` if given, whose name contains `name` (case-insensitive) if given. `Ok(None)`:
/// there is no user `after`.
pub async fn page(
    pool: &SqlitePool,
    name: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<UserRow>>, sqlx::Error> {
    let position: Option<(i64, String)> = match after {
        None => None,
        Some(id) => {
            let found = sqlx::query_as(&format!("SELECT {RANK}, username FROM users WHERE id = ?"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            if found.is_none() {
                return Ok(None);
            }
            found
        }
    };
    let (rank, username) = position.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users
         WHERE (?1 IS NULL OR instr(lower(username), lower(?1)) > 0)
           AND (?2 IS NULL OR ({RANK}, username) > (?2, ?3))
         ORDER BY {RANK}, username LIMIT ?4"
    ))
    .bind(name)
    .bind(rank)
    .bind(username)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map(Some)
}

pub async fn by_id_on(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn active_admins(conn: &mut SqliteConnection) -> Result<u32, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
    )
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Inserts a user who must change the password at first sign-in; None if the name is taken.
pub async fn insert(
    conn: &mut SqliteConnection,
    username: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, must_change_password, created_at)
         VALUES (?, ?, ?, 1, ?) ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await
}

pub async fn set_role(conn: &mut SqliteConnection, id: i64, role: Role) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET role = ? WHERE id = ?")
        .bind(role.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_disabled(
    conn: &mut SqliteConnection,
    id: i64,
    disabled_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET disabled_at = ? WHERE id = ?")
        .bind(disabled_at)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A new password: bumps the credentials version, which ends every session signed in under
/// the old one. `must_change`: set by an admin's reset, cleared by the user's own change.
/// Returns the new credentials version.
pub async fn set_password(
    conn: &mut SqliteConnection,
    id: i64,
    password_hash: &str,
    must_change: bool,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users SET password_hash = ?, must_change_password = ?,
             credentials_version = credentials_version + 1
         WHERE id = ? RETURNING credentials_version",
    )
    .bind(password_hash)
    .bind(must_change)
    .bind(id)
    .fetch_one(conn)
    .await
}
