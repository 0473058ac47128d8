//! HTTP guards that run before any page or server function.

use super::audit::{self, Actor};
use super::page_reads::PageReads;
use super::{auth, license, setup, AppState, Config, ServerError};
use crate::domain::navigation::{self, Visitor};
use crate::domain::net;
use crate::wire::error::AppError;
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
/// not browsers and cannot be made to carry a victim's cookies, so they pass. Each refusal is
/// audited by the rule of every 403
/// ([`audit::refusal`]): action `cross_site`, the path as target, the client's address, the
/// session's user when the request carries one (the session cookie is `SameSite=Strict`, so a
/// cross-site request seldom does, and then nothing is read), else `anonymous`.
pub async fn reject_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(refusal) = cross_site_refusal(&req, &state.config) else {
        return next.run(req).await;
    };
    let caller = auth::Caller::of(req.uri(), req.extensions());
    let user = match req.extensions().get::<Session>() {
        Some(session) => auth::session_username(&state, session).await,
        None => None,
    };
    let actor = Actor {
        name: user.unwrap_or_else(|| "anonymous".into()),
        addr: caller.addr,
    };
    let response = refusal_response(&refusal);
    let error = ServerError::App(refusal);
    audit::refusal(&state, &actor, "cross_site", Some(&caller.path), &error).await;
    response
}

/// The refusal of a state-changing request from another site, if this is one.
fn cross_site_refusal(req: &Request, config: &Config) -> Option<AppError> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    (!safe && !is_same_origin(req.headers(), config)).then(|| {
        AppError::CrossSite(
            "Refused: this request came from another site. Use the console's own pages.".into(),
        )
    })
}

fn refusal_response(error: &AppError) -> Response {
    let body = serde_json::to_string(error).unwrap_or_default();
    (
        super::error::status_of(error),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Whether a browser sent this request from the console's own pages. The `Host` was checked
/// before (`client_addr::check_host`): a DNS-rebinding page, same-origin with itself, never
/// gets here. `Origin` must be the configured public origin (`--public-url`), or name the
/// very host the request was sent to when that host is one the console answers to.
fn is_same_origin(headers: &HeaderMap, config: &Config) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    if let Some(public) = &config.public_origin {
        if net::origin_matches(origin, public) {
            return true;
        }
    }
    match text("host") {
        Some(host) => origin
            .split_once("://")
            .map(|(_, authority)| {
                authority.eq_ignore_ascii_case(host) && config.allowed_hosts.allows(authority)
            })
            .unwrap_or(false),
        None => false,
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
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && path != "/healthz"
        && path != "/metrics"
        && !path.rsplit('/').next().unwrap_or_default().contains('.');
    if !is_page {
        return next.run(req).await;
    }
    // The render after this guard shares its reads of the user and the license.
    let reads = PageReads::default();
    req.extensions_mut().insert(reads.clone());
    match page_redirect(&state, &session, &path, &reads).await {
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
    reads: &PageReads,
) -> Result<Option<&'static str>, super::ServerError> {
    // Only what the rule needs is read: the license only for a signed-in user.
    let visitor = if !setup::is_done(state).await? {
        Visitor::BeforeSetup
    } else if path == "/setup" {
        Visitor::SignedOut
    } else {
        match auth::session_user_in(state, session, Some(reads)).await? {
            None => Visitor::SignedOut,
            Some(user) => Visitor::SignedIn {
                must_change_password: user.must_change_password,
                activated: license::now_in(state, Some(reads)).await?.current.is_some(),
            },
        }
    };
    Ok(navigation::redirect(path, visitor))
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
        let config = Config::default();
        let same =
            |pairs: &[(&'static str, &'static str)]| is_same_origin(&headers(pairs), &config);
        assert!(same(&[("sec-fetch-site", "same-origin")]));
        assert!(!same(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a:1"),
            ("host", "a:1")
        ]));
        assert!(!same(&[("sec-fetch-site", "same-site")]));
        assert!(same(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(!same(&[
            ("origin", "http://127.0.0.2:8080"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(!same(&[("origin", "null"), ("host", "127.0.0.1:8080")]));
        assert!(same(&[("host", "127.0.0.1:8080")]));
        // A rebinding page: its Origin and Host are both the attacker's name.
        assert!(!same(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://evil.example:8080"),
            ("host", "evil.example:8080")
        ]));
        assert!(!same(&[
            ("origin", "http://evil.example:8080"),
            ("host", "evil.example:8080")
        ]));
    }

    #[test]
    fn the_configured_public_origin_is_same_origin() {
        let config = Config {
            public_origin: Some("https://console.example.com".into()),
            allowed_hosts: net::AllowedHosts::new(vec!["console.example.com".into()], None),
            ..Config::default()
        };
        let same =
            |pairs: &[(&'static str, &'static str)]| is_same_origin(&headers(pairs), &config);
        assert!(same(&[
            ("origin", "https://console.example.com"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(!same(&[
            ("origin", "http://console.example.com"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(same(&[
            ("origin", "https://console.example.com"),
            ("host", "console.example.com")
        ]));
    }
}
