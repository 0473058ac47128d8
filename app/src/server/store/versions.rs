//! The versions a page render reads, in one statement: what the shell keeps
//! (`server::shell_reads`), the instance totals (`server::totals`) and the license clock's
//! watermark are each valid while their number has not moved.

use sqlx::SqlitePool;

/// The versions a page render reads in one statement.
#[derive(Debug, Clone, Copy)]
pub struct Versions {
    /// Moved by any change to users, applied keys, the environment or marketplace links.
    pub shell: i64,
    /// Moved by any change to an instance's state or size ([`super::totals`]).
    pub totals: i64,
    /// The license clock's watermark (None before the first page).
    pub watermark: Option<i64>,
}

/// One row: the shell version, the totals version and the watermark.
pub async fn read(pool: &SqlitePool) -> Result<Versions, sqlx::Error> {
    let (shell, totals, watermark) = sqlx::query_as(
        "SELECT (SELECT version FROM shell_reads_version),
                (SELECT version FROM instance_totals_version),
                (SELECT latest_seen FROM clock_watermark WHERE id = 1)",
    )
    .fetch_one(pool)
    .await?;
    Ok(Versions {
        shell,
        totals,
        watermark,
    })
}
