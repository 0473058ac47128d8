//! The overview page's data; its types are `crate::wire::overview`.

pub use crate::wire::overview::{AuditLine, OverviewData};

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "overview")]
pub async fn overview() -> Result<OverviewData, AppError> {
    use crate::server::{auth, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        crate::server::overview::overview(&state, &who).await
    })
    .await
}
