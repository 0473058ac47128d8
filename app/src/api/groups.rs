//! The consumer-groups section's server functions; its types are `crate::wire::groups`.

pub use crate::wire::groups::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "consumer_groups")]
pub async fn consumer_groups(id: i64) -> Result<GroupsPanel, AppError> {
    use crate::server::{auth, consumer_groups, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        consumer_groups::panel(&state, &who, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "consumer_group")]
pub async fn consumer_group(id: i64, group: String) -> Result<GroupDetail, AppError> {
    use crate::server::{auth, consumer_groups, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        consumer_groups::detail(&state, &who, id, &group).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "group_reset_preview")]
pub async fn preview_group_reset(
    id: i64,
    group: String,
    to: String,
    value: Option<String>,
    topic: Option<String>,
) -> Result<ResetView, AppError> {
    use crate::server::consumer_groups::{self, ResetForm};
    use crate::server::{auth, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let (value, topic) = (value.unwrap_or_default(), topic.unwrap_or_default());
        let form = ResetForm {
            group: &group,
            to: &to,
            value: &value,
            topic: &topic,
        };
        consumer_groups::preview(&state, &who, id, &form).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "group_reset")]
pub async fn reset_group(
    id: i64,
    group: String,
    to: String,
    value: Option<String>,
    topic: Option<String>,
) -> Result<ResetView, AppError> {
    use crate::server::consumer_groups::{self, ResetForm};
    use crate::server::{auth, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let (value, topic) = (value.unwrap_or_default(), topic.unwrap_or_default());
        let form = ResetForm {
            group: &group,
            to: &to,
            value: &value,
            topic: &topic,
        };
        consumer_groups::apply(&state, &who, id, &form).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "group_delete")]
pub async fn delete_group(id: i64, group: String, confirm: String) -> Result<(), AppError> {
    use crate::server::{auth, consumer_groups, error::respond};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        consumer_groups::delete(&state, &who, id, &group, Some(&confirm)).await
    })
    .await
}
