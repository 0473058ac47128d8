//! The marketplace link and the outbox of hourly reports.

use super::decode;
use crate::domain::marketplace::{Entitlement, Marketplace, ReportState};
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
}

const LINK_COLUMNS: &str = "id, marketplace, listing, account, linked_at, linked_by, unlinked_at,
     report_from, queued_until, entitlement, ended_since, entitlement_at, last_report_at";

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

/// Ends the link; its reports never sent turn `unsent` (kept, shown), and those left
/// `sending` by a stopped console turn `unknown` (they may be billed). Returns how many
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

/// One ledger record billed under a pay-as-you-go license.
#[derive(Debug, Clone)]
pub struct LedgerRecord {
    pub hour_start: i64,
    pub dimension: String,
    pub quantity: String,
    pub record_id: String,
}

/// The pay-as-you-go ledger records of the hours `[from, to)`, in hour order.
pub async fn payg_ledger(
    conn: &mut SqliteConnection,
    from: i64,
    to: i64,
) -> Result<Vec<LedgerRecord>, sqlx::Error> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT hour_start, dimension, quantity, record_id FROM usage_ledger l
         WHERE hour_start >= ? AND hour_start < ?
           AND EXISTS (SELECT 1 FROM license_keys k
                       WHERE k.license_id = l.license_id AND k.billing = 'payg')
         ORDER BY hour_start, dimension, record_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(hour_start, dimension, quantity, record_id)| LedgerRecord {
                hour_start,
                dimension,
                quantity,
                record_id,
            },
        )
        .collect())
}

/// What the last queued hour of a dimension carried (decimal text), if any.
pub async fn last_carry(
    conn: &mut SqliteConnection,
    link_id: i64,
    dimension: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT carry FROM marketplace_reports WHERE link_id = ? AND dimension = ?
         ORDER BY hour_start DESC LIMIT 1",
    )
    .bind(link_id)
    .bind(dimension)
    .fetch_optional(conn)
    .await
}

pub struct NewReport<'a> {
    pub link_id: i64,
    pub hour_start: i64,
    pub dimension: &'a str,
    pub market_key: &'a str,
    pub ledger_quantity: &'a str,
    pub quantity: i64,
    pub carry: &'a str,
    pub client_token: &'a str,
    pub state: &'a ReportState,
    pub now: i64,
}

pub async fn insert_report(
    conn: &mut SqliteConnection,
    new: NewReport<'_>,
) -> Result<(), sqlx::Error> {
    let (attempts, not_before, reason) = columns_of(new.state);
    sqlx::query(
        "INSERT INTO marketplace_reports (link_id, hour_start, dimension, market_key,
             ledger_quantity, quantity, carry, client_token, state, attempts, not_before, reason,
             queued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (link_id, hour_start, dimension) DO NOTHING",
    )
    .bind(new.link_id)
    .bind(new.hour_start)
    .bind(new.dimension)
    .bind(new.market_key)
    .bind(new.ledger_quantity)
    .bind(new.quantity)
    .bind(new.carry)
    .bind(new.client_token)
    .bind(new.state.kind())
    .bind(attempts)
    .bind(not_before)
    .bind(reason)
    .bind(new.now)
    .execute(conn)
    .await?;
    Ok(())
}

fn columns_of(state: &ReportState) -> (i64, i64, Option<&str>) {
    match state {
        ReportState::Pending {
            attempts,
            not_before,
        } => (i64::from(*attempts), *not_before, None),
        ReportState::Sending { attempts } => (i64::from(*attempts), 0, None),
        ReportState::Rejected(why) => (0, 0, Some(why.as_str())),
        _ => (0, 0, None),
    }
}

/// One report of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: i64,
    pub link_id: i64,
    pub hour_start: i64,
    pub dimension: String,
    pub market_key: String,
    pub ledger_quantity: String,
    pub quantity: i64,
    pub client_token: String,
    pub state: ReportState,
    /// An attempt may have reached the marketplace without its answer coming back.
    pub uncertain: bool,
    pub receipt: Option<String>,
    pub sent_at: Option<i64>,
    pub answered_at: Option<i64>,
}

const REPORT_COLUMNS: &str = "id, link_id, hour_start, dimension, market_key, ledger_quantity,
     quantity, client_token, state, attempts, not_before, reason, receipt, sent_at, answered_at,
     uncertain";

impl<'r> sqlx::FromRow<'r, SqliteRow> for ReportRow {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        let id: i64 = row.try_get("id")?;
        let kind: String = row.try_get("state")?;
        let reason: Option<String> = row.try_get("reason")?;
        let state = ReportState::from_columns(
            &kind,
            row.try_get("attempts")?,
            row.try_get("not_before")?,
            reason.as_deref(),
        )
        .map_err(|e| decode::bad_value("marketplace_reports", id, "state", &kind, &e))?;
        Ok(ReportRow {
            id,
            link_id: row.try_get("link_id")?,
            hour_start: row.try_get("hour_start")?,
            dimension: row.try_get("dimension")?,
            market_key: row.try_get("market_key")?,
            ledger_quantity: row.try_get("ledger_quantity")?,
            quantity: row.try_get("quantity")?,
            client_token: row.try_get("client_token")?,
            state,
            uncertain: row.try_get("uncertain")?,
            receipt: row.try_get("receipt")?,
            sent_at: row.try_get("sent_at")?,
            answered_at: row.try_get("answered_at")?,
        })
    }
}

/// The pending reports of a link due by `now`, oldest hour first.
pub async fn due_reports(
    conn: &mut SqliteConnection,
    link_id: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports
         WHERE link_id = ? AND state = 'pending' AND not_before <= ?
         ORDER BY hour_start, dimension LIMIT ?"
    ))
    .bind(link_id)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Reports left `sending` (the console stopped between a call and its record).
pub async fn sending_reports(
    conn: &mut SqliteConnection,
    link_id: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports WHERE link_id = ? AND state = 'sending'"
    ))
    .bind(link_id)
    .fetch_all(conn)
    .await
}

pub async fn report(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Every report of the hours `[from, to)`, newest hour first.
pub async fn reports_between(
    pool: &SqlitePool,
    from: i64,
    to: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports
         WHERE hour_start >= ? AND hour_start < ?
         ORDER BY hour_start DESC, dimension, link_id"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// Reports in one state (all links), oldest hour first: the late ones for their export.
pub async fn reports_in_state(
    pool: &SqlitePool,
    state: &str,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports WHERE state = ?
         ORDER BY hour_start, dimension"
    ))
    .bind(state)
    .fetch_all(pool)
    .await
}

/// Records a report's new state. `sent_at` is set when it turns `sending`; `answered_at`
/// otherwise; `uncertain` once set stays set. Only a report still in `from` changes (another
/// writer may have settled it).
pub async fn set_report_state(
    conn: &mut SqliteConnection,
    id: i64,
    from: &str,
    state: &ReportState,
    receipt: Option<&str>,
    uncertain: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (attempts, not_before, reason) = columns_of(state);
    let sending = matches!(state, ReportState::Sending { .. });
    let done = sqlx::query(
        "UPDATE marketplace_reports SET state = ?, attempts = ?, not_before = ?, reason = ?,
             receipt = COALESCE(?, receipt), uncertain = MAX(uncertain, ?),
             sent_at = CASE WHEN ? THEN ? ELSE sent_at END,
             answered_at = CASE WHEN ? THEN answered_at ELSE ? END
         WHERE id = ? AND state = ?",
    )
    .bind(state.kind())
    .bind(attempts)
    .bind(not_before)
    .bind(reason)
    .bind(receipt)
    .bind(uncertain)
    .bind(sending)
    .bind(now)
    .bind(sending)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_last_report(
    conn: &mut SqliteConnection,
    link_id: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE marketplace_links SET last_report_at = ? WHERE id = ?")
        .bind(at)
        .bind(link_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every link, newest first.
pub async fn links(pool: &SqlitePool) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM marketplace_links ORDER BY id DESC"
    ))
    .fetch_all(pool)
    .await
}

/// How many reports are in each state.
pub async fn counts(pool: &SqlitePool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT state, COUNT(*) FROM marketplace_reports GROUP BY state ORDER BY state")
        .fetch_all(pool)
        .await
}

/// Reports that need a look (rejected, unknown, unsent, late), newest hour first.
pub async fn attention(pool: &SqlitePool, limit: i64) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports
         WHERE state IN ('rejected', 'unknown', 'unsent', 'late')
         ORDER BY hour_start DESC, dimension LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}
