//! Setup, sign-in, sign-out and the current session.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::server::{auth, error::respond, setup};

/// Who is signed in, for the shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub username: String,
    pub role: crate::domain::account::Role,
    pub environment_name: String,
    pub license: super::license::LicenseBanner,
    /// A temporary password must be changed before anything else.
    pub must_change_password: bool,
}

/// First-run setup. Redirects to the sign-in page when done.
#[server(prefix = "/api", endpoint = "setup")]
pub async fn setup(
    username: String,
    password: String,
    password_confirm: String,
    environment_name: String,
    cloud_provider: String,
    region: String,
) -> Result<(), AppError> {
    respond(async move {
        let state = auth::state()?;
        let addr = auth::request_addr().await;
        let form = setup::SetupForm {
            username,
            password,
            password_confirm,
            environment_name,
            cloud_provider,
            region,
        };
        let admin = setup::complete(&state, &addr, form).await?;
        leptos_axum::redirect(&format!("/login?setup=done&username={admin}"));
        Ok(())
    })
    .await
}

/// Signs in. Redirects to the overview when done.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), AppError> {
    respond(async move {
        let state = auth::state()?;
        let session = auth::request_session().await?;
        let addr = auth::request_addr().await;
        auth::login(&state, &session, &addr, &username, password).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

/// Signs out (the session is deleted on the server). Redirects to the sign-in page.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    respond(async move {
        let state = auth::state()?;
        let session = auth::request_session().await?;
        let addr = auth::request_addr().await;
        auth::logout(&state, &session, &addr).await?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in user, or 401.
#[server(prefix = "/api", endpoint = "session")]
pub async fn current_session() -> Result<SessionInfo, AppError> {
    respond(async move {
        let state = auth::state()?;
        let user = access::require_signed_in(&state).await?;
        let environment_name = crate::server::store::environment::get(&state.pool)
            .await?
            .map(|e| e.display_name)
            .unwrap_or_default();
        let now = crate::server::license::now(&state).await?;
        let mut license = super::license::banner(&now);
        let billing = now.current.as_ref().map(|c| c.payload.billing);
        license.subscription = crate::server::marketplace::view::hold(&state, billing).await?;
        Ok(SessionInfo {
            must_change_password: user.user().must_change_password,
            role: user.user().role(),
            username: user.user().username.clone(),
            environment_name,
            license,
        })
    })
    .await
}
