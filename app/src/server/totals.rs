//! The totals over all instances (how many per state, the AKU in use), kept in memory: every
//! page shows them, and computing them reads every instance. They are trusted while the
//! database's totals version (migration 0010, moved by triggers in the transaction that
//! changes an instance's state or size) is the one they were computed at, so a change by any
//! writer, the console or a person with sqlite3, is seen by the next read.
//!
//! Write transactions do not use this: the quota check reads the totals on its own
//! transaction (`store::instance_totals::totals`), which sees its own uncommitted changes.

use super::page_reads::PageReads;
use super::store::instance_totals::{self as store, Totals};
use super::{AppState, ServerError};
use std::sync::{Arc, Mutex};

/// The last totals read and the version they belong to.
#[derive(Debug, Default)]
pub struct TotalsCache(Mutex<Option<(i64, Arc<Totals>)>>);

impl TotalsCache {
    fn at(&self, version: i64) -> Option<Arc<Totals>> {
        let cached = self.0.lock().ok()?;
        match cached.as_ref() {
            Some((at, totals)) if *at == version => Some(totals.clone()),
            _ => None,
        }
    }

    fn keep(&self, version: i64, totals: Arc<Totals>) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((version, totals));
        }
    }
}

/// The current totals: one read of a single row while nothing changed, else one pass over the
/// totals index. Read on a pool connection, outside any transaction, so what is kept is
/// committed.
pub async fn current(state: &AppState) -> Result<Arc<Totals>, ServerError> {
    current_in(state, None).await
}

/// [`current`], with the version a page render read with its other versions.
pub async fn current_in(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<Arc<Totals>, ServerError> {
    let version = match reads {
        Some(reads) => reads.versions(state).await?.totals,
        None => {
            let mut conn = state.pool.acquire().await?;
            store::version(&mut conn).await?
        }
    };
    if let Some(totals) = state.instance_totals.at(version) {
        return Ok(totals);
    }
    let mut conn = state.pool.acquire().await?;
    // The version comes again with the totals, from the same snapshot: a commit in between
    // may have moved it.
    let (version, totals) = store::totals(&mut conn).await?;
    let totals = Arc::new(totals);
    state.instance_totals.keep(version, totals.clone());
    Ok(totals)
}
