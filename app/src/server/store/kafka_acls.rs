//! The Kafka users' access rules, as the console keeps them (the truth each cluster is made
//! to match).

use crate::domain::kafka_acl::{AclRule, Operation, Pattern, Permission, ResourceType};
use sqlx::{SqliteConnection, SqlitePool};

/// A rule as kept: whose, since when, by whom.
#[derive(Debug, Clone)]
pub struct AclRow {
    pub id: i64,
    pub username: String,
    pub rule: AclRule,
    pub until: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

type Tuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
);

const COLUMNS: &str = "id, username, resource_type, resource_name, pattern, operation, \
    permission, host, until, created_by, created_at";

/// A stored value outside the schema's rule is an error, never a default.
fn row(t: Tuple) -> Result<AclRow, sqlx::Error> {
    let (id, username, kind, name, pattern, operation, permission, host, until, by, at) = t;
    fn parsed<T>(
        value: &str,
        column: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, sqlx::Error> {
        parse(value).ok_or_else(|| {
            sqlx::Error::Decode(
                format!("kafka_acls.{column} {value:?} is not one of its values").into(),
            )
        })
    }
    Ok(AclRow {
        id,
        username,
        rule: AclRule {
            resource_type: parsed(&kind, "resource_type", ResourceType::parse)?,
            resource_name: name,
            pattern: parsed(&pattern, "pattern", Pattern::parse)?,
            operation: parsed(&operation, "operation", Operation::parse)?,
            permission: parsed(&permission, "permission", Permission::parse)?,
            host,
        },
        until,
        created_by: by,
        created_at: at,
    })
}

/// Every rule of the instance, by user then in the order made.
pub async fn of_instance(pool: &SqlitePool, instance_id: i64) -> Result<Vec<AclRow>, sqlx::Error> {
    let rows: Vec<Tuple> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM kafka_acls WHERE instance_id = ? ORDER BY username, id"
    ))
    .bind(instance_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(row).collect()
}

/// The rules of one user.
pub async fn count_of_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM kafka_acls WHERE instance_id = ? AND username = ? AND until IS NULL",
    )
    .bind(instance_id)
    .bind(username)
    .fetch_one(&mut *conn)
    .await
}

/// Keeps a rule; `None` when the user has it already.
pub async fn insert(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    rule: &AclRule,
    created_by: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO kafka_acls (instance_id, username, resource_type, resource_name, pattern, \
         operation, permission, host, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(instance_id)
    .bind(username)
    .bind(rule.resource_type.as_str())
    .bind(&rule.resource_name)
    .bind(rule.pattern.as_str())
    .bind(rule.operation.as_str())
    .bind(rule.permission.as_str())
    .bind(&rule.host)
    .bind(created_by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

/// Removes one rule of the instance; the rule removed, if there was one.
pub async fn delete(
    conn: &mut SqliteConnection,
    instance_id: i64,
    id: i64,
) -> Result<Option<AclRow>, sqlx::Error> {
    let gone: Option<Tuple> = sqlx::query_as(&format!(
        "DELETE FROM kafka_acls WHERE instance_id = ? AND id = ? RETURNING {COLUMNS}"
    ))
    .bind(instance_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    gone.map(row).transpose()
}

/// Removes every rule of a user (the user is deleted), but those kept until a date; how many.
pub async fn delete_of_user(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM kafka_acls WHERE instance_id = ? AND username = ? AND until IS NULL",
    )
    .bind(instance_id)
    .bind(username)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Keeps a rule that outlives its user until `until` (a deleted mutual TLS user's deny);
/// `None` when it is kept already.
pub async fn insert_until(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    rule: &AclRule,
    until: i64,
    created_by: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    // A rule of the name that ended already gives way (same columns, so UNIQUE would keep it).
    sqlx::query(
        "DELETE FROM kafka_acls WHERE instance_id = ? AND username = ? AND until IS NOT NULL \
         AND until <= ?",
    )
    .bind(instance_id)
    .bind(username)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO kafka_acls (instance_id, username, resource_type, resource_name, pattern, \
         operation, permission, host, until, created_by, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO UPDATE SET until = max(until, excluded.until) RETURNING id",
    )
    .bind(instance_id)
    .bind(username)
    .bind(rule.resource_type.as_str())
    .bind(&rule.resource_name)
    .bind(rule.pattern.as_str())
    .bind(rule.operation.as_str())
    .bind(rule.permission.as_str())
    .bind(&rule.host)
    .bind(until)
    .bind(created_by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

/// Until when a name's principal is denied after its user was deleted (its rules kept until
/// a date still ahead of `now`); `None` when it is not.
pub async fn denied_until(
    conn: &mut SqliteConnection,
    instance_id: i64,
    username: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MAX(until) FROM kafka_acls WHERE instance_id = ? AND username = ? AND until > ?",
    )
    .bind(instance_id)
    .bind(username)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}
