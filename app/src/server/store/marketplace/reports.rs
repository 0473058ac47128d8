//! The outbox of hourly marketplace reports, and the pay-as-you-go ledger they are made from.

use crate::domain::marketplace::ReportState;
use crate::server::store::decode;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

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

/// What the last hour of a dimension the link queued itself (from `from`, its first hour)
/// carried (decimal text), if any: hours taken over from an earlier link do not count.
pub async fn last_carry(
    conn: &mut SqliteConnection,
    link_id: i64,
    dimension: &str,
    from: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT carry FROM marketplace_reports
         WHERE link_id = ? AND dimension = ? AND hour_start >= ?
         ORDER BY hour_start DESC LIMIT 1",
    )
    .bind(link_id)
    .bind(dimension)
    .bind(from)
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
    /// The host of the latest attempt (`None`: never sent).
    pub sent_from: Option<String>,
    pub sent_at: Option<i64>,
    pub answered_at: Option<i64>,
}

const REPORT_COLUMNS: &str = "id, link_id, hour_start, dimension, market_key, ledger_quantity,
     quantity, client_token, state, attempts, not_before, reason, receipt, sent_at, answered_at,
     uncertain, sent_from";

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
            sent_from: row.try_get("sent_from")?,
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

/// The reports no link will send (all links), oldest hour first, for their export: `late`
/// ones, and `unsent` ones (their link was removed; a new link of the same listing takes
/// them over while the marketplace still takes them).
pub async fn not_sent(pool: &SqlitePool) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REPORT_COLUMNS} FROM marketplace_reports WHERE state IN ('late', 'unsent')
         ORDER BY hour_start, dimension, link_id"
    ))
    .fetch_all(pool)
    .await
}

/// Marks a pending report `sending` from `host` (committed before the call). False when it
/// was no longer pending.
pub async fn mark_sending(
    conn: &mut SqliteConnection,
    id: i64,
    attempts: u32,
    host: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_reports SET state = 'sending', attempts = ?, not_before = 0,
             reason = NULL, sent_from = ?, sent_at = ?
         WHERE id = ? AND state = 'pending'",
    )
    .bind(i64::from(attempts))
    .bind(host)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
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
