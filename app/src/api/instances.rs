//! Kafka instances: the list, the create form's context, the detail page, and the changes
//! (create, scale, delete, retry). Reads need a viewer; changes need an operator. The types
//! are `crate::wire::instances`; the services `crate::server::instances`.

// The create form's fields are the server function's arguments (the form posts them without
// JavaScript); the macro's browser half does not carry an allow on the function.
#![allow(clippy::too_many_arguments)]

pub use crate::wire::instances::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator, Viewer};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "instances")]
pub async fn list_instances(
    state_filter: Option<String>,
    #[server(default)] name: Option<String>,
    #[server(default)] cursor: Option<String>,
    #[server(default)] limit: Option<u32>,
) -> Result<InstanceList, AppError> {
    use crate::domain::instance::State;
    use crate::server::{auth, error::respond, instances::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        let filter = state_filter
            .filter(|s| !s.is_empty())
            .map(|s| {
                State::parse(&s).ok_or_else(|| {
                    AppError::invalid("state_filter", format!("There is no instance state {s:?}."))
                })
            })
            .transpose()?;
        let cursor = cursor.filter(|c| !c.is_empty());
        view::list(
            &state,
            &who,
            filter,
            name.as_deref(),
            cursor.as_deref(),
            limit,
        )
        .await
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_form")]
pub async fn instance_form_context() -> Result<NewInstanceContext, AppError> {
    use crate::server::{auth, error::respond, instances::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        view::form_context(&state, &who).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_create")]
pub async fn create_instance(
    name: String,
    description: String,
    kafka_version: String,
    deployment: String,
    vpc_id: String,
    subnet_1: String,
    #[server(default)] subnet_2: String,
    #[server(default)] subnet_3: String,
    data_bucket: String,
    wal_mode: String,
    client_auth: String,
    transit_encryption: String,
    endpoint_exposure: String,
    #[server(default)] tags: String,
    size_aku: String,
) -> Result<i64, AppError> {
    use crate::domain::instance_spec::InstanceInput;
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = InstanceInput {
            name,
            description,
            kafka_version,
            deployment,
            vpc_id,
            subnet_1,
            subnet_2,
            subnet_3,
            data_bucket,
            wal_mode,
            client_auth,
            transit_encryption,
            endpoint_exposure,
            tags,
            size_aku,
        };
        let id = instances::create(&state, &who, &input).await?.instance_id;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(id)
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance")]
pub async fn get_instance(
    id: i64,
    #[server(default)] operations_cursor: Option<String>,
) -> Result<InstanceDetail, AppError> {
    use crate::server::{auth, error::respond, instances::view};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        view::detail(&state, &who, id, operations_cursor.as_deref()).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_scale")]
pub async fn scale_instance(id: i64, size_aku: String) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::scale(&state, &who, id, &size_aku).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_delete")]
pub async fn delete_instance(id: i64, confirm_name: String) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::delete(&state, &who, id, Some(&confirm_name)).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_retry")]
pub async fn retry_instance(id: i64) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::retry(&state, &who, id).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}
