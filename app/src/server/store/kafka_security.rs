//! Kafka users of the instances (SCRAM verifiers only), the environment's certificate
//! authority and the certificate issued to each instance.

use crate::domain::certificate::Issued;
use crate::domain::kafka_user::{Credential, Mechanism, Verifier};
use sqlx::{SqliteConnection, SqlitePool};

/// A Kafka user as the console keeps it.
#[derive(Debug, Clone)]
pub struct KafkaUserRow {
    pub credential: Credential,
    pub internal: bool,
    pub created_by: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
}

type UserTuple = (
    String,
    String,
    Vec<u8>,
    i64,
    Vec<u8>,
    Vec<u8>,
    bool,
    String,
    i64,
    Option<i64>,
);

const USER_COLUMNS: &str = "username, mechanism, salt, iterations, stored_key, server_key, \
    internal, created_by, created_at, rotated_at";

/// A stored value outside the schema's rule is an error, never a default.
fn user_row(t: UserTuple) -> Result<KafkaUserRow, sqlx::Error> {
    let (username, mechanism, salt, iterations, stored_key, server_key, internal, by, at, rot) = t;
    let bad = |what: String| sqlx::Error::Decode(what.into());
    let mechanism = Mechanism::parse(&mechanism).map_err(|_| {
        bad(format!(
            "kafka_users.mechanism {mechanism:?} is not a mechanism"
        ))
    })?;
    let iterations = u32::try_from(iterations).map_err(|_| {
        bad(format!(
            "kafka_users.iterations {iterations} is out of range"
        ))
    })?;
    Ok(KafkaUserRow {
        credential: Credential {
            username,
            mechanism,
            verifier: Verifier {
                salt,
                iterations,
                stored_key,
                server_key,
            },
        },
        internal,
        created_by: by,
        created_at: at,
        rotated_at: rot,
    })
}

/// The instance's users, the console's own included, by name.
pub async fn users(pool: &SqlitePool, instance_id: i64) -> Result<Vec<KafkaUserRow>, sqlx::Error> {
    let rows: Vec<UserTuple> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM kafka_users WHERE instance_id = ? ORDER BY username"
    ))
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(user_row).collect()
}

pub async fn user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<Option<KafkaUserRow>, sqlx::Error> {
    let row: Option<UserTuple> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM kafka_users WHERE instance_id = ? AND username = ?"
    ))
    .bind(instance_id)
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(user_row).transpose()
}

pub async fn count_users(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM kafka_users WHERE instance_id = ? AND internal = 0")
        .bind(instance_id)
        .fetch_one(&mut *conn)
        .await
}

/// Adds a user; `Ok(false)` when the instance has one of that name already.
pub async fn insert_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    credential: &Credential,
    internal: bool,
    created_by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let v = &credential.verifier;
    let done = sqlx::query(
        "INSERT INTO kafka_users (instance_id, username, mechanism, salt, iterations, \
         stored_key, server_key, internal, created_by, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(instance_id)
    .bind(&credential.username)
    .bind(credential.mechanism.as_str())
    .bind(&v.salt)
    .bind(i64::from(v.iterations))
    .bind(&v.stored_key)
    .bind(&v.server_key)
    .bind(internal)
    .bind(created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a user's verifier (a new password); `Ok(false)` when there is no such user.
pub async fn replace_verifier(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    v: &Verifier,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE kafka_users SET salt = ?, iterations = ?, stored_key = ?, server_key = ?, \
         rotated_at = ? WHERE instance_id = ? AND username = ?",
    )
    .bind(&v.salt)
    .bind(i64::from(v.iterations))
    .bind(&v.stored_key)
    .bind(&v.server_key)
    .bind(now)
    .bind(instance_id)
    .bind(username)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM kafka_users WHERE instance_id = ? AND username = ?")
        .bind(instance_id)
        .bind(username)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The certificate authority: certificate and key (PEM), if one was made.
pub async fn authority(pool: &SqlitePool) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT cert_pem, key_pem FROM certificate_authority WHERE id = 1")
        .fetch_optional(pool)
        .await
}

/// Keeps the first authority made: `Ok(false)` when another one was stored meanwhile.
pub async fn insert_authority(
    pool: &SqlitePool,
    cert_pem: &str,
    key_pem: &str,
    now: i64,
    not_after: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO certificate_authority (id, cert_pem, key_pem, created_at, not_after) \
         VALUES (1, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(cert_pem)
    .bind(key_pem)
    .bind(now)
    .bind(not_after)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What was issued to the instance last.
pub async fn certificate(
    pool: &SqlitePool,
    instance_id: i64,
) -> Result<Option<Issued>, sqlx::Error> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT names, not_after FROM instance_certificates WHERE instance_id = ?")
            .bind(instance_id)
            .fetch_optional(pool)
            .await?;
    row.map(|(names, not_after)| {
        let names: Vec<String> = serde_json::from_str(&names).map_err(|e| {
            sqlx::Error::Decode(format!("instance_certificates.names is not a list: {e}").into())
        })?;
        Ok(Issued { names, not_after })
    })
    .transpose()
}

pub struct IssuedRecord<'a> {
    pub names: &'a [String],
    pub serial: &'a str,
    pub not_before: i64,
    pub not_after: i64,
}

pub async fn record_certificate(
    conn: &mut SqliteConnection,
    instance_id: i64,
    issued: IssuedRecord<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let names =
        serde_json::to_string(issued.names).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO instance_certificates (instance_id, names, serial, not_before, not_after, \
         issued_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id) DO UPDATE SET \
         names = excluded.names, serial = excluded.serial, not_before = excluded.not_before, \
         not_after = excluded.not_after, issued_at = excluded.issued_at",
    )
    .bind(instance_id)
    .bind(names)
    .bind(issued.serial)
    .bind(issued.not_before)
    .bind(issued.not_after)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes what the console kept for a deleted instance: its users and certificate record.
pub async fn forget_instance(pool: &SqlitePool, instance_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM kafka_users WHERE instance_id = ?")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM instance_certificates WHERE instance_id = ?")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM kafka_plain_users WHERE instance_id = ?")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    // The certificates' records go with the instance: its listener (and unit) are gone.
    for table in ["kafka_certificate_users", "kafka_client_certificates"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE instance_id = ?"))
            .bind(instance_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Whether the instance has a user of that name, whatever its kind (SCRAM, PLAIN or mutual
/// TLS): what access rules may be given to.
pub async fn user_exists(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM kafka_users WHERE instance_id = ?1 AND username = ?2 \
         UNION ALL SELECT 1 FROM kafka_plain_users WHERE instance_id = ?1 AND username = ?2 \
         UNION ALL SELECT 1 FROM kafka_certificate_users WHERE instance_id = ?1 AND username = ?2 \
         LIMIT 1",
    )
    .bind(instance_id)
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}
