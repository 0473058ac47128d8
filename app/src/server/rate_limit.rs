//! Per-address request-rate limits on the endpoints where each attempt costs real work or
//! guesses a secret: sign-in and password changes (an Argon2 hash each), setup, and product
//! keys (a signature check). A burst, then one request per period, per client address
//! (governor's GCRA). Everything else is never limited, so a flood of sign-ins from one
//! address gets cheap 429s and leaves the cores to everyone else.

use super::audit::{self, Actor};
use super::client_addr::ClientAddr;
use super::{AppState, ServerError};
use crate::wire::error::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A path and address over the limit are audited at most this often.
const AUDIT_EVERY: Duration = Duration::from_secs(60);

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
    /// When each (path, address) over its limit was last audited: a flood stays cheap (no
    /// database work for its 429s but one audit entry a minute).
    audited: Mutex<HashMap<(&'static str, IpAddr), Instant>>,
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
            audited: Mutex::new(HashMap::new()),
        })
    }

    /// Forgets addresses whose allowance is full again (memory stays bounded).
    pub fn forget_idle(&self) {
        for (_, limiter) in &self.limiters {
            limiter.retain_recent();
        }
        if let Ok(mut audited) = self.audited.lock() {
            audited.retain(|_, at| at.elapsed() < AUDIT_EVERY);
        }
    }

    /// Whether the refusal of `path` to `addr` is to be audited now (once a minute).
    fn audit_due(&self, path: &'static str, addr: IpAddr) -> bool {
        let Ok(mut audited) = self.audited.lock() else {
            return false;
        };
        let now = Instant::now();
        match audited.get(&(path, addr)) {
            Some(at) if now.duration_since(*at) < AUDIT_EVERY => false,
            _ => {
                audited.insert((path, addr), now);
                true
            }
        }
    }

    /// None when allowed; the limited path and the wait otherwise.
    fn check(&self, path: &str, addr: IpAddr) -> Option<(&'static str, Duration)> {
        let (limited, limiter) = self.limiters.iter().find(|(p, _)| *p == path)?;
        limiter
            .check_key(&addr)
            .err()
            .map(|not_until| (*limited, not_until.wait_time_from(self.clock.now())))
    }
}

/// The middleware: 429 with the console's JSON error and `Retry-After` when over the limit;
/// its refusals audited by the rule of every 429 (action `rate_limit`, the path
/// as target, actor `anonymous`: the session is not read, so a refused flood stays cheap),
/// once a minute per path and address.
pub async fn limit(
    State((limits, state)): State<(Arc<RateLimits>, AppState)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(limited) = over_limit(&limits, &req) else {
        return next.run(req).await;
    };
    let response = limited.response();
    if limits.audit_due(limited.path, limited.addr) {
        let actor = Actor::anonymous(&limited.addr.to_string());
        let error = ServerError::App(limited.error);
        audit::refusal(&state, &actor, "rate_limit", Some(limited.path), &error).await;
    }
    response
}

/// A request over its limit.
struct Limited {
    path: &'static str,
    addr: IpAddr,
    seconds: u64,
    error: AppError,
}

impl Limited {
    fn response(&self) -> Response {
        (
            http::StatusCode::TOO_MANY_REQUESTS,
            [(http::header::RETRY_AFTER, self.seconds.to_string())],
            axum::Json(&self.error),
        )
            .into_response()
    }
}

fn over_limit(limits: &RateLimits, req: &Request) -> Option<Limited> {
    let addr = ClientAddr::of(req.extensions());
    let (path, wait) = limits.check(req.uri().path(), addr)?;
    let seconds = wait.as_secs().max(1);
    let error = AppError::TooManyAttempts {
        message: format!("Too many requests from your address. Try again in {seconds} seconds."),
        retry_at: time::OffsetDateTime::now_utc().unix_timestamp() + seconds as i64,
    };
    Some(Limited {
        path,
        addr,
        seconds,
        error,
    })
}

/// The REST API's limit per service account (governor's GCRA, keyed by the account): a burst,
/// then `per_second` requests a second. One script in a loop cannot take the console from the
/// pages and other accounts; a refusal is a 429 with `Retry-After`.
pub struct TokenLimits {
    limiter: DefaultKeyedRateLimiter<i64>,
    clock: governor::clock::DefaultClock,
}

impl TokenLimits {
    /// None when the figures are zero (no limit can be made of them).
    pub fn new(per_second: u32, burst: u32) -> Option<TokenLimits> {
        let quota =
            Quota::per_second(NonZeroU32::new(per_second)?).allow_burst(NonZeroU32::new(burst)?);
        Some(TokenLimits {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: governor::clock::DefaultClock::default(),
        })
    }

    /// Whole seconds to wait when `account_id` is over its limit (at least 1), else None.
    pub fn wait(&self, account_id: i64) -> Option<u64> {
        self.limiter.check_key(&account_id).err().map(|not_until| {
            not_until
                .wait_time_from(self.clock.now())
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64
        })
    }
}
