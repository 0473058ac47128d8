//! The first two guards of every request: who sent it (the client's address, behind trusted
//! reverse proxies too) and to which host (a `Host` the console does not answer to is refused
//! before any handler: DNS rebinding). The rules are `domain::net`'s.

use super::AppState;
use crate::domain::net;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address, canonical (`::ffff:a.b.c.d` is `a.b.c.d`), as every rule uses it: rate
/// limits, sign-in throttling, the audit log, the `/metrics` loopback rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The resolved address of a request, else its peer's (canonical), else unspecified.
    pub fn of(extensions: &http::Extensions) -> IpAddr {
        if let Some(ClientAddr(addr)) = extensions.get::<ClientAddr>() {
            return *addr;
        }
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| net::canonical(info.0.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Middleware: puts the request's [`ClientAddr`] into its extensions. `X-Forwarded-For` counts
/// only when the peer is a `--trusted-proxy`.
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let addr = match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(info) => {
            let raw = req.headers().get_all("x-forwarded-for");
            let values: Vec<&str> = raw.iter().filter_map(|v| v.to_str().ok()).collect();
            if values.len() < raw.iter().count() && state.config.trusted_proxies.trusts(info.0.ip())
            {
                // A header that is not text cannot name anyone.
                net::UNKNOWN_CLIENT
            } else {
                net::client_address(info.0.ip(), &state.config.trusted_proxies, &values)
            }
        }
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// Middleware: 421 Misdirected Request when the `Host` (or, for HTTP/2, the URI's authority) is
/// not one the console answers to (`serve --public-url`, `--allowed-host`; see
/// [`net::AllowedHosts::allows`]). Not audited: a misdirected request reaches nothing.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    // No Host at all (HTTP/1.0 health checks of load balancers): no browser sends such a
    // request, so no rebinding page can; `/healthz` answers any host (probes by an address the
    // console does not know it has).
    match host {
        None => next.run(req).await,
        Some(_) if req.uri().path() == "/healthz" => next.run(req).await,
        Some(host) if state.config.allowed_hosts.allows(&host) => next.run(req).await,
        Some(host) => misdirected(Some(&host), state.config.allowed_hosts.names()),
    }
}

fn misdirected(host: Option<&str>, names: &[String]) -> Response {
    let shown: String = host
        .unwrap_or("")
        .chars()
        .take(100)
        .filter(|c| !c.is_control())
        .collect();
    let answers = if names.is_empty() {
        "this host's addresses and localhost".to_string()
    } else {
        format!(
            "{}, this host's loopback and listen addresses",
            names.join(", ")
        )
    };
    let message = format!(
        "This console does not answer to the host {shown:?}: it answers to {answers}. \
         An administrator adds names with serve --public-url or --allowed-host."
    );
    Response::builder()
        .status(StatusCode::MISDIRECTED_REQUEST)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(message))
        .unwrap_or_default()
}
