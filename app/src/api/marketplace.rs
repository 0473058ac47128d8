//! Marketplace billing's server functions; their types are `crate::wire::marketplace`.

pub use crate::wire::marketplace::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "marketplace")]
pub async fn marketplace() -> Result<MarketplaceData, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, marketplace};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        marketplace::view(&state, user.may(Role::Admin)).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_link")]
pub async fn link_marketplace(
    marketplace: String,
    listing: String,
    #[server(default)] subscription: String,
) -> Result<LinkView, AppError> {
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let request = service::LinkRequest {
            marketplace,
            listing,
            subscription,
        };
        service::link(&state, &who, request)
            .await
            .map(|link| service::link_view(&link))
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_unlink")]
pub async fn unlink_marketplace(confirm: String) -> Result<u64, AppError> {
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        if confirm.trim() != "unlink" {
            return Err(AppError::invalid("confirm", "type unlink to confirm").into());
        }
        service::unlink(&state, &who).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "marketplace_check")]
pub async fn check_marketplace() -> Result<String, AppError> {
    use crate::domain::marketplace::Entitlement;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        Ok(match service::recheck(&state, &who).await? {
            Entitlement::Entitled => "The subscription is in force.".to_string(),
            Entitlement::Renewed { .. } => "The check passed: growth is allowed again. AWS's check proves the permission only; the next hourly report confirms the subscription.".to_string(),
            Entitlement::Ended { .. } => {
                "The marketplace still says the subscription has ended.".to_string()
            }
        })
    })
    .await
}

/// `decision`: `retry` (a rejected report), `billed` or `resend` (a report whose outcome is
/// unknown).
#[server(prefix = "/api", endpoint = "marketplace_report")]
pub async fn decide_report(id: i64, decision: String) -> Result<(), AppError> {
    use crate::domain::marketplace::AdminDecision;
    use crate::server::{auth, error::respond, marketplace as service};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        let decision = match decision.trim() {
            "retry" => AdminDecision::Retry,
            "billed" => AdminDecision::SeenBilled,
            "resend" => AdminDecision::SendAgain,
            _ => {
                return Err(AppError::invalid("decision", "choose retry, billed or resend").into())
            }
        };
        service::decide(&state, &who, id, decision).await
    })
    .await
}
