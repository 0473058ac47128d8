//! Service accounts (admins only): the page's list and changes. The types are
//! `crate::wire::service_accounts`; the service `crate::server::service_accounts`.

pub use crate::wire::service_accounts::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "service_accounts")]
pub async fn list_service_accounts() -> Result<Vec<ServiceAccountLine>, AppError> {
    use crate::server::{auth, error::respond, service_accounts};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        service_accounts::list(&state, &who).await
    })
    .await
}

/// Answers the token, once (the page shows it; only its hash is kept).
#[server(prefix = "/api", endpoint = "service_account_create")]
pub async fn create_service_account(
    name: String,
    role: String,
    #[server(default)] expires: String,
) -> Result<NewToken, AppError> {
    use crate::server::{auth, error::respond, service_accounts};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        service_accounts::create(&state, &who, &name, &role, &expires).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "service_account_rotate")]
pub async fn rotate_service_account(id: i64) -> Result<NewToken, AppError> {
    use crate::server::{auth, error::respond, service_accounts};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        service_accounts::rotate(&state, &who, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "service_account_revoke")]
pub async fn revoke_service_account(id: i64) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, service_accounts};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        service_accounts::revoke(&state, &who, id).await?;
        leptos_axum::redirect("/service-accounts?revoked=1");
        Ok(())
    })
    .await
}
