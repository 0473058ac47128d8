//! HTTP guards that run before any page or server function.

use super::{auth, license, store, AppState};
use crate::api::error::AppError;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

/// Refuses state-changing requests that a browser sent from another site (CSRF). Browsers send
/// `Sec-Fetch-Site` (modern ones) or `Origin` with every cross-origin POST; either must say the
/// request comes from this console's own origin. Clients that send neither (curl, scripts) are
/// not browsers and cannot be made to carry a victim's cookies, so they pass.
pub async fn reject_cross_site(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_same_origin(req.headers()) {
        let error = AppError::CrossSite(
            "Refused: this request came from another site. Use the console's own pages.".into(),
        );
        let body = serde_json::to_string(&error).unwrap_or_default();
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    next.run(req).await
}

fn is_same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (text("origin"), text("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .map(|(_, authority)| authority.eq_ignore_ascii_case(host))
            .unwrap_or(false),
        (Some(_), None) => false,
    }
}

/// Server functions answer 500 when the framework cannot even read the request (a missing or
/// malformed argument): that is the client's mistake, so it becomes 400. The body, an
/// `AppError::Request` with a plain message, is kept.
pub async fn framework_errors_are_bad_requests(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if !is_api || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(AppError::Request(_)) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Pages need a session: before setup every page leads to setup; after it, setup is gone and
/// every page but sign-in leads to sign-in when no one is signed in, and to activation while
/// no product key is applied. Server functions check
/// their own access (401/403), static files and `/healthz` are public.
pub async fn pages_need_session(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && path != "/healthz"
        && !path.rsplit('/').next().unwrap_or_default().contains('.');
    if !is_page {
        return next.run(req).await;
    }
    match page_redirect(&state, &session, path).await {
        Ok(Some(to)) => Redirect::to(to).into_response(),
        Ok(None) => next.run(req).await,
        Err(error) => {
            let message = error.into_app_error().to_string();
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(message))
                .unwrap_or_default()
        }
    }
}

async fn page_redirect(
    state: &AppState,
    session: &Session,
    path: &str,
) -> Result<Option<&'static str>, super::ServerError> {
    if !store::environment::is_set_up(&state.pool).await? {
        return Ok((path != "/setup").then_some("/setup"));
    }
    if path == "/setup" {
        return Ok(Some("/login"));
    }
    let user = auth::session_user(state, session).await?;
    match (path, &user) {
        ("/login", Some(_)) => return Ok(Some("/")),
        ("/login", None) => return Ok(None),
        (_, None) => return Ok(Some("/login")),
        (_, Some(_)) => {}
    }
    // A temporary password (set by an administrator) is changed before anything else.
    if user.is_some_and(|u| u.must_change_password) {
        return Ok((path != "/account").then_some("/account"));
    }
    // Until a product key is applied, every page leads to activation; after, activation is
    // done and its page leads to the license page (where renewals and upgrades go).
    let activated = license::current(state).await?.is_some();
    Ok(match (path, activated) {
        ("/activate", true) => Some("/license"),
        ("/activate", false) => None,
        (_, false) => Some("/activate"),
        (_, true) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_rules() {
        assert!(is_same_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_same_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(!is_same_origin(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(is_same_origin(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("origin", "http://127.0.0.2:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("origin", "null"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(is_same_origin(&headers(&[("host", "127.0.0.1:8080")])));
    }
}
