//! Mutual TLS users of the instances and the client certificates the console issued them
//! (serial and dates only, never a key; migration 0041). A certificate's record outlives its
//! user: Kafka cannot revoke a certificate, so a deleted user's principal stays denied until
//! the last one expires.

use sqlx::{SqliteConnection, SqlitePool};

/// A mutual TLS user of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateUserRow {
    pub username: String,
    pub created_by: String,
    pub created_at: i64,
    /// The end of its newest certificate.
    pub expires_at: Option<i64>,
}

/// One client certificate the console issued (never its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificateRow {
    pub username: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    pub issued_by: String,
    pub issued_at: i64,
}

pub async fn certificate_users(
    pool: &SqlitePool,
    instance_id: i64,
) -> Result<Vec<CertificateUserRow>, sqlx::Error> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT u.username, u.created_by, u.created_at, \
         (SELECT MAX(c.not_after) FROM kafka_client_certificates c \
          WHERE c.instance_id = u.instance_id AND c.username = u.username) \
         FROM kafka_certificate_users u WHERE u.instance_id = ? ORDER BY u.username",
    )
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(username, created_by, created_at, expires_at)| CertificateUserRow {
                username,
                created_by,
                created_at,
                expires_at,
            },
        )
        .collect())
}

pub async fn count_certificate_users(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM kafka_certificate_users WHERE instance_id = ?")
        .bind(instance_id)
        .fetch_one(&mut *conn)
        .await
}

pub async fn certificate_user_exists(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM kafka_certificate_users WHERE instance_id = ? AND username = ?",
    )
    .bind(instance_id)
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Adds a mutual TLS user; `Ok(false)` when the instance has one of that name already.
pub async fn insert_certificate_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    created_by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO kafka_certificate_users (instance_id, username, created_by, created_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(instance_id)
    .bind(username)
    .bind(created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a mutual TLS user; its certificates' records stay (see
/// [`latest_certificate_expiry`]).
pub async fn delete_certificate_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM kafka_certificate_users WHERE instance_id = ? AND username = ?")
            .bind(instance_id)
            .bind(username)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_client_certificate(
    conn: &mut SqliteConnection,
    instance_id: i64,
    cert: &ClientCertificateRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO kafka_client_certificates (instance_id, username, serial, not_before, \
         not_after, issued_by, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(instance_id)
    .bind(&cert.username)
    .bind(&cert.serial)
    .bind(cert.not_before)
    .bind(cert.not_after)
    .bind(&cert.issued_by)
    .bind(cert.issued_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The certificates issued to `username` of the instance, newest first (also after the user
/// was deleted).
pub async fn client_certificates(
    pool: &SqlitePool,
    instance_id: i64,
    username: &str,
) -> Result<Vec<ClientCertificateRow>, sqlx::Error> {
    let rows: Vec<(String, String, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT username, serial, not_before, not_after, issued_by, issued_at \
         FROM kafka_client_certificates WHERE instance_id = ? AND username = ? \
         ORDER BY issued_at DESC, not_after DESC",
    )
    .bind(instance_id)
    .bind(username)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(username, serial, not_before, not_after, issued_by, issued_at)| {
                ClientCertificateRow {
                    username,
                    serial,
                    not_before,
                    not_after,
                    issued_by,
                    issued_at,
                }
            },
        )
        .collect())
}

/// The end of the last certificate the console issued to `username` on the instance, whether
/// or not the user still exists: until then a certificate of that principal may still log in
/// (Kafka cannot revoke one), so a deleted user's principal must be denied until this time.
pub async fn latest_certificate_expiry(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MAX(not_after) FROM kafka_client_certificates \
         WHERE instance_id = ? AND username = ?",
    )
    .bind(instance_id)
    .bind(username)
    .fetch_one(&mut *conn)
    .await
}
