//! Applied product keys, the clock watermark and the last noticed license phase.

use crate::domain::license::VerifiedKey;
use sqlx::{SqliteConnection, SqlitePool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppliedKeyRow {
    pub id: i64,
    pub fingerprint: String,
    pub key_text: String,
    pub license_id: String,
    pub key_id: String,
    pub customer: String,
    pub billing: String,
    pub aku_quota: Option<i64>,
    pub max_aku_per_instance: i64,
    pub issued_at: i64,
    pub starts_at: i64,
    pub expires_at: i64,
    pub grace_days: i64,
    pub signed_by_run_time_key: bool,
    pub applied_at: i64,
    pub applied_by: String,
}

const COLUMNS: &str = "id, fingerprint, key_text, license_id, key_id, customer, billing, aku_quota, \
    max_aku_per_instance, issued_at, starts_at, expires_at, grace_days, signed_by_run_time_key, applied_at, applied_by";

/// The latest applied key (the current license), on any connection (pool or transaction).
pub async fn current(conn: &mut SqliteConnection) -> Result<Option<AppliedKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM license_keys ORDER BY id DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await
}

pub async fn history(pool: &SqlitePool) -> Result<Vec<AppliedKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM license_keys ORDER BY id DESC"
    ))
    .fetch_all(pool)
    .await
}

pub async fn insert(
    conn: &mut SqliteConnection,
    key: &VerifiedKey,
    applied_at: i64,
    applied_by: &str,
) -> Result<(), sqlx::Error> {
    let p = &key.payload;
    sqlx::query(
        "INSERT INTO license_keys (fingerprint, key_text, license_id, key_id, customer, billing, aku_quota,
            max_aku_per_instance, issued_at, starts_at, expires_at, grace_days, signed_by_run_time_key,
            applied_at, applied_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.fingerprint)
    .bind(&key.text)
    .bind(&p.license_id)
    .bind(&p.key_id)
    .bind(&p.customer)
    .bind(p.billing.as_str())
    .bind(p.aku_quota.map(i64::from))
    .bind(i64::from(p.max_aku_per_instance))
    .bind(p.issued_at.unix_timestamp())
    .bind(p.starts_at.unix_timestamp())
    .bind(p.expires_at.unix_timestamp())
    .bind(i64::from(p.grace_days))
    .bind(key.signed_by_run_time_key)
    .bind(applied_at)
    .bind(applied_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn latest_seen(pool: &SqlitePool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT latest_seen FROM clock_watermark WHERE id = 1")
        .fetch_optional(pool)
        .await
}

/// Moves the watermark forward to `now` (never back).
pub async fn advance_watermark(pool: &SqlitePool, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clock_watermark (id, latest_seen) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET latest_seen = MAX(latest_seen, excluded.latest_seen)",
    )
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn noticed_phase(conn: &mut SqliteConnection) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT phase FROM license_phase WHERE id = 1")
        .fetch_optional(conn)
        .await
}

pub async fn set_noticed_phase(
    conn: &mut SqliteConnection,
    phase: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO license_phase (id, phase, noticed_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, noticed_at = excluded.noticed_at",
    )
    .bind(phase)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
