//! `Idempotency-Key` on creates: per service account, kept 24 hours. The first request with a
//! key reserves it (in a `BEGIN IMMEDIATE` transaction, so two at once cannot both pass); its
//! answer is kept; a retry with the same key and body gets that answer and creates nothing;
//! the same key with another body is refused (422); a retry while the first is still being
//! answered is told to wait (409). A first request that failed inside the server frees its key.

use super::problem::RestError;
use crate::domain::digest::sha256_hex;
use crate::server::idempotency::{self as service, Claimed};
use crate::server::{AppState, ServerError};
use crate::wire::error::AppError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const HEADER: &str = "idempotency-key";
/// A key's length at most (at least 1), of visible ASCII characters.
pub const KEY_MAX: usize = 255;

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
        .filter(|k| (1..=KEY_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                format!("Idempotency-Key must be 1 to {KEY_MAX} visible ASCII characters."),
            )
        })?
        .to_string();
    // The bytes as sent: two bodies that differ only in invalid UTF-8 are still two bodies.
    let hash = sha256_hex(body);
    match service::claim(state, account_id, &key, &hash).await? {
        Claimed::Fresh => Ok(Claim::Reserved {
            account_id,
            key,
            hash,
        }),
        Claimed::Answered {
            status,
            body,
            location,
        } => Ok(Claim::Replay(replay(status, body, location))),
        Claimed::InProgress => Err(AppError::Conflict(
            "The first request with this Idempotency-Key is still being answered; try again in a moment."
                .into(),
        )
        .into()),
        Claimed::OtherBody => Err(AppError::invalid(
            "Idempotency-Key",
            "This Idempotency-Key was used with another request body; use a new key for a new request.",
        )
        .into()),
    }
}

fn replay(status: u16, body: String, location: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
        if let Err(error) = service::forget(state, account_id, &key).await {
            tracing::warn!(%error, "an idempotency key could not be freed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return RestError::from(ServerError::internal("reading an answer", error))
                .into_response()
        }
    };
    let location = parts
        .headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let kept = service::keep(
        state,
        account_id,
        &key,
        &hash,
        parts.status.as_u16(),
        &text,
        location.as_deref(),
    )
    .await;
    if let Err(error) = kept {
        tracing::warn!(%error, "an idempotent answer could not be kept");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
