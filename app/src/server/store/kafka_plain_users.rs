//! SASL/PLAIN users of the instances: a salted PBKDF2-HMAC-SHA512 hash each, never the
//! password (migration 0040). The nodes' `plain-users` files are written from these rows.

use sqlx::{SqliteConnection, SqlitePool};

/// A SASL/PLAIN user as the console keeps it: a salted PBKDF2-HMAC-SHA512 hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainUserRow {
    pub username: String,
    pub hash: crate::domain::kafka_user::PlainHash,
    pub created_by: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
}

type PlainTuple = (String, Vec<u8>, i64, Vec<u8>, String, i64, Option<i64>);

const PLAIN_COLUMNS: &str = "username, salt, iterations, hash, created_by, created_at, rotated_at";

fn plain_row(t: PlainTuple) -> Result<PlainUserRow, sqlx::Error> {
    let (username, salt, iterations, hash, created_by, created_at, rotated_at) = t;
    let iterations = u32::try_from(iterations).map_err(|_| {
        sqlx::Error::Decode(
            format!("kafka_plain_users.iterations {iterations} is out of range").into(),
        )
    })?;
    Ok(PlainUserRow {
        username,
        hash: crate::domain::kafka_user::PlainHash {
            salt,
            iterations,
            hash,
        },
        created_by,
        created_at,
        rotated_at,
    })
}

/// The instance's PLAIN users, by name.
pub async fn plain_users(
    pool: &SqlitePool,
    instance_id: i64,
) -> Result<Vec<PlainUserRow>, sqlx::Error> {
    let rows: Vec<PlainTuple> = sqlx::query_as(&format!(
        "SELECT {PLAIN_COLUMNS} FROM kafka_plain_users WHERE instance_id = ? ORDER BY username"
    ))
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(plain_row).collect()
}

pub async fn count_plain_users(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM kafka_plain_users WHERE instance_id = ?")
        .bind(instance_id)
        .fetch_one(&mut *conn)
        .await
}

/// Adds a PLAIN user; `Ok(false)` when the instance has one of that name already.
pub async fn insert_plain_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    hash: &crate::domain::kafka_user::PlainHash,
    created_by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO kafka_plain_users (instance_id, username, salt, iterations, hash, \
         created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(instance_id)
    .bind(username)
    .bind(&hash.salt)
    .bind(i64::from(hash.iterations))
    .bind(&hash.hash)
    .bind(created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A new hash for a PLAIN user (a new password); `Ok(false)` when there is no such user.
pub async fn replace_plain_hash(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    hash: &crate::domain::kafka_user::PlainHash,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE kafka_plain_users SET salt = ?, iterations = ?, hash = ?, rotated_at = ? \
         WHERE instance_id = ? AND username = ?",
    )
    .bind(&hash.salt)
    .bind(i64::from(hash.iterations))
    .bind(&hash.hash)
    .bind(now)
    .bind(instance_id)
    .bind(username)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_plain_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM kafka_plain_users WHERE instance_id = ? AND username = ?")
        .bind(instance_id)
        .bind(username)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
