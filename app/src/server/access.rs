//! Authorisation by type. A service that needs a role takes `&Authorized<Operator>` (or
//! `Viewer`, `Admin`); the only ways to get one are the checks in this module, which read the
//! session, apply the access rule and audit a refusal. The fields are private, so a service
//! cannot be called without the check:
//!
//! ```compile_fail,E0451
//! use app::server::access::{Authorized, Operator, Principal};
//! fn forge(principal: Principal, actor: app::server::audit::Actor) {
//!     let _ = Authorized::<Operator> { principal, actor, level: std::marker::PhantomData };
//! }
//! ```
//!
//! A viewer's proof does not open an operator's service:
//!
//! ```compile_fail,E0308
//! use app::server::{access::{Authorized, Viewer}, instances, AppState};
//! async fn as_viewer(state: &AppState, who: &Authorized<Viewer>) {
//!     let _ = instances::retry(state, who, 1).await;
//! }
//! ```
//!
//! while the same call with an operator's proof compiles, so the refusal above is the role's:
//!
//! ```no_run
//! use app::server::{access::{Authorized, Operator}, instances, AppState};
//! async fn as_operator(state: &AppState, who: &Authorized<Operator>) {
//!     let _ = instances::retry(state, who, 1).await;
//! }
//! ```
//!
//! A higher role's proof narrows to a lower one ([`Authorized::narrow`]); never the reverse:
//!
//! ```compile_fail,E0277
//! use app::server::access::{Admin, Authorized, Operator};
//! fn widen(who: &Authorized<Operator>) -> Authorized<Admin> {
//!     who.narrow::<Admin>()
//! }
//! ```

use super::audit::{self, Actor};
use super::auth::{self, Caller};
use super::store::{self, service_accounts::ServiceAccountRow, users::UserRow};
use super::{AppState, ServerError};
use crate::domain::account::Role;
use crate::domain::digest::sha256_hex;
use crate::domain::service_account::{use_due, Status, Token};
use crate::wire::error::AppError;
use std::marker::PhantomData;
use tower_sessions::Session;

/// A role as a type: what an [`Authorized`] proves.
pub trait Level {
    const ROLE: Role;
}

/// Reads: every signed-in user whose password is their own.
pub enum Viewer {}
/// Changes to instances and their Kafka settings.
pub enum Operator {}
/// The license, users, the audit log and the marketplace link.
pub enum Admin {}

impl Level for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl Level for Operator {
    const ROLE: Role = Role::Operator;
}
impl Level for Admin {
    const ROLE: Role = Role::Admin;
}

/// `Self` includes everything `L` may do.
pub trait Covers<L: Level>: Level {}
impl<L: Level> Covers<Viewer> for L {}
impl Covers<Operator> for Operator {}
impl Covers<Operator> for Admin {}
impl Covers<Admin> for Admin {}

/// Who a request acts for: a person signed in to the pages, or a service account of the REST
/// API (bearer token).
#[derive(Debug, Clone)]
pub enum Principal {
    User(UserRow),
    ServiceAccount(ServiceAccountRow),
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::User(user) => user.role(),
            Principal::ServiceAccount(account) => account.role(),
        }
    }
}

/// Proof that the request's principal holds at least the role `L`, with the audit actor
/// (their name and the client's address) that services record.
#[derive(Debug, Clone)]
pub struct Authorized<L: Level> {
    principal: Principal,
    actor: Actor,
    level: PhantomData<L>,
}

impl<L: Level> Authorized<L> {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The signed-in user, when a person (not a service account) acts.
    pub fn user(&self) -> Option<&UserRow> {
        match &self.principal {
            Principal::User(user) => Some(user),
            Principal::ServiceAccount(_) => None,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Whether the principal's own role (which may be above `L`) allows `role`: what the
    /// pages offer them, not what this proof opens.
    pub fn may(&self, role: Role) -> bool {
        self.principal.role().allows(role)
    }

    /// The same proof for a lower role (an admin calling an operator's service).
    pub fn narrow<M: Level>(&self) -> Authorized<M>
    where
        L: Covers<M>,
    {
        Authorized {
            principal: self.principal.clone(),
            actor: self.actor.clone(),
            level: PhantomData,
        }
    }
}

/// Proof that the request has a signed-in user, who may still have to change a temporary
/// password: enough for the session, signing out and changing one's own password.
#[derive(Debug, Clone)]
pub struct SignedIn {
    user: UserRow,
    actor: Actor,
}

impl SignedIn {
    pub fn user(&self) -> &UserRow {
        &self.user
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// The access rule: the user of the session when they may go on, else who was refused (the
/// user name, or `anonymous`) and the refusal. `role`: None for "any signed-in user, also one
/// who must change their password first".
async fn rule(
    state: &AppState,
    session: &Session,
    role: Option<Role>,
) -> Result<Result<UserRow, (String, AppError)>, ServerError> {
    let Some(user) = auth::session_user(state, session).await? else {
        return Ok(Err(("anonymous".into(), AppError::Unauthenticated)));
    };
    let Some(role) = role else {
        return Ok(Ok(user));
    };
    if user.must_change_password {
        return Ok(Err((
            user.username,
            AppError::Forbidden(
                "Choose a new password first: your password was set by an administrator. Go to Account."
                    .into(),
            ),
        )));
    }
    if !user.role().allows(role) {
        let message = format!(
            "This needs the {role} role; you are signed in as {} ({}).",
            user.username,
            user.role()
        );
        return Ok(Err((user.username, AppError::Forbidden(message))));
    }
    Ok(Ok(user))
}

/// Audits a refusal of access (the rule: [`audit::audited_refusal`]) and returns it.
async fn refuse(state: &AppState, caller: &Caller, who: String, error: AppError) -> ServerError {
    let error = ServerError::App(error);
    let actor = Actor {
        name: who,
        addr: caller.addr.clone(),
    };
    audit::refusal(state, &actor, "access", Some(&caller.path), &error).await;
    error
}

/// The rule applied to `session`, a refusal audited with `caller`.
async fn check(
    state: &AppState,
    session: &Session,
    role: Option<Role>,
    caller: &Caller,
) -> Result<(UserRow, Actor), ServerError> {
    match rule(state, session, role).await? {
        Ok(user) => {
            // The request's span (src/lib.rs) names the user from here on: an error's log
            // line then says whose request failed.
            if let Some(span) = &caller.span {
                span.record("user", tracing::field::display(&user.username));
            }
            let actor = Actor {
                name: user.username.clone(),
                addr: caller.addr.clone(),
            };
            Ok((user, actor))
        }
        Err((who, error)) => Err(refuse(state, caller, who, error).await),
    }
}

/// The current server-function request's user with at least the role `L`: 401 without a
/// session, 403 with too small a role or while a temporary password (set by an administrator)
/// has not been changed. Refusals are audited (action `access`, the path as target).
pub async fn require<L: Level>(state: &AppState) -> Result<Authorized<L>, ServerError> {
    let session = auth::request_session().await?;
    require_in(state, &session, &Caller::of_request().await).await
}

/// [`require`] for a plain axum handler that has the session and the caller at hand (the
/// downloads).
pub async fn require_in<L: Level>(
    state: &AppState,
    session: &Session,
    caller: &Caller,
) -> Result<Authorized<L>, ServerError> {
    let (user, actor) = check(state, session, Some(L::ROLE), caller).await?;
    Ok(Authorized {
        principal: Principal::User(user),
        actor,
        level: PhantomData,
    })
}

/// The REST API's check: the service account of the request's bearer token, with at least the
/// role `L`. 401 without a valid token (unknown, wrong secret, revoked, expired), 403 with too
/// small a role; refusals are audited like the pages'. A use is written down at most once a
/// minute per account (when and from where), not on every request.
pub async fn require_bearer<L: Level>(
    state: &AppState,
    authorization: Option<&str>,
    caller: &Caller,
) -> Result<Authorized<L>, ServerError> {
    let now = state.clock.unix();
    let token = authorization.and_then(Token::from_header);
    let account = match &token {
        Some(token) => {
            let mut conn = state.pool.acquire().await?;
            store::service_accounts::by_id(&mut conn, token.account_id)
                .await?
                .filter(|row| secret_matches(&token.secret, &row.secret_sha256))
        }
        None => None,
    };
    let Some(account) = account else {
        let error = AppError::Unauthenticated;
        return Err(refuse(state, caller, "anonymous".into(), error).await);
    };
    let who = service_actor(&account.name);
    match Status::of(account.expires_at, account.revoked_at, now) {
        Status::Active => {}
        Status::Expired | Status::Revoked => {
            return Err(refuse(state, caller, who, AppError::Unauthenticated).await);
        }
    }
    if let Some(seconds) = state.api_limits.as_ref().and_then(|l| l.wait(account.id)) {
        let error = AppError::TooManyAttempts {
            message: format!(
                "Too many requests for service account {}: try again in {seconds} s.",
                account.name
            ),
            retry_at: now + seconds as i64,
        };
        return Err(refuse(state, caller, who, error).await);
    }
    if !account.role().allows(L::ROLE) {
        let message = format!(
            "This needs the {} role; service account {} is {}.",
            L::ROLE,
            account.name,
            account.role()
        );
        return Err(refuse(state, caller, who, AppError::Forbidden(message)).await);
    }
    if use_due(account.last_used_at, now) {
        store::service_accounts::note_use(&state.pool, account.id, now, &caller.addr).await?;
    }
    if let Some(span) = &caller.span {
        span.record("user", tracing::field::display(&who));
    }
    Ok(Authorized {
        actor: Actor {
            name: who,
            addr: caller.addr.clone(),
        },
        principal: Principal::ServiceAccount(account),
        level: PhantomData,
    })
}

/// How a service account appears in the audit log.
pub fn service_actor(name: &str) -> String {
    format!("{name} (service account)")
}

/// Compared in constant time, so that the answer's timing says nothing about the stored hash.
fn secret_matches(secret: &str, stored_sha256: &str) -> bool {
    use subtle::ConstantTimeEq;
    sha256_hex(secret.as_bytes())
        .as_bytes()
        .ct_eq(stored_sha256.as_bytes())
        .into()
}

/// The signed-in user, whether or not they must change their password first: 401 without a
/// session (audited).
pub async fn require_signed_in(state: &AppState) -> Result<SignedIn, ServerError> {
    let session = auth::request_session().await?;
    let (user, actor) = check(state, &session, None, &Caller::of_request().await).await?;
    Ok(SignedIn { user, actor })
}
