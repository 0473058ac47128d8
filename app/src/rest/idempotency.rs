//! `Idempotency-Key` on creates: per service account, kept 24 hours. The first request with a
//! key reserves it (in a `BEGIN IMMEDIATE` transaction, so two at once cannot both pass); its
//! answer is kept; a retry with the same key and body gets that answer and creates nothing;
//! the same key with another body is refused (422); a retry while the first is still being
//! answered is told to wait (409). A first request that failed inside the server frees its key.

use super::problem::RestError;
use crate::server::access::secret_sha256;
use crate::server::store::service_accounts::{self as store, Answer};
use crate::server::{AppState, ServerError};
use crate::wire::error::AppError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// How long an answer is kept.
pub const KEPT_S: i64 = 24 * 3600;
/// A reservation without an answer after this long was cut off (the console stopped between
/// the create and keeping its answer): the key may be claimed again. The create itself, if it
/// committed, holds the instance's name, so a second one is refused, not made twice.
const ABANDONED_S: i64 = 120;
const HEADER: &str = "idempotency-key";

/// What to do with a request.
pub enum Claim {
    /// No key: just do it.
    None,
    /// The key is ours now: do it, then [`keep`] the answer.
    Reserved {
        account_id: i64,
        key: String,
        hash: String,
    },
    /// Answered before: send this again.
    Replay(Response),
}

/// The key of the request, checked and claimed.
pub async fn claim(
    state: &AppState,
    account_id: i64,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Claim, RestError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(Claim::None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        })?
        .to_string();
    let hash = secret_sha256(&String::from_utf8_lossy(body));
    let now = state.clock.unix();
    let mut tx = state
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(ServerError::from)?;
    let kept = store::kept_answer(&mut tx, account_id, &key, now - KEPT_S)
        .await
        .map_err(ServerError::from)?;
    let kept = kept.filter(|(_, status, _, _, at)| *status != 0 || now - at < ABANDONED_S);
    match kept {
        Some((kept_hash, _, _, _, _)) if kept_hash != hash => Err(AppError::invalid(
            "Idempotency-Key",
            "This Idempotency-Key was used with another request body; use a new key for a new request.",
        )
        .into()),
        Some((_, 0, _, _, _)) => Err(AppError::Conflict(
            "The first request with this Idempotency-Key is still being answered; try again in a moment."
                .into(),
        )
        .into()),
        Some((_, status, body, location, _)) => {
            Ok(Claim::Replay(replay(status, body, location)))
        }
        None => {
            store::keep_answer(
                &mut tx,
                &Answer {
                    account_id,
                    key: &key,
                    request_sha256: &hash,
                    status: 0,
                    body: "",
                    location: None,
                    now,
                },
            )
            .await
            .map_err(ServerError::from)?;
            tx.commit().await.map_err(ServerError::from)?;
            Ok(Claim::Reserved {
                account_id,
                key,
                hash,
            })
        }
    }
}

fn replay(status: i64, body: String, location: Option<String>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Keeps the answer to a reserved key (or frees the key when the server failed), and returns
/// the response to send.
pub async fn keep(state: &AppState, claim: Claim, response: Response) -> Response {
    let Claim::Reserved {
        account_id,
        key,
        hash,
    } = claim
    else {
        return response;
    };
    if response.status().is_server_error() {
        if let Err(error) = store::forget_answer(&state.pool, account_id, &key).await {
            tracing::warn!(%error, "an idempotency key could not be freed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return RestError(ServerError::internal("reading an answer", error)).into_response()
        }
    };
    let location = parts
        .headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let kept = async {
        let mut conn = state.pool.acquire().await?;
        store::keep_answer(
            &mut conn,
            &Answer {
                account_id,
                key: &key,
                request_sha256: &hash,
                status: parts.status.as_u16(),
                body: &text,
                location: location.as_deref(),
                now: state.clock.unix(),
            },
        )
        .await
    }
    .await;
    if let Err(error) = kept {
        tracing::warn!(%error, "an idempotent answer could not be kept");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
