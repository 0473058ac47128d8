//! Setup, sign-in, sign-out and the current session.

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access;
use leptos::prelude::*;

pub use crate::wire::overview::SessionInfo;

#[cfg(feature = "ssr")]
use crate::server::{auth, error::respond, setup};

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
        let signed_in = auth::login(&state, &session, &addr, &username, password).await;
        if signed_in.is_err() {
            crate::server::metrics::sign_in_failed();
        }
        signed_in?;
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
        let who = access::require_signed_in(&state).await?;
        crate::server::overview::session(&state, &who).await
    })
    .await
}
