//! User management (admins) and the user's own password. Every change writes its audit entry
//! in the change's transaction (both commit, or neither); the last active admin can be neither
//! disabled nor demoted (checked and written in one `BEGIN IMMEDIATE` transaction, so two
//! admins demoting each other cannot both succeed).

use super::access::{Admin, Authorized, SignedIn};
use super::audit::{self, Outcome};
use super::paging::Keyset;
use super::password_hash::is_common_password;
use super::{auth, store, store::users::UserRow, AppState, ServerError};
use crate::domain::account::{self, Role, Username};
use crate::domain::password;
use crate::wire::error::AppError;
use crate::wire::users::{AccountData, UserLine, UsersData};

fn role_of(input: &str) -> Result<Role, ServerError> {
    Role::parse(input.trim()).ok_or_else(|| {
        AppError::invalid("role", "Choose a role: admin, operator or viewer.").into()
    })
}

/// The password rules of setup: length, confirmation, not common (nor the user's name).
fn check_new_password(
    username: &str,
    password_input: &str,
    confirm: &str,
    field: &str,
) -> Result<(), ServerError> {
    password::check_length(password_input).map_err(|e| AppError::invalid(field, e))?;
    password::check_confirmation(password_input, confirm)
        .map_err(|e| AppError::invalid(&format!("{field}_confirm"), e))?;
    if is_common_password(password_input, &[username]) {
        return Err(AppError::invalid(field, password::PasswordError::Common).into());
    }
    Ok(())
}

/// Creates a user with an initial password they must change at first sign-in.
pub async fn create(
    state: &AppState,
    who: &Authorized<Admin>,
    username: &str,
    role: &str,
    initial_password: String,
    confirm: &str,
) -> Result<i64, ServerError> {
    let actor = who.actor();
    let username = Username::parse(username).map_err(|e| AppError::invalid("username", e))?;
    let role = role_of(role)?;
    check_new_password(username.as_str(), &initial_password, confirm, "password")?;
    let hash = state.hasher.hash(initial_password).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let id = store::users::insert(&mut tx, username.as_str(), &hash, role, state.clock.unix())
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "username",
                format!("A user named {username} exists already."),
            )
        })?;
    let detail = format!("role {role}; must change the password at first sign-in");
    audit::record_in(
        &mut tx,
        state,
        actor,
        "user_create",
        Some(username.as_str()),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn target(conn: &mut sqlx::SqliteConnection, id: i64) -> Result<UserRow, ServerError> {
    Ok(store::users::by_id_on(conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no user {id}.")))?)
}

fn is_active_admin(user: &UserRow) -> bool {
    user.role() == Role::Admin && user.disabled_at.is_none()
}

pub async fn set_role(
    state: &AppState,
    who: &Authorized<Admin>,
    id: i64,
    role: &str,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let role = role_of(role)?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let user = target(&mut tx, id).await?;
    if user.role() == role {
        return Err(
            AppError::invalid("role", format!("{} is already {role}.", user.username)).into(),
        );
    }
    let admins = store::users::active_admins(&mut tx).await?;
    account::keeps_an_admin(admins, is_active_admin(&user), role != Role::Admin)
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    store::users::set_role(&mut tx, id, role).await?;
    let detail = format!("{} -> {role}", user.role());
    audit::record_in(
        &mut tx,
        state,
        actor,
        "user_role",
        Some(&user.username),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables (every session of the user ends at its next request) or enables a user.
pub async fn set_disabled(
    state: &AppState,
    who: &Authorized<Admin>,
    id: i64,
    disable: bool,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let user = target(&mut tx, id).await?;
    if user.disabled_at.is_some() == disable {
        let already = if disable { "disabled" } else { "enabled" };
        return Err(AppError::Conflict(format!("{} is already {already}.", user.username)).into());
    }
    if disable {
        let admins = store::users::active_admins(&mut tx).await?;
        account::keeps_an_admin(admins, is_active_admin(&user), true)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
    }
    let now = state.clock.unix();
    store::users::set_disabled(&mut tx, id, disable.then_some(now)).await?;
    let action = if disable {
        "user_disable"
    } else {
        "user_enable"
    };
    audit::record_in(
        &mut tx,
        state,
        actor,
        action,
        Some(&user.username),
        Outcome::Success,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An admin sets a temporary password: the user's sessions end and the user must choose a
/// new password at the next sign-in.
pub async fn reset_password(
    state: &AppState,
    who: &Authorized<Admin>,
    id: i64,
    temporary: String,
    confirm: &str,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let mut conn = state.pool.acquire().await?;
    let user = target(&mut conn, id).await?;
    drop(conn);
    check_new_password(&user.username, &temporary, confirm, "password")?;
    let hash = state.hasher.hash(temporary).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    store::users::set_password(&mut tx, id, &hash, true).await?;
    audit::record_in(
        &mut tx,
        state,
        actor,
        "user_password_reset",
        Some(&user.username),
        Outcome::Success,
        Some("temporary password; sessions ended; failed sign-ins forgotten"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user's own change: the current password is required. Returns the new credentials
/// version (the caller keeps its own session on it; every other session ends).
pub async fn change_own_password(
    state: &AppState,
    who: &SignedIn,
    current: String,
    new_password: String,
    confirm: &str,
) -> Result<i64, ServerError> {
    let (actor, user) = (who.actor(), who.user());
    if current.is_empty() {
        return Err(AppError::invalid("current_password", "Enter your current password.").into());
    }
    // Guesses at the current password meet the sign-in throttle: a stolen session cookie is
    // no way around it. The same rule, keyed on this user and address.
    if let Some(error) = auth::throttled(
        state,
        "password_change",
        actor,
        "Too many wrong current passwords",
    )
    .await?
    {
        audit::refusal(
            state,
            actor,
            "password_change",
            Some(&user.username),
            &error,
        )
        .await;
        return Err(error);
    }
    let verified = current.chars().count() <= password::MAX_CHARS
        && state
            .hasher
            .verify(current.clone(), Some(user.password_hash.clone()))
            .await?;
    if !verified {
        audit::record(
            state,
            actor,
            "password_change",
            Some(&user.username),
            Outcome::Failure,
            Some("wrong current password"),
        )
        .await?;
        return Err(AppError::invalid("current_password", "The current password is wrong.").into());
    }
    check_new_password(&user.username, &new_password, confirm, "new_password")?;
    if new_password == current {
        return Err(AppError::invalid(
            "new_password",
            "Choose a password different from the current one.",
        )
        .into());
    }
    let hash = state.hasher.hash(new_password).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let version = store::users::set_password(&mut tx, user.id, &hash, false).await?;
    audit::record_in(
        &mut tx,
        state,
        actor,
        "password_change",
        Some(&user.username),
        Outcome::Success,
        Some("other sessions ended"),
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Users a page of the list shows.
pub const USERS_PER_PAGE: u32 = 50;
/// The users list's cursor (admins first, then by name).
const USERS: Keyset = Keyset {
    letter: 'u',
    field: "cursor",
};

/// A page of users with role, status and last sign-in (admins first, then by name; those
/// after `cursor`, whose name contains `name`), and the admin asking.
pub async fn list(
    state: &AppState,
    who: &Authorized<Admin>,
    name: Option<&str>,
    cursor: Option<&str>,
) -> Result<UsersData, ServerError> {
    let after = USERS.after(cursor)?;
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    // One more than asked: whether another page follows.
    let rows = store::users::page(&state.pool, name, after, i64::from(USERS_PER_PAGE) + 1)
        .await?
        .ok_or_else(|| USERS.not_ours(cursor.unwrap_or_default()))?;
    let (rows, next) = USERS.page(rows, USERS_PER_PAGE, |u| u.id);
    let users = rows
        .into_iter()
        .map(|u| UserLine {
            id: u.id,
            role: u.role(),
            username: u.username,
            disabled: u.disabled_at.is_some(),
            must_change_password: u.must_change_password,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        })
        .collect();
    Ok(UsersData {
        users,
        next,
        // 0 for a service account: no user of the list is "me".
        me: who.user().map_or(0, |u| u.id),
    })
}

/// The signed-in user's own account.
pub fn account(who: &SignedIn) -> AccountData {
    let user = who.user();
    AccountData {
        username: user.username.clone(),
        role: user.role(),
        must_change_password: user.must_change_password,
        last_login_at: user.last_login_at,
    }
}
