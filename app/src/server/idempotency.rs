//! Idempotent creates: the answers kept per service account and `Idempotency-Key` (24 hours),
//! and the reservation that lets only one of several identical requests do the work. The HTTP
//! side (headers, replayed responses) is the REST layer's (`rest::idempotency`).

use super::store::service_accounts::{self as store, Answer};
use super::{AppState, ServerError};

/// How long an answer is kept.
pub const KEPT_S: i64 = 24 * 3600;
/// A reservation without an answer after this long was cut off (the console stopped between
/// the create and keeping its answer): the key may be claimed again. The create itself, if it
/// committed, holds the instance's name, so a second one is refused, not made twice.
const ABANDONED_S: i64 = 120;

/// Where a key stands for a request with the body hash `hash`.
pub enum Claimed {
    /// The key was free and is now reserved for this request: do the work, then [`keep`].
    Fresh,
    /// Answered before: the status, body and location to send again.
    Answered {
        status: u16,
        body: String,
        location: Option<String>,
    },
    /// The first request with the key is still being answered.
    InProgress,
    /// The key was used with another body.
    OtherBody,
}

/// Reserves `key` for the account, or says why not, in one `BEGIN IMMEDIATE` transaction:
/// of several requests at once, exactly one gets [`Claimed::Fresh`].
pub async fn claim(
    state: &AppState,
    account_id: i64,
    key: &str,
    hash: &str,
) -> Result<Claimed, ServerError> {
    let now = state.clock.unix();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let kept = store::kept_answer(&mut tx, account_id, key, now - KEPT_S)
        .await?
        .filter(|(_, status, _, _, at)| *status != 0 || now - at < ABANDONED_S);
    let claimed = match kept {
        Some((kept_hash, _, _, _, _)) if kept_hash != hash => Claimed::OtherBody,
        Some((_, 0, _, _, _)) => Claimed::InProgress,
        Some((_, status, body, location, _)) => Claimed::Answered {
            status: u16::try_from(status).unwrap_or(500),
            body,
            location,
        },
        None => {
            store::keep_answer(
                &mut tx,
                &Answer {
                    account_id,
                    key,
                    request_sha256: hash,
                    status: 0,
                    body: "",
                    location: None,
                    now,
                },
            )
            .await?;
            Claimed::Fresh
        }
    };
    tx.commit().await?;
    Ok(claimed)
}

/// Keeps the answer of a reserved key.
pub async fn keep(
    state: &AppState,
    account_id: i64,
    key: &str,
    hash: &str,
    status: u16,
    body: &str,
    location: Option<&str>,
) -> Result<(), ServerError> {
    let mut conn = state.pool.acquire().await?;
    store::keep_answer(
        &mut conn,
        &Answer {
            account_id,
            key,
            request_sha256: hash,
            status,
            body,
            location,
            now: state.clock.unix(),
        },
    )
    .await?;
    Ok(())
}

/// Frees a reserved key (its request failed inside the server: a retry may try again).
pub async fn forget(state: &AppState, account_id: i64, key: &str) -> Result<(), ServerError> {
    store::forget_answer(&state.pool, account_id, key).await?;
    Ok(())
}
