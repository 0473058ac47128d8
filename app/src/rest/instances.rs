//! `/api/v1/instances` and `/api/v1/operations`: the same services, rules, roles and audit as
//! the pages, as JSON resources. Creates answer 201 with the instance and its location;
//! changes that run as operations answer 202 with the operation to poll.

use super::extract::{exact, whole, Bearer, JsonBody, PathOf, QueryOf};
use super::idempotency::{self, Claim};
use super::openapi::{IdempotencyKey, InstanceId, OperationAccepted};
use super::problem::{Problem, RestError};
use super::rules::{
    self, Cursor, DataBucket, InstanceDescription, InstanceName, InstancePageSize, InstanceSize,
    KafkaVersion, Subnets, Tags, VpcId,
};
use crate::domain::instance::State as InstanceState;
use crate::domain::instance_spec::{
    self, ClientAuth, Deployment, EndpointExposure, InstanceInput, TransitEncryption, WalMode,
};
use crate::domain::license::MAX_INSTANCE_AKU;
use crate::server::access::{Operator, Principal, Viewer};
use crate::server::instances::{self, view};
use crate::server::AppState;
use crate::wire::error::AppError;
use crate::wire::instances::{InstanceDetail, InstanceSummary, OperationDetail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only instances in this state.
    #[param(value_type = Option<InstanceState>)]
    pub state: Option<String>,
    /// Only instances whose name contains this (case-insensitive).
    pub name: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Cursor>)]
    pub cursor: Option<String>,
    /// At most this many.
    #[param(value_type = Option<InstancePageSize>)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstancePage {
    pub items: Vec<InstanceSummary>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of the instances that are not deleted, newest first, as the pages list them.
#[utoipa::path(get, operation_id = "list_instances", path = "/api/v1/instances", tag = "instances", params(ListQuery),
    responses((status = 200, description = "A page, and the cursor of the next", body = InstancePage),
        (status = 404, description = "The cursor is not one this console made, or its instance \
            is gone", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    QueryOf(query): QueryOf<ListQuery>,
) -> Result<Json<InstancePage>, RestError> {
    let filter = query
        .state
        .as_deref()
        .map(|s| {
            InstanceState::parse(s).ok_or_else(|| {
                AppError::invalid("state", format!("There is no instance state {s:?}."))
            })
        })
        .transpose()?;
    let page = view::page(
        &state,
        &who,
        filter,
        query.name.as_deref(),
        query.cursor.as_deref(),
        query.limit,
    )
    .await
    .map_err(|e| RestError::not_found_for(e, &["cursor"]))?;
    Ok(Json(InstancePage {
        items: page.items,
        next: page.next,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// The `operations_next` of the previous answer: its older operations (20 at a time).
    #[param(value_type = Option<Cursor>)]
    pub operations_cursor: Option<String>,
}

/// One instance with its settings, a page of its operations (newest first) and the latest
/// operation's steps.
#[utoipa::path(get, operation_id = "get_instance", path = "/api/v1/instances/{id}", tag = "instances", params(InstanceId, DetailQuery),
    responses((status = 200, description = "The instance", body = InstanceDetail)))]
pub async fn get(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
    QueryOf(query): QueryOf<DetailQuery>,
) -> Result<Json<InstanceDetail>, RestError> {
    let cursor = query.operations_cursor.as_deref();
    let detail = view::detail(&state, &who, id, cursor)
        .await
        .map_err(|e| RestError::not_found_for(e, &["operations_cursor"]))?;
    Ok(Json(detail))
}

/// A new instance, as the create form takes it (the same rules check it, and those that
/// tie fields together are stated under `allOf`).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstance {
    #[schema(value_type = InstanceName)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = InstanceDescription)]
    pub description: String,
    #[schema(value_type = KafkaVersion)]
    pub kafka_version: String,
    #[schema(value_type = Deployment)]
    pub deployment: String,
    #[schema(value_type = VpcId)]
    pub vpc_id: String,
    #[schema(value_type = Subnets)]
    pub subnets: Vec<String>,
    #[schema(value_type = DataBucket)]
    pub data_bucket: String,
    #[schema(value_type = WalMode)]
    pub wal_mode: String,
    #[schema(value_type = ClientAuth)]
    pub client_auth: String,
    #[schema(value_type = TransitEncryption)]
    pub transit_encryption: String,
    #[schema(value_type = EndpointExposure)]
    pub endpoint_exposure: String,
    #[serde(default)]
    #[schema(value_type = Tags)]
    pub tags: BTreeMap<String, String>,
    #[serde(deserialize_with = "whole")]
    #[schema(value_type = InstanceSize)]
    pub size_aku: u32,
}

impl NewInstance {
    /// The form's input, from a body that states exactly what it means: no white space the
    /// service would trim, one subnet per zone of the deployment, tags that are key and value
    /// as they are (the form's `key=value` lines cannot be split another way).
    fn input(self) -> Result<InstanceInput, AppError> {
        for (field, value) in [
            ("name", &self.name),
            ("description", &self.description),
            ("kafka_version", &self.kafka_version),
            ("deployment", &self.deployment),
            ("vpc_id", &self.vpc_id),
            ("data_bucket", &self.data_bucket),
            ("wal_mode", &self.wal_mode),
            ("client_auth", &self.client_auth),
            ("transit_encryption", &self.transit_encryption),
            ("endpoint_exposure", &self.endpoint_exposure),
        ] {
            exact(field, value)?;
        }
        for subnet in &self.subnets {
            exact("subnets", subnet)?;
        }
        if let Some(deployment) = Deployment::parse(&self.deployment) {
            let zones = rules::zones(deployment);
            if self.subnets.len() != zones {
                return Err(AppError::invalid(
                    "subnets",
                    format!(
                        "{} takes {zones} subnet{}, one per zone (got {}).",
                        deployment.label(),
                        if zones == 1 { "" } else { "s" },
                        self.subnets.len()
                    ),
                ));
            }
        }
        for (key, value) in &self.tags {
            exact("tags", key)?;
            exact("tags", value)?;
            if key.contains('=') || key.chars().chain(value.chars()).any(char::is_control) {
                return Err(AppError::invalid(
                    "tags",
                    format!(
                        "Tag {key:?}: keys have no '=', and keys and values no control characters."
                    ),
                ));
            }
        }
        let subnet = |i: usize| self.subnets.get(i).cloned().unwrap_or_default();
        let tags = self
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(InstanceInput {
            subnet_1: subnet(0),
            subnet_2: subnet(1),
            subnet_3: subnet(2),
            name: self.name,
            description: self.description,
            kafka_version: self.kafka_version,
            deployment: self.deployment,
            vpc_id: self.vpc_id,
            data_bucket: self.data_bucket,
            wal_mode: self.wal_mode,
            client_auth: self.client_auth,
            transit_encryption: self.transit_encryption,
            endpoint_exposure: self.endpoint_exposure,
            tags,
            size_aku: self.size_aku.to_string(),
        })
    }
}

/// Creates an instance: 201 with the instance (state `creating`) and its `Location`; poll it
/// until `running`. With an `Idempotency-Key`, a retry gets the same answer and creates nothing.
#[utoipa::path(post, operation_id = "create_instance", path = "/api/v1/instances", tag = "instances", request_body = NewInstance,
    params(IdempotencyKey),
    responses((status = 201, description = "Created; the instance is being built", body = InstanceDetail,
        headers(("Location" = String, description = "The instance's URL"))),
        (status = 409, description = "The console is in the way of input the document accepts \
            (`field` names it): the name is taken; the size is above the license's largest \
            instance, or beyond the AKU quota, or the license allows no growth now; the \
            provisioner cannot put a security setting in force; or a retry with the same \
            `Idempotency-Key` is still being answered", body = Problem,
            content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Keys are kept per service account (a bearer is always one).
    let claim = match who.principal() {
        Principal::ServiceAccount(account) => {
            match idempotency::claim(&state, account.id, &headers, &body).await {
                Ok(Claim::Replay(response)) => return response,
                Ok(claim) => claim,
                Err(error) => return error.into_response(),
            }
        }
        Principal::User(_) => Claim::None,
    };
    let answer = async {
        let JsonBody(new) = parse::<NewInstance>(&body)?;
        let input = new.input()?;
        // Every rule the document states, as the service checks them (422); what the service
        // refuses after is the console's state, license or provisioner in the way (409).
        let environment = crate::server::shell_reads::environment(&state, None)
            .await?
            .ok_or_else(|| crate::server::ServerError::invariant("no environment before setup"))?;
        instance_spec::validate(
            &input,
            &environment.cloud_provider,
            &environment.region,
            MAX_INSTANCE_AKU,
        )
        .map_err(|e| AppError::invalid(e.field, e))?;
        let started = instances::create(&state, &who, &input)
            .await
            .map_err(RestError::in_the_way)?;
        let detail =
            view::detail(&state, &who.narrow::<Viewer>(), started.instance_id, None).await?;
        let location = format!("/api/v1/instances/{}", started.instance_id);
        Ok::<_, RestError>(
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(detail),
            )
                .into_response(),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response);
    idempotency::keep(&state, claim, answer).await
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<JsonBody<T>, RestError> {
    serde_json::from_slice(body)
        .map(JsonBody)
        .map_err(|e| AppError::Request(format!("The body is not the JSON this takes: {e}.")).into())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// The new size (not the one it has: else 409).
    #[schema(value_type = InstanceSize)]
    #[serde(deserialize_with = "whole")]
    pub size_aku: u32,
}

/// 202 with the operation that carries a change out, and its `Location`.
async fn accepted(
    state: &AppState,
    who: &crate::server::access::Authorized<Operator>,
    operation_id: i64,
) -> Result<Response, RestError> {
    let operation = view::operation(state, &who.narrow::<Viewer>(), operation_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::LOCATION,
            format!("/api/v1/operations/{operation_id}"),
        )],
        Json(operation),
    )
        .into_response())
}

/// Scales the instance: 202 with the operation to poll.
#[utoipa::path(post, operation_id = "scale_instance", path = "/api/v1/instances/{id}/scale", tag = "instances", params(InstanceId),
    request_body = Scale, responses(OperationAccepted,
        (status = 409, description = "The instance or the console is in the way: an operation \
            runs, the instance is not running, it has this size already, or the size is above \
            the license's largest instance or beyond the AKU quota (`field` names the size)",
            body = Problem, content_type = "application/problem+json")))]
pub async fn scale(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
    JsonBody(body): JsonBody<Scale>,
) -> Result<Response, RestError> {
    let size = body.size_aku.to_string();
    instance_spec::parse_size(&size, MAX_INSTANCE_AKU)
        .map_err(|e| AppError::invalid(e.field, e))?;
    let operation = instances::scale(&state, &who, id, &size)
        .await
        .map_err(RestError::in_the_way)?;
    accepted(&state, &who, operation).await
}

/// Deletes the instance (its history is kept): 202 with the operation to poll. The pages ask
/// for the name typed again; an API client names the instance by its id in the path.
#[utoipa::path(
    delete,
    operation_id = "delete_instance",
    path = "/api/v1/instances/{id}",
    tag = "instances",
    params(InstanceId),
    responses(OperationAccepted)
)]
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
) -> Result<Response, RestError> {
    let operation = instances::delete(&state, &who, id, None).await?;
    accepted(&state, &who, operation).await
}

/// Runs the failed operation of an abnormal instance again: 202 with the operation to poll.
#[utoipa::path(
    post,
    operation_id = "retry_instance",
    path = "/api/v1/instances/{id}/retry",
    tag = "instances",
    params(InstanceId),
    responses(OperationAccepted)
)]
pub async fn retry(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
) -> Result<Response, RestError> {
    let operation = instances::retry(&state, &who, id).await?;
    accepted(&state, &who, operation).await
}

/// One operation and its steps.
#[utoipa::path(get, operation_id = "get_operation", path = "/api/v1/operations/{id}", tag = "instances",
    params(("id" = i64, Path, description = "The operation's id")),
    responses((status = 200, description = "The operation", body = OperationDetail)))]
pub async fn operation(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<OperationDetail>, RestError> {
    Ok(Json(view::operation(&state, &who, id).await?))
}
