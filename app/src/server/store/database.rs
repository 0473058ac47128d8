//! The database as a whole: the health check's ping and the online backup.

use sqlx::SqlitePool;

/// The database answers a statement.
pub async fn answers(pool: &SqlitePool) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(pool)
        .await
        .is_ok()
}

/// A consistent copy of the whole database into `target` (SQLite's `VACUUM INTO`, which
/// accepts an empty file there), taken while the console may be writing.
pub async fn backup_into(pool: &SqlitePool, target: &str) -> Result<(), sqlx::Error> {
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(pool)
        .await
        .map(|_| ())
}
