//! The audit log: appended to, never updated, each entry chained to the one before it by
//! hash (`domain::audit_chain`).

use crate::domain::audit_chain::{self, EntryContent, StoredEntry, GENESIS};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

pub struct Entry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

impl<'a> Entry<'a> {
    /// What the console did on its own (the control loop, an operation's outcome): actor
    /// `system`, from `local`.
    pub fn by_console(
        at: i64,
        action: &'a str,
        target: &'a str,
        outcome: &'a str,
        detail: &'a str,
    ) -> Entry<'a> {
        Entry {
            at,
            actor: "system",
            action,
            target: Some(target),
            client_addr: Some("local"),
            outcome,
            detail: Some(detail),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct EntryRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Appends an entry, chained to the latest one, inside the caller's transaction: the entry
/// commits with the change it records, or neither does. `conn` must be a transaction begun
/// with `BEGIN IMMEDIATE` (every writer of this console begins so): it holds the write lock
/// from its start, so appends are serialised and two entries never claim the same
/// predecessor. (Were it not, the `id` primary key would refuse the second of two such
/// entries, and its transaction with it: the chain never forks.) Returns the entry's id.
pub async fn append_in(conn: &mut SqliteConnection, e: Entry<'_>) -> Result<i64, sqlx::Error> {
    let last: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let id = last.as_ref().map(|(id, _)| id + 1).unwrap_or(1);
    let prev_hash = last
        .and_then(|(_, hash)| hash)
        .unwrap_or_else(|| GENESIS.to_string());
    let content = EntryContent {
        id,
        at: e.at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        client_addr: e.client_addr,
        outcome: e.outcome,
        detail: e.detail,
    };
    let hash = audit_chain::entry_hash(&prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, target, client_addr, outcome, detail, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(e.at)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target)
    .bind(e.client_addr)
    .bind(e.outcome)
    .bind(e.detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Appends an entry in a transaction of its own: for events that change nothing else (a
/// failed sign-in, a refusal, a sign-out). A change appends with [`append_in`], in its own
/// transaction.
pub async fn append(pool: &SqlitePool, e: Entry<'_>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    append_in(&mut tx, e).await?;
    tx.commit().await
}

/// Seals entries written before the chain existed (migration 0004), in id order. Runs at
/// start; returns how many were sealed.
pub async fn seal_unsealed(pool: &SqlitePool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let unsealed: Vec<StoredRow> = sqlx::query_as(&format!(
        "SELECT {CHAIN_COLUMNS} FROM audit_log WHERE hash IS NULL ORDER BY id"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let mut sealed = 0;
    for row in unsealed {
        let prev_hash = hash_before(&mut tx, row.id).await?;
        let hash = audit_chain::entry_hash(&prev_hash, &row.content());
        sqlx::query("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?")
            .bind(&prev_hash)
            .bind(&hash)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        sealed += 1;
    }
    tx.commit().await?;
    Ok(sealed)
}

async fn hash_before(conn: &mut SqliteConnection, id: i64) -> Result<String, sqlx::Error> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT 1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(hash.flatten().unwrap_or_else(|| GENESIS.to_string()))
}

const CHAIN_COLUMNS: &str =
    "id, at, actor, action, target, client_addr, outcome, detail, prev_hash, hash";

impl StoredRow {
    fn content(&self) -> EntryContent<'_> {
        EntryContent {
            id: self.id,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            client_addr: self.client_addr.as_deref(),
            outcome: &self.outcome,
            detail: self.detail.as_deref(),
        }
    }
}

/// Walks the whole chain: the number of entries, or the first break.
pub async fn verify_chain(
    pool: &SqlitePool,
) -> Result<Result<u64, audit_chain::Break>, sqlx::Error> {
    let mut walk = audit_chain::ChainWalk::default();
    Ok(continue_chain(pool, &mut walk)
        .await?
        .map(|()| walk.checked()))
}

/// Feeds `walk` every entry after the last it checked, in id order, a batch at a time (memory
/// stays one batch however long the log); the first break.
pub async fn continue_chain(
    pool: &SqlitePool,
    walk: &mut audit_chain::ChainWalk,
) -> Result<Result<(), audit_chain::Break>, sqlx::Error> {
    const BATCH: i64 = 1000;
    loop {
        let rows: Vec<StoredRow> = sqlx::query_as(&format!(
            "SELECT {CHAIN_COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(walk.last_id())
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            let entry = StoredEntry {
                content: row.content(),
                prev_hash: row.prev_hash.as_deref(),
                hash: row.hash.as_deref(),
            };
            if let Err(broken) = walk.check(entry) {
                return Ok(Err(broken));
            }
        }
        if (rows.len() as i64) < BATCH {
            return Ok(Ok(()));
        }
    }
}

/// How many times the log was changed other than by appending (migration 0010's triggers).
pub async fn edits(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count FROM audit_log_edits")
        .fetch_one(pool)
        .await
}

/// The audit page's filter. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
}

/// How a read may use the dates of a filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dates {
    /// Through the index on `at` (a page, a count: a day's entries are found at once).
    Indexed,
    /// As a check on each entry read in `id` order (the export: read in batches, each going
    /// on from the last, the whole export reads the log once; through the index, each batch
    /// would sort the whole range again).
    Checked,
}

/// The filter's conditions, only those set: a condition written `(? IS NULL OR actor = ?)`
/// keeps SQLite from the index on `actor` (or `action`), and a page of a rare actor's entries
/// would then scan the whole log.
fn push_filter<'a>(query: &mut QueryBuilder<'a, Sqlite>, filter: &'a Filter, dates: Dates) {
    query.push(" WHERE 1 = 1");
    if let Some(actor) = &filter.actor {
        query.push(" AND actor = ").push_bind(actor.as_str());
    }
    if let Some(action) = &filter.action {
        query.push(" AND action = ").push_bind(action.as_str());
    }
    // A unary `+` keeps SQLite from choosing the index on `at` for the term.
    let at = if dates == Dates::Indexed {
        " AND at"
    } else {
        " AND +at"
    };
    if let Some(from) = filter.from {
        query.push(at).push(" >= ").push_bind(from);
    }
    if let Some(until) = filter.until {
        query.push(at).push(" < ").push_bind(until);
    }
}

/// At most `limit` matching entries, newest first, those before the entry `before` if given:
/// one range read of the index on `actor`, `action` (each ordered by id within a value) or the
/// table itself.
pub async fn search(
    pool: &SqlitePool,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_log",
    );
    push_filter(&mut query, filter, Dates::Indexed);
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    query.build_query_as().fetch_all(pool).await
}

/// How many entries match `filter`.
pub async fn count(pool: &SqlitePool, filter: &Filter) -> Result<i64, sqlx::Error> {
    let mut query = QueryBuilder::new("SELECT COUNT(*) FROM audit_log");
    push_filter(&mut query, filter, Dates::Indexed);
    query.build_query_scalar().fetch_one(pool).await
}

/// Matching entries with their hashes (the CSV export), oldest first: at most `limit` of
/// those after the entry `after`.
pub async fn export(
    pool: &SqlitePool,
    filter: &Filter,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(format!("SELECT {CHAIN_COLUMNS} FROM audit_log"));
    push_filter(&mut query, filter, Dates::Checked);
    query
        .push(" AND id > ")
        .push_bind(after.unwrap_or(0))
        .push(" ORDER BY id LIMIT ")
        .push_bind(limit as i64);
    query.build_query_as().fetch_all(pool).await
}

/// An entry with its two hashes: what the chain is checked over and what the export writes.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StoredRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// The distinct actors and kinds, for the filter's choices.
pub async fn actors_and_actions(
    pool: &SqlitePool,
) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    // Each distinct value found from the one before through the column's index (a skip
    // scan: a few reads per value), not by reading every entry.
    let distinct = |column: &str| {
        format!(
            "WITH RECURSIVE v(x) AS (
                 SELECT MIN({column}) FROM audit_log
                 UNION ALL
                 SELECT (SELECT MIN({column}) FROM audit_log WHERE {column} > v.x)
                 FROM v WHERE v.x IS NOT NULL)
             SELECT x FROM v WHERE x IS NOT NULL LIMIT 500"
        )
    };
    let actors = sqlx::query_scalar(&distinct("actor"))
        .fetch_all(pool)
        .await?;
    let actions = sqlx::query_scalar(&distinct("action"))
        .fetch_all(pool)
        .await?;
    Ok((actors, actions))
}

/// Times of failed attempts at `action` (`login`, or `password_change`'s wrong current
/// passwords) by `username` from `client_addr` since `since`, after the user's last success at
/// it from that address and after an administrator last reset their password or enabled them
/// (which clears the throttle).
pub async fn failures_of_user_from(
    pool: &SqlitePool,
    action: &str,
    username: &str,
    client_addr: &str,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT at FROM audit_log
         WHERE action = ?1 AND actor = ?2 AND client_addr = ?3 AND outcome = 'failure' AND at > ?4
           AND id > COALESCE((SELECT MAX(id) FROM audit_log
                              WHERE outcome = 'success'
                                AND ((action = ?1 AND actor = ?2 AND client_addr = ?3)
                                  OR (action IN ('user_password_reset', 'user_enable')
                                      AND target = ?2))), 0)",
    )
    .bind(action)
    .bind(username)
    .bind(client_addr)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Times of failed sign-ins from `client_addr` since `since`, whatever the user name.
pub async fn login_failures_from(
    pool: &SqlitePool,
    client_addr: &str,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT at FROM audit_log WHERE action = 'login' AND client_addr = ? AND outcome = 'failure' AND at > ?",
    )
    .bind(client_addr)
    .bind(since)
    .fetch_all(pool)
    .await
}

pub async fn recent(pool: &SqlitePool, limit: i64) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, target, client_addr, outcome, detail FROM audit_log ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
