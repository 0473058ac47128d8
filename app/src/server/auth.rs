//! Sign-in, sign-out and "who is this request": the session rules of the console.
//!
//! The session (tower-sessions, stored in SQLite) holds the user id, the sign-in time and the
//! user's credentials version. A session ends when it is idle for too long (the store's
//! expiry), when it is older than the absolute limit, when the user is disabled, or when the
//! user's password changes (the version no longer matches).

use super::audit::{self, Actor, Outcome};
use super::client_addr::ClientAddr;
use super::page_reads::PageReads;
use super::shell_reads;
use super::{store, store::users::UserRow, AppState, ServerError};
use crate::domain::account::Username;
use crate::domain::{password, throttle};
use crate::wire::error::AppError;
use tower_sessions::Session;

const USER_ID: &str = "user_id";
const SIGNED_IN_AT: &str = "signed_in_at";
const CREDENTIALS_VERSION: &str = "credentials_version";
const TOUCHED_AT: &str = "touched_at";

const WRONG_CREDENTIALS: &str = "Wrong user name or password.";

/// The signed-in user of `session`, or `None` (ending the session if it is no longer valid).
/// Read once per page render ([`PageReads`]).
pub async fn session_user(
    state: &AppState,
    session: &Session,
) -> Result<Option<UserRow>, ServerError> {
    session_user_in(state, session, PageReads::of_render().as_ref()).await
}

/// [`session_user`], shared with the page render's other reads when `reads` is given.
pub async fn session_user_in(
    state: &AppState,
    session: &Session,
    reads: Option<&PageReads>,
) -> Result<Option<UserRow>, ServerError> {
    match reads {
        Some(reads) => {
            reads
                .user(|| read_session_user(state, session, Some(reads)))
                .await
        }
        None => read_session_user(state, session, None).await,
    }
}

async fn read_session_user(
    state: &AppState,
    session: &Session,
    reads: Option<&PageReads>,
) -> Result<Option<UserRow>, ServerError> {
    let Some(user_id) = session.get::<i64>(USER_ID).await? else {
        return Ok(None);
    };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
    let version = session.get::<i64>(CREDENTIALS_VERSION).await?.unwrap_or(0);
    let too_old = state.clock.unix() - signed_in_at >= state.config.session_absolute_hours * 3600;
    let user = shell_reads::user(state, reads, user_id).await?;
    match user {
        Some(user)
            if !too_old && user.disabled_at.is_none() && user.credentials_version == version =>
        {
            // The store's idle expiry moves only when the session is saved, which tower-sessions
            // does when it changed: note the activity, at most once a minute, so that a session
            // in use lives on without a write on every read.
            let now = state.clock.unix();
            let touched = session
                .get::<i64>(TOUCHED_AT)
                .await?
                .unwrap_or(signed_in_at);
            if now - touched >= 60 {
                session.insert(TOUCHED_AT, now).await?;
            }
            Ok(Some(user))
        }
        _ => {
            session.flush().await?;
            Ok(None)
        }
    }
}

/// The current request's session, from the leptos server-function context.
pub async fn request_session() -> Result<Session, ServerError> {
    with_request(|parts| parts.extensions.get::<Session>().cloned())
        .flatten()
        .ok_or_else(|| ServerError::invariant("no session layer"))
}

/// The client address of the current request.
pub async fn request_addr() -> String {
    with_request(|parts| addr_of(&parts.extensions)).unwrap_or_else(|| "unknown".into())
}

/// The client's address as the rules see it ([`ClientAddr`]: canonical, and behind a trusted
/// proxy the address it forwarded for).
fn addr_of(extensions: &http::Extensions) -> String {
    if extensions.get::<ClientAddr>().is_none()
        && extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_none()
    {
        return "unknown".into();
    }
    ClientAddr::of(extensions).to_string()
}

/// Reads the current request (of a server function, or of the page rendering one) in place.
/// leptos' `use_context` and `extract` clone it, headers and every extension, and a page
/// render asked for it several times.
pub fn with_request<R>(read: impl FnOnce(&http::request::Parts) -> R) -> Option<R> {
    leptos::prelude::with_context::<http::request::Parts, _>(read)
}

pub fn state() -> Result<AppState, ServerError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| ServerError::invariant("application state missing"))
}

/// The request's tracing span (method, path, and the user once known), kept in the request's
/// extensions by [`keep_request_span`].
#[derive(Debug, Clone)]
pub struct RequestSpan(pub tracing::Span);

/// Middleware inside the trace layer: puts the request's span into its extensions.
pub async fn keep_request_span(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    req.extensions_mut()
        .insert(RequestSpan(tracing::Span::current()));
    next.run(req).await
}

/// The path and client address of a request: what an audited refusal of access records.
#[derive(Debug, Clone)]
pub struct Caller {
    pub path: String,
    pub addr: String,
    /// The request's span, when the request went through the router's layers.
    pub span: Option<tracing::Span>,
}

impl Caller {
    /// From a request's URI and extensions (the client address is axum's `ConnectInfo`).
    pub fn of(uri: &http::Uri, extensions: &http::Extensions) -> Caller {
        // Inside a nested router (the REST API under /api/v1) `uri` has lost its prefix; the
        // path as requested is what a refusal must name.
        let path = extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| uri.path().to_string(), |o| o.0.path().to_string());
        Caller {
            path,
            addr: addr_of(extensions),
            span: extensions.get::<RequestSpan>().map(|s| s.0.clone()),
        }
    }

    /// The current request of a server function (or of a page rendering one).
    pub async fn of_request() -> Caller {
        with_request(|parts| Caller {
            path: parts.uri.path().to_string(),
            addr: addr_of(&parts.extensions),
            span: parts.extensions.get::<RequestSpan>().map(|s| s.0.clone()),
        })
        .unwrap_or_else(|| Caller {
            path: String::new(),
            addr: "unknown".into(),
            span: None,
        })
    }
}

/// An extractor, for plain axum handlers.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller::of(&parts.uri, &parts.extensions))
    }
}

/// The user name of the session, read only (no validity rules applied, nothing ended): who a
/// refusal was made to, when it is cheap to know.
pub async fn session_username(state: &AppState, session: &Session) -> Option<String> {
    let user_id = session.get::<i64>(USER_ID).await.ok()??;
    store::users::by_id(&state.pool, user_id)
        .await
        .ok()?
        .map(|u| u.username)
}

/// Signs in: throttle, verify, cycle the session id, record. Every outcome is audited.
pub async fn login(
    state: &AppState,
    session: &Session,
    client_addr: &str,
    username: &str,
    password_input: String,
) -> Result<UserRow, ServerError> {
    let username = username.trim().to_lowercase();
    if username.is_empty() {
        return Err(AppError::invalid("username", "Enter your user name.").into());
    }
    // The account rule at the door: a name no account can have is refused before anything is
    // written (a 60,000-character name, or a spreadsheet formula, never reaches the audit log).
    let username = match Username::parse(&username) {
        Ok(name) => name.as_str().to_string(),
        Err(rule) => return Err(AppError::invalid("username", rule.to_string()).into()),
    };
    if password_input.is_empty() {
        return Err(AppError::invalid("password", "Enter your password.").into());
    }
    if password_input.chars().count() > password::MAX_CHARS {
        // Bounds the hashing work; no password this long can have been set.
        return Err(AppError::invalid("password", WRONG_CREDENTIALS).into());
    }
    let actor = Actor {
        name: username.clone(),
        addr: client_addr.to_string(),
    };
    if let Some(error) = throttled(state, "login", &actor, "Too many failed sign-ins").await? {
        // Audited once a minute per name and address (the rule for every 429): one entry
        // per attempt would turn a flood into a stream of serialised writes.
        audit::refusal(state, &actor, "login", None, &error).await;
        return Err(error);
    }

    let user = store::users::by_username(&state.pool, &username).await?;
    // Unknown names verify against a dummy hash: same work, same time as a wrong password.
    let verified = state
        .hasher
        .verify(
            password_input,
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            audit::record(
                state,
                &actor,
                "login",
                None,
                Outcome::Failure,
                Some("wrong user name or password"),
            )
            .await?;
            return Err(AppError::invalid("password", WRONG_CREDENTIALS).into());
        }
    };
    if user.disabled_at.is_some() {
        let error = ServerError::App(AppError::Forbidden(
            "This account is disabled; ask an administrator.".into(),
        ));
        audit::refusal(state, &actor, "login", None, &error).await;
        return Err(error);
    }

    // A new id at every sign-in: a session id planted before sign-in is worthless after it.
    let now = state.clock.unix();
    session.cycle_id().await?;
    session.insert(USER_ID, user.id).await?;
    session.insert(SIGNED_IN_AT, now).await?;
    session
        .insert(CREDENTIALS_VERSION, user.credentials_version)
        .await?;
    // The sign-in time and its audit entry: one transaction.
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    store::users::record_login(&mut tx, user.id, now).await?;
    audit::record_in(
        &mut tx,
        state,
        &actor,
        "login",
        None,
        Outcome::Success,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The throttle of guesses at a password (`domain::throttle`): failed `action`s by this name
/// from this address, and from this address whatever the name. A 429 when locked.
pub async fn throttled(
    state: &AppState,
    action: &str,
    actor: &Actor,
    what: &str,
) -> Result<Option<ServerError>, ServerError> {
    let now = state.clock.unix();
    let since = now - throttle::WINDOW_SECS;
    let by_user =
        store::audit::failures_of_user_from(&state.pool, action, &actor.name, &actor.addr, since)
            .await?;
    let by_addr = if action == "login" {
        store::audit::login_failures_from(&state.pool, &actor.addr, since).await?
    } else {
        Vec::new()
    };
    let verdict = throttle::stricter(
        throttle::check(&by_user, now),
        throttle::check_address(&by_addr, now),
    );
    let throttle::Throttle::LockedUntil(until) = verdict else {
        return Ok(None);
    };
    Ok(Some(ServerError::App(AppError::TooManyAttempts {
        message: format!(
            "{what} from your address. Try again in {} (at {} UTC).",
            minutes_text(until - now),
            hhmm(until)
        ),
        retry_at: until,
    })))
}

/// After the user's own password change: this session carries the new credentials version
/// and stays signed in; every other session of the user ends.
pub async fn keep_session_after_password_change(
    session: &Session,
    version: i64,
) -> Result<(), ServerError> {
    session.cycle_id().await?;
    session.insert(CREDENTIALS_VERSION, version).await?;
    Ok(())
}

/// Signs out: the session is deleted from the store, not just forgotten by the browser.
pub async fn logout(
    state: &AppState,
    session: &Session,
    client_addr: &str,
) -> Result<(), ServerError> {
    if let Some(user) = session_user(state, session).await? {
        let actor = Actor {
            name: user.username,
            addr: client_addr.to_string(),
        };
        audit::record(state, &actor, "logout", None, Outcome::Success, None).await?;
    }
    session.flush().await?;
    Ok(())
}

fn minutes_text(seconds: i64) -> String {
    let minutes = (seconds + 59) / 60;
    if minutes <= 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

fn hhmm(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:02}:{:02}", t.hour(), t.minute()))
        .unwrap_or_default()
}
