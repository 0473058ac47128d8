//! Activation and the license: what the pages show, previewing and applying product keys. The
//! types are `crate::wire::license`; the services `crate::server::license`.

pub use crate::wire::license::*;

use super::error::AppError;
use crate::domain::license::KeyChange;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "activation")]
pub async fn activation_info() -> Result<ActivationView, AppError> {
    use crate::server::{auth, error::respond, license::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        view::activation(&state, &who).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "license")]
pub async fn license_view() -> Result<LicenseData, AppError> {
    use crate::server::{auth, error::respond, license::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        view::page(&state, &who).await
    })
    .await
}

/// What applying `key` would change. Admins only; changes nothing.
#[server(prefix = "/api", endpoint = "license_preview")]
pub async fn preview_key(key: String) -> Result<KeyPreview, AppError> {
    use crate::server::{auth, error::respond, license::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        view::preview(&state, &who, &key).await
    })
    .await
}

/// Applies `key` (activation, renewal, upgrade). Admins only. Redirects to the license page.
#[server(prefix = "/api", endpoint = "license_apply")]
pub async fn apply_key(key: String) -> Result<KeyChange, AppError> {
    use crate::server::{auth, error::respond, license::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let change = view::apply(&state, &who, &key).await?;
        leptos_axum::redirect("/license?applied=1");
        Ok(change)
    })
    .await
}
