//! `/api/v1/instances` and `/api/v1/operations`: the same services, rules, roles and audit as
//! the pages, as JSON resources. Creates answer 201 with the instance and its location;
//! changes that run as operations answer 202 with the operation to poll.

use super::extract::{whole, Bearer, JsonBody, PathOf, QueryOf};
use super::idempotency::{self, Claim};
use super::openapi::{IdempotencyKey, InstanceId, OperationAccepted};
use super::problem::RestError;
use crate::domain::instance::State as InstanceState;
use crate::domain::instance_spec::{
    ClientAuth, Deployment, EndpointExposure, InstanceInput, TransitEncryption, WalMode,
};
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
    pub cursor: Option<String>,
    /// At most this many (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
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
    responses((status = 200, description = "A page, and the cursor of the next", body = InstancePage)))]
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
    .await?;
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
    Ok(Json(view::detail(&state, &who, id, cursor).await?))
}

/// A new instance, as the create form takes it (the same rules check it).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstance {
    /// 3 to 64 lowercase letters, digits and hyphens; starts with a letter, ends with neither
    /// a hyphen; unique among the instances not deleted.
    #[schema(pattern = "^[a-z][a-z0-9-]{1,62}[a-z0-9]$")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kafka_version: String,
    #[schema(value_type = Deployment)]
    pub deployment: String,
    pub vpc_id: String,
    /// One subnet per zone, in zone order.
    pub subnets: Vec<String>,
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
    pub tags: BTreeMap<String, String>,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1)]
    pub size_aku: u32,
}

impl NewInstance {
    fn input(self) -> Result<InstanceInput, AppError> {
        if self.subnets.len() > 3 {
            return Err(AppError::invalid(
                "subnets",
                format!(
                    "At most three subnets, one per zone (got {}).",
                    self.subnets.len()
                ),
            ));
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
        headers(("Location" = String, description = "The instance's URL")))))]
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
        let started = instances::create(&state, &who, &new.input()?).await?;
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
    /// The new size in AKU.
    #[schema(minimum = 1)]
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
    request_body = Scale, responses(OperationAccepted))]
pub async fn scale(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
    JsonBody(body): JsonBody<Scale>,
) -> Result<Response, RestError> {
    let operation = instances::scale(&state, &who, id, &body.size_aku.to_string()).await?;
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
