//! The usage page's server function; its types are `crate::wire::usage`.

pub use crate::wire::usage::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "usage")]
pub async fn usage(
    #[server(default)] month: String,
    #[server(default)] rows_after: String,
) -> Result<UsageData, AppError> {
    use crate::domain::account::Role;
    use crate::server::{auth, error::respond, usage};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        usage::month_view(&state, &month, Some(&rows_after), user.may(Role::Admin)).await
    })
    .await
}
