//! What every page's shell reads and seldom changes, kept in memory between page renders: the
//! session's user, the applied key, the environment and the latest marketplace link. Each page
//! render asks the database one row of versions ([`Versions`]); while the shell version is
//! the one the kept rows were read at, they are used as they are. Triggers (migration 0011)
//! move that version in the same transaction as any change to those tables, by any writer, so
//! a user disabled, a key edited or a link ended by hand is seen by the next page.
//!
//! A row is read after the version it is kept under, so it is never older than that version
//! says: at worst newer, and then the version has moved too and the next render reads again.
//! Only page renders use this ([`PageReads`]); server functions and the REST API read afresh.

use super::page_reads::PageReads;
pub use super::store::versions::Versions;
use super::store::{self, environment::EnvironmentRow, license::AppliedKeyRow};
use super::store::{marketplace::LinkRow, users::UserRow};
use super::{AppState, ServerError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// The kept rows and the shell version they were read at.
#[derive(Debug, Default)]
pub struct ShellReads(Mutex<Kept>);

#[derive(Debug, Default)]
struct Kept {
    version: Option<i64>,
    users: HashMap<i64, Option<UserRow>>,
    applied_key: Option<Option<AppliedKeyRow>>,
    environment: Option<Option<EnvironmentRow>>,
    latest_link: Option<Option<LinkRow>>,
}

/// `read`'s value, outside a page render. In one, `get`'s value if the rows are kept at the
/// render's shell version; else `read`'s, kept by `put` for the next render.
async fn through<T, F>(
    state: &AppState,
    reads: Option<&PageReads>,
    get: impl FnOnce(&Kept) -> Option<T>,
    put: impl FnOnce(&mut Kept, T),
    read: F,
) -> Result<T, ServerError>
where
    T: Clone,
    F: Future<Output = Result<T, sqlx::Error>>,
{
    let Some(reads) = reads else {
        return Ok(read.await?);
    };
    let version = reads.versions(state).await?.shell;
    let kept_rows = &state.shell_reads.0;
    if let Ok(kept) = kept_rows.lock() {
        if kept.version == Some(version) {
            if let Some(value) = get(&kept) {
                return Ok(value);
            }
        }
    }
    let value = read.await?;
    if let Ok(mut kept) = kept_rows.lock() {
        if kept.version != Some(version) {
            *kept = Kept {
                version: Some(version),
                ..Kept::default()
            };
        }
        put(&mut kept, value.clone());
    }
    Ok(value)
}

/// The user `id`: kept during a page render, else read.
pub async fn user(
    state: &AppState,
    reads: Option<&PageReads>,
    id: i64,
) -> Result<Option<UserRow>, ServerError> {
    let get = |kept: &Kept| kept.users.get(&id).cloned();
    let put = |kept: &mut Kept, user| {
        kept.users.insert(id, user);
    };
    through(state, reads, get, put, store::users::by_id(&state.pool, id)).await
}

/// The latest applied key: kept during a page render, else read.
pub async fn applied_key(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<Option<AppliedKeyRow>, ServerError> {
    let read = async {
        let mut conn = state.pool.acquire().await?;
        store::license::current(&mut conn).await
    };
    let get = |kept: &Kept| kept.applied_key.clone();
    let put = |kept: &mut Kept, row| kept.applied_key = Some(row);
    through(state, reads, get, put, read).await
}

/// The environment: kept during a page render, else read.
pub async fn environment(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<Option<EnvironmentRow>, ServerError> {
    let read = store::environment::get(&state.pool);
    let get = |kept: &Kept| kept.environment.clone();
    let put = |kept: &mut Kept, row| kept.environment = Some(row);
    through(state, reads, get, put, read).await
}

/// The latest marketplace link, active or not: kept during a page render, else read.
pub async fn latest_link(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<Option<LinkRow>, ServerError> {
    let read = async {
        let mut conn = state.pool.acquire().await?;
        store::marketplace::latest_link(&mut conn).await
    };
    let get = |kept: &Kept| kept.latest_link.clone();
    let put = |kept: &mut Kept, row| kept.latest_link = Some(row);
    through(state, reads, get, put, read).await
}
