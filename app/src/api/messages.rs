//! The message browser's server functions; its types are `crate::wire::messages`.

pub use crate::wire::messages::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Admin, Operator, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "message_browsing")]
pub async fn message_browsing(id: i64) -> Result<BrowsingState, AppError> {
    use crate::server::{auth, error::respond, messages};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        messages::browsing(&state, &who, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "message_browsing_set")]
pub async fn set_message_browsing(id: i64, enabled: bool) -> Result<BrowsingState, AppError> {
    use crate::server::{auth, error::respond, messages};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Admin>(&state).await?;
        messages::set_browsing(&state, &who, id, enabled).await
    })
    .await
}

/// A page of a topic's messages; every field as the page's GET form gives it.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "topic_messages")]
pub async fn topic_messages(
    id: i64,
    topic: String,
    partition: Option<String>,
    from: Option<String>,
    at: Option<String>,
    limit: Option<String>,
    format: Option<String>,
    key: Option<String>,
    text: Option<String>,
) -> Result<MessagePage, AppError> {
    use crate::domain::message_browse::BrowseInput;
    use crate::server::{auth, error::respond, messages};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = BrowseInput {
            topic,
            partition: partition.unwrap_or_default(),
            from: from.unwrap_or_default(),
            at: at.unwrap_or_default(),
            limit: limit.unwrap_or_default(),
            format: format.unwrap_or_default(),
            key: key.unwrap_or_default(),
            text: text.unwrap_or_default(),
        };
        messages::read(&state, &who, id, &input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "test_message_write")]
pub async fn write_test_message(
    id: i64,
    topic: String,
    partition: Option<String>,
    key: Option<String>,
    value: Option<String>,
    headers: Option<String>,
) -> Result<Written, AppError> {
    use crate::domain::test_message::TestMessageInput;
    use crate::server::{auth, error::respond, messages};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = TestMessageInput {
            topic,
            partition: partition.unwrap_or_default(),
            key: key.unwrap_or_default(),
            value: value.unwrap_or_default(),
            headers: headers.unwrap_or_default(),
        };
        messages::write_test_message(&state, &who, id, &input).await
    })
    .await
}
