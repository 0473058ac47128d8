//! Users (admins only) and the signed-in user's own account.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin};
use leptos::prelude::*;

pub use crate::wire::users::*;

#[server(prefix = "/api", endpoint = "users")]
pub async fn list_users(
    #[server(default)] q: Option<String>,
    #[server(default)] cursor: Option<String>,
) -> Result<UsersData, AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        users::list(&state, &who, q.as_deref(), cursor.as_deref()).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "user_create")]
pub async fn create_user(
    username: String,
    role: String,
    password: String,
    password_confirm: String,
) -> Result<i64, AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let id = users::create(&state, &who, &username, &role, password, &password_confirm).await?;
        leptos_axum::redirect("/users?created=1");
        Ok(id)
    })
    .await
}

#[server(prefix = "/api", endpoint = "user_role")]
pub async fn set_user_role(id: i64, role: String) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        users::set_role(&state, &who, id, &role).await?;
        leptos_axum::redirect("/users");
        Ok(())
    })
    .await
}

/// `disabled`: "true" disables, "false" enables.
#[server(prefix = "/api", endpoint = "user_disable")]
pub async fn set_user_disabled(id: i64, disabled: bool) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        users::set_disabled(&state, &who, id, disabled).await?;
        leptos_axum::redirect("/users");
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "user_reset_password")]
pub async fn reset_user_password(
    id: i64,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        users::reset_password(&state, &who, id, password, &password_confirm).await?;
        leptos_axum::redirect("/users?reset=1");
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "account")]
pub async fn account() -> Result<AccountData, AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require_signed_in(&state).await?;
        Ok(users::account(&who))
    })
    .await
}

/// The signed-in user's own password. This session stays; every other one of the user ends.
#[server(prefix = "/api", endpoint = "password_change")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, users};
    respond(async move {
        let state = auth::state()?;
        let who = access::require_signed_in(&state).await?;
        let version = users::change_own_password(
            &state,
            &who,
            current_password,
            new_password,
            &new_password_confirm,
        )
        .await?;
        let session = auth::request_session().await?;
        auth::keep_session_after_password_change(&session, version).await?;
        leptos_axum::redirect("/account?changed=1");
        Ok(())
    })
    .await
}
