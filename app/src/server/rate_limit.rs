//! Per-address request-rate limits on the endpoints where each attempt costs real work or
//! guesses a secret: sign-in and password changes (an Argon2 hash each), setup, and product
//! keys (a signature check). A burst, then one request per period, per client address
//! (governor's GCRA). Everything else is never limited, so a flood of sign-ins from one
//! address gets cheap 429s and leaves the cores to everyone else.

use crate::api::error::AppError;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// (path, one request per this many seconds, burst)
const LIMITS: &[(&str, u64, u32)] = &[
    ("/api/login", 1, 20),
    ("/api/password_change", 2, 10),
    ("/api/setup", 2, 10),
    ("/api/license_apply", 3, 10),
    ("/api/license_preview", 3, 10),
];

pub struct RateLimits {
    limiters: Vec<(&'static str, DefaultKeyedRateLimiter<IpAddr>)>,
    clock: governor::clock::DefaultClock,
}

impl RateLimits {
    pub fn new() -> Arc<RateLimits> {
        let limiters = LIMITS
            .iter()
            .filter_map(|(path, seconds, burst)| {
                let quota = Quota::with_period(Duration::from_secs(*seconds))?
                    .allow_burst(NonZeroU32::new(*burst)?);
                Some((*path, DefaultKeyedRateLimiter::keyed(quota)))
            })
            .collect();
        Arc::new(RateLimits {
            limiters,
            clock: governor::clock::DefaultClock::default(),
        })
    }

    /// Forgets addresses whose allowance is full again (memory stays bounded).
    pub fn forget_idle(&self) {
        for (_, limiter) in &self.limiters {
            limiter.retain_recent();
        }
    }

    /// None when allowed; the wait otherwise.
    fn check(&self, path: &str, addr: IpAddr) -> Option<Duration> {
        let (_, limiter) = self.limiters.iter().find(|(p, _)| *p == path)?;
        limiter
            .check_key(&addr)
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The middleware: 429 with the console's JSON error and `Retry-After` when over the limit.
pub async fn limit(State(limits): State<Arc<RateLimits>>, req: Request, next: Next) -> Response {
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let Some(wait) = limits.check(req.uri().path(), addr) else {
        return next.run(req).await;
    };
    let seconds = wait.as_secs().max(1);
    let error = AppError::TooManyAttempts {
        message: format!("Too many requests from your address. Try again in {seconds} seconds."),
        retry_at: time::OffsetDateTime::now_utc().unix_timestamp() + seconds as i64,
    };
    (
        http::StatusCode::TOO_MANY_REQUESTS,
        [(http::header::RETRY_AFTER, seconds.to_string())],
        axum::Json(error),
    )
        .into_response()
}
