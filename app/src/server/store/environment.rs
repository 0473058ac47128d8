//! The installation (ID generated at first start) and the environment (written by setup).

use sqlx::{SqliteConnection, SqlitePool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnvironmentRow {
    pub display_name: String,
    pub cloud_provider: String,
    pub region: String,
    pub setup_at: i64,
}

/// Returns this installation's ID, generating and storing it on the very first call. The
/// insert is ignored when a row exists, so concurrent first starts agree on one ID.
pub async fn installation_id(pool: &SqlitePool, now: i64) -> Result<String, sqlx::Error> {
    let candidate = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT OR IGNORE INTO installation (id, installation_id, created_at) VALUES (1, ?, ?)",
    )
    .bind(&candidate)
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT installation_id FROM installation WHERE id = 1")
        .fetch_one(pool)
        .await
}

pub async fn get(pool: &SqlitePool) -> Result<Option<EnvironmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT display_name, cloud_provider, region, setup_at FROM environment WHERE id = 1",
    )
    .fetch_optional(pool)
    .await
}

pub async fn is_set_up(pool: &SqlitePool) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM environment")
            .fetch_one(pool)
            .await?
            > 0,
    )
}

pub struct NewSetup<'a> {
    pub display_name: &'a str,
    pub cloud_provider: &'a str,
    pub region: &'a str,
    pub admin_username: &'a str,
    pub admin_password_hash: &'a str,
    pub now: i64,
}

pub enum SetupOutcome {
    Done { admin_id: i64 },
    AlreadyDone,
}

/// Writes the environment and its first administrator, inside the caller's transaction
/// (`BEGIN IMMEDIATE`, with the audit entry of the setup). The environment's single-row
/// primary key decides a race: the second writer waits for the first (busy timeout), then
/// finds the key taken and writes nothing.
pub async fn complete_setup(
    conn: &mut SqliteConnection,
    setup: NewSetup<'_>,
) -> Result<SetupOutcome, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO environment (id, display_name, cloud_provider, region, setup_at)
         VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    )
    .bind(setup.display_name)
    .bind(setup.cloud_provider)
    .bind(setup.region)
    .bind(setup.now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(SetupOutcome::AlreadyDone);
    }
    let admin_id = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, 'admin', ?) RETURNING id",
    )
    .bind(setup.admin_username)
    .bind(setup.admin_password_hash)
    .bind(setup.now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(SetupOutcome::Done { admin_id })
}
