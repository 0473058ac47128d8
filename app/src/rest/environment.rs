//! `/api/v1/environment`, `/api/v1/license`, `/api/v1/usage` and `/api/v1/audit`: what the
//! overview, license, usage and audit pages read, through the same services.

use super::extract::{Bearer, JsonBody, QueryOf};
use super::problem::RestError;
use crate::domain::account::Role;
use crate::domain::license::KeyChange;
use crate::server::access::{Admin, Viewer};
use crate::server::usage::Ledger;
use crate::server::{audit, license::view as license, overview, usage, AppState};
use crate::wire::audit::AuditPage;
use crate::wire::license::{KeyPreview, LicenseData};
use crate::wire::overview::OverviewData;
use crate::wire::usage::UsageData;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// The environment at a glance: license, users per role, instances per state, the latest
/// operations (and security events, for admin tokens).
#[utoipa::path(get, operation_id = "get_environment", path = "/api/v1/environment", tag = "environment",
    responses((status = 200, description = "The overview", body = OverviewData)))]
pub async fn environment(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
) -> Result<Json<OverviewData>, RestError> {
    Ok(Json(overview::overview(&state, &who).await?))
}

/// The license, its state, the AKU in use and the keys applied.
#[utoipa::path(get, operation_id = "get_license", path = "/api/v1/license", tag = "license",
    responses((status = 200, description = "The license", body = LicenseData)))]
pub async fn license_get(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
) -> Result<Json<LicenseData>, RestError> {
    Ok(Json(license::page(&state, &who).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductKey {
    /// The product key, as the vendor sent it.
    pub key: String,
}

/// What applying the key would change; changes nothing.
#[utoipa::path(post, operation_id = "preview_license_key", path = "/api/v1/license/preview", tag = "license", request_body = ProductKey,
    responses((status = 200, description = "The change the key would make", body = KeyPreview)))]
pub async fn license_preview(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(body): JsonBody<ProductKey>,
) -> Result<Json<KeyPreview>, RestError> {
    Ok(Json(license::preview(&state, &who, &body.key).await?))
}

/// Applies the key: activation, renewal, upgrade or downgrade.
#[utoipa::path(put, operation_id = "apply_license_key", path = "/api/v1/license", tag = "license", request_body = ProductKey,
    responses((status = 200, description = "The change made", body = KeyChange)))]
pub async fn license_apply(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(body): JsonBody<ProductKey>,
) -> Result<Json<KeyChange>, RestError> {
    Ok(Json(license::apply(&state, &who, &body.key).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// YYYY-MM; this month when absent or empty.
    #[param(pattern = r"^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    pub month: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// YYYY-MM; this month when absent or empty.
    #[param(pattern = r"^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    pub month: Option<String>,
    /// The next page of rows: the `next_rows` of the page before.
    pub rows_after: Option<String>,
}

/// The month's usage by day and instance, its charges and its marketplace reports.
#[utoipa::path(get, operation_id = "get_usage", path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "The month's usage", body = UsageData)))]
pub async fn usage_month(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    QueryOf(query): QueryOf<UsageQuery>,
) -> Result<Json<UsageData>, RestError> {
    let month = query.month.unwrap_or_default();
    let rows_after = query.rows_after.as_deref();
    Ok(Json(
        usage::month_view(&state, &month, rows_after, who.may(Role::Admin)).await?,
    ))
}

/// The month's ledger (closed hours): one record per instance, hour and dimension, as a
/// marketplace metering call takes it (the same records as the usage page's CSV and JSON).
#[utoipa::path(get, operation_id = "get_usage_ledger", path = "/api/v1/usage/ledger", tag = "usage", params(MonthQuery),
    responses((status = 200, description = "The month's ledger", body = Ledger)))]
pub async fn usage_ledger(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    QueryOf(query): QueryOf<MonthQuery>,
) -> Result<Response, RestError> {
    let month = query.month.unwrap_or_default();
    // Streamed: a month of 10,000 instances is millions of records.
    let ledger = usage::ledger(&state, &who, &month).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], ledger.json()).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries by this actor (user or service account).
    pub actor: Option<String>,
    /// Only entries of this action.
    pub action: Option<String>,
    /// YYYY-MM-DD (UTC), inclusive; empty: no bound.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub from: Option<String>,
    /// YYYY-MM-DD (UTC), inclusive; empty: no bound.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub until: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// At most this many (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A page of audit entries, newest first, how many match, and whether the hash chain is
/// intact.
#[utoipa::path(get, operation_id = "list_audit_entries", path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of the audit log", body = AuditPage)))]
pub async fn audit_log(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    QueryOf(q): QueryOf<AuditQuery>,
) -> Result<Json<AuditPage>, RestError> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let filter = audit::filter(
        &text(&q.actor),
        &text(&q.action),
        &text(&q.from),
        &text(&q.until),
    )?;
    let page = audit::page(&state, &who, &filter, q.cursor.as_deref(), q.limit).await?;
    Ok(Json(page))
}
