//! The marketplace link (here) and the outbox of hourly reports (`reports`).

mod reports;
pub use reports::*;

use super::decode;
use crate::domain::marketplace::{Entitlement, Marketplace};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// A link, active or (with `unlinked_at`) kept as history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub id: i64,
    pub marketplace: Marketplace,
    pub listing: String,
    pub account: String,
    pub linked_at: i64,
    pub linked_by: String,
    pub unlinked_at: Option<i64>,
    pub report_from: i64,
    pub queued_until: i64,
    pub entitlement: Entitlement,
    pub entitlement_at: i64,
    pub last_report_at: Option<i64>,
    /// Since when the marketplace refuses its reports for lack of permission.
    pub permission_denied_since: Option<i64>,
}

const LINK_COLUMNS: &str = "id, marketplace, listing, account, linked_at, linked_by, unlinked_at,
     report_from, queued_until, entitlement, ended_since, entitlement_at, last_report_at,
     permission_denied_since";

impl<'r> sqlx::FromRow<'r, SqliteRow> for LinkRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        const T: &str = "marketplace_links";
        let id: i64 = row.try_get("id")?;
        let marketplace: String = row.try_get("marketplace")?;
        let kind: String = row.try_get("entitlement")?;
        let since: Option<i64> = row.try_get("ended_since")?;
        let entitlement = match (kind.as_str(), since) {
            ("entitled", None) => Entitlement::Entitled,
            ("ended", Some(since)) => Entitlement::Ended { since },
            ("renewed", Some(ended_since)) => Entitlement::Renewed { ended_since },
            (other, since) => {
                return Err(decode::bad_value(
                    T,
                    id,
                    "entitlement",
                    &format!("{other} (ended since {since:?})"),
                    "entitled, or ended or renewed with the time it ended",
                ))
            }
        };
        Ok(LinkRow {
            id,
            marketplace: decode::parsed(
                T,
                id,
                "marketplace",
                &marketplace,
                "aws or alibaba",
                Marketplace::parse,
            )?,
            listing: row.try_get("listing")?,
            account: row.try_get("account")?,
            linked_at: row.try_get("linked_at")?,
            linked_by: row.try_get("linked_by")?,
            unlinked_at: row.try_get("unlinked_at")?,
            report_from: row.try_get("report_from")?,
            queued_until: row.try_get("queued_until")?,
            entitlement,
            entitlement_at: row.try_get("entitlement_at")?,
            last_report_at: row.try_get("last_report_at")?,
            permission_denied_since: row.try_get("permission_denied_since")?,
        })
    }
}

/// The active link, if any.
pub async fn active_link(conn: &mut SqliteConnection) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM marketplace_links WHERE unlinked_at IS NULL"
    ))
    .fetch_optional(conn)
    .await
}

/// The latest link, active or not: an unlinked subscription that had ended still holds the
/// environment back until a new link checks out.
pub async fn latest_link(conn: &mut SqliteConnection) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM marketplace_links ORDER BY id DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await
}

pub async fn link(conn: &mut SqliteConnection, id: i64) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM marketplace_links WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub struct NewLink<'a> {
    pub marketplace: Marketplace,
    pub entitlement: Entitlement,
    pub listing: &'a str,
    pub account: &'a str,
    pub linked_by: &'a str,
    pub report_from: i64,
    pub now: i64,
}

pub async fn insert_link(
    conn: &mut SqliteConnection,
    new: NewLink<'_>,
) -> Result<i64, sqlx::Error> {
    let (kind, since) = entitlement_columns(new.entitlement);
    let id = sqlx::query_scalar(
        "INSERT INTO marketplace_links (marketplace, listing, account, linked_at, linked_by,
             report_from, queued_until, entitlement, ended_since, entitlement_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(new.marketplace.as_str())
    .bind(new.listing)
    .bind(new.account)
    .bind(new.now)
    .bind(new.linked_by)
    .bind(new.report_from)
    .bind(new.report_from)
    .bind(kind)
    .bind(since)
    .bind(new.now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

fn entitlement_columns(entitlement: Entitlement) -> (&'static str, Option<i64>) {
    match entitlement {
        Entitlement::Entitled => ("entitled", None),
        Entitlement::Ended { since } => ("ended", Some(since)),
        Entitlement::Renewed { ended_since } => ("renewed", Some(ended_since)),
    }
}

/// Ends the link; its reports never sent turn `unsent` (kept, shown, taken over by the next
/// link of the same listing, exported with the late ones), and those left `sending` by a
/// stopped console turn `unknown` (they may be billed). Returns how many
/// turned unsent. The caller holds the reporter's turn, so no call is in flight.
pub async fn unlink(conn: &mut SqliteConnection, id: i64, now: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_links SET unlinked_at = ? WHERE id = ? AND unlinked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE marketplace_reports SET state = 'unknown', answered_at = ?
         WHERE link_id = ? AND state = 'sending'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let unsent = sqlx::query(
        "UPDATE marketplace_reports
         SET state = CASE WHEN uncertain = 1 THEN 'unknown' ELSE 'unsent' END, answered_at = ?
         WHERE link_id = ? AND state = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(unsent.rows_affected())
}

/// Takes over, for the new link `link_id`, the reports an earlier link of the same listing
/// left `unsent` (for Alibaba, of the same service instance: `account`): they turn pending
/// and are sent by the new link, or turn late at its first pass when past the window. Their
/// `ClientToken` is kept: none of them may have reached the marketplace (those that may have
/// are `unknown`). Returns how many.
pub async fn take_over_unsent(
    conn: &mut SqliteConnection,
    link_id: i64,
    marketplace: Marketplace,
    listing: &str,
    account: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_reports SET link_id = ?, state = 'pending', not_before = 0
         WHERE state = 'unsent' AND link_id IN (
             SELECT id FROM marketplace_links
             WHERE id <> ? AND marketplace = ? AND listing = ? AND (marketplace = 'aws' OR account = ?))",
    )
    .bind(link_id)
    .bind(link_id)
    .bind(marketplace.as_str())
    .bind(listing)
    .bind(account)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// AWS reports left `unsent` by a removed link whose hour is past the window (`hour_start`
/// before `oldest`) turn `late`: no link can send them any more, so they are billed another
/// way (the late export). Returns how many.
pub async fn expire_unsent_aws(
    conn: &mut SqliteConnection,
    oldest: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_reports SET state = 'late', answered_at = ?
         WHERE state = 'unsent' AND hour_start < ? AND link_id IN (
             SELECT id FROM marketplace_links WHERE marketplace = 'aws')",
    )
    .bind(now)
    .bind(oldest)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// When the console first ran (its installation record): the start of the software's use.
pub async fn software_start(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT created_at FROM installation WHERE id = 1")
        .fetch_one(conn)
        .await
}

pub async fn set_entitlement(
    conn: &mut SqliteConnection,
    id: i64,
    entitlement: Entitlement,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (kind, since) = entitlement_columns(entitlement);
    sqlx::query(
        "UPDATE marketplace_links SET entitlement = ?, ended_since = ?, entitlement_at = ?
         WHERE id = ?",
    )
    .bind(kind)
    .bind(since)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_queued_until(
    conn: &mut SqliteConnection,
    id: i64,
    until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE marketplace_links SET queued_until = MAX(queued_until, ?) WHERE id = ?")
        .bind(until)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Where the next link starts reporting: after the hours the previous link queued (so
/// relinking leaves no gap and reports nothing twice), else `fallback`.
pub async fn next_report_from(
    conn: &mut SqliteConnection,
    fallback: i64,
) -> Result<i64, sqlx::Error> {
    let until: Option<i64> = sqlx::query_scalar("SELECT MAX(queued_until) FROM marketplace_links")
        .fetch_one(conn)
        .await?;
    Ok(until.unwrap_or(fallback))
}

/// The first hour of the ledger billed under a pay-as-you-go license.
pub async fn first_payg_hour(conn: &mut SqliteConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MIN(hour_start) FROM usage_ledger l
         WHERE EXISTS (SELECT 1 FROM license_keys k
                       WHERE k.license_id = l.license_id AND k.billing = 'payg')",
    )
    .fetch_one(conn)
    .await
}

/// Every link, newest first.
pub async fn links(pool: &SqlitePool) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM marketplace_links ORDER BY id DESC"
    ))
    .fetch_all(pool)
    .await
}

/// Records (or, with `None`, clears) since when the link's reports are refused for lack of
/// permission. True when it changed.
pub async fn set_permission_denied(
    conn: &mut SqliteConnection,
    link_id: i64,
    since: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_links SET permission_denied_since = ?
         WHERE id = ? AND permission_denied_since IS NOT ?",
    )
    .bind(since)
    .bind(link_id)
    .bind(since)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When the first pay-as-you-go key was applied (the link grace's activation).
pub async fn first_payg_applied(conn: &mut SqliteConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(applied_at) FROM license_keys WHERE billing = 'payg'")
        .fetch_one(conn)
        .await
}

/// Notes that the grace started at `since` for `reason` has ended; true the first time only.
pub async fn note_grace_end(
    conn: &mut SqliteConnection,
    since: i64,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO marketplace_link_grace_ends (since, reason, noted_at) VALUES (?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(since)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
