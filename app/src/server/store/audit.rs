//! The audit log: appended to, never updated.

use sqlx::SqlitePool;

pub struct Entry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct EntryRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

pub async fn append(pool: &SqlitePool, e: Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, client_addr, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.at)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target)
    .bind(e.client_addr)
    .bind(e.outcome)
    .bind(e.detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// Times of failed sign-ins for `username` since `since`, not counting those before the
/// user's latest successful sign-in (a success clears the user's count).
pub async fn login_failures_for_user(
    pool: &SqlitePool,
    username: &str,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT at FROM audit_log
         WHERE action = 'login' AND actor = ? AND outcome = 'failure' AND at > ?
           AND id > COALESCE((SELECT MAX(id) FROM audit_log
                              WHERE action = 'login' AND actor = ? AND outcome = 'success'), 0)",
    )
    .bind(username)
    .bind(since)
    .bind(username)
    .fetch_all(pool)
    .await
}

/// Times of failed sign-ins from `client_addr` since `since`, whatever the user name.
pub async fn login_failures_from(
    pool: &SqlitePool,
    client_addr: &str,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT at FROM audit_log WHERE action = 'login' AND client_addr = ? AND outcome = 'failure' AND at > ?",
    )
    .bind(client_addr)
    .bind(since)
    .fetch_all(pool)
    .await
}

pub async fn recent(pool: &SqlitePool, limit: i64) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_log ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
