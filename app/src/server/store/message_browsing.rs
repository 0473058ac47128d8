//! Whether an instance's messages may be read in the console, as an admin set it.

use sqlx::SqliteConnection;

/// An admin's choice for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowsingRow {
    pub enabled: bool,
    pub changed_by: String,
    pub changed_at: i64,
}

/// The admin's choice, if any (none: the default for the instance's exposure).
pub async fn get(
    conn: &mut SqliteConnection,
    instance_id: i64,
) -> Result<Option<BrowsingRow>, sqlx::Error> {
    let row: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT enabled, changed_by, changed_at FROM message_browsing WHERE instance_id = ?",
    )
    .bind(instance_id)
    .fetch_optional(conn)
    .await?;
    row.map(|(enabled, changed_by, changed_at)| {
        let enabled = match enabled {
            0 => false,
            1 => true,
            other => {
                // The table's CHECK allows only 0 and 1; anything else is damage, not a default.
                return Err(sqlx::Error::Decode(
                    format!("message_browsing.enabled is {other}, not 0 or 1").into(),
                ));
            }
        };
        Ok(BrowsingRow {
            enabled,
            changed_by,
            changed_at,
        })
    })
    .transpose()
}

/// Records an admin's choice (inside the caller's transaction, with its audit entry).
pub async fn set(
    conn: &mut SqliteConnection,
    instance_id: i64,
    enabled: bool,
    changed_by: &str,
    changed_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO message_browsing (instance_id, enabled, changed_by, changed_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT (instance_id) DO UPDATE SET \
         enabled = excluded.enabled, changed_by = excluded.changed_by, \
         changed_at = excluded.changed_at",
    )
    .bind(instance_id)
    .bind(i64::from(enabled))
    .bind(changed_by)
    .bind(changed_at)
    .execute(conn)
    .await?;
    Ok(())
}
