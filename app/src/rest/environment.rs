//! `/api/v1/environment`, `/api/v1/license`, `/api/v1/usage` and `/api/v1/audit`: what the
//! overview, license, usage and audit pages read, through the same services.

use super::extract::{Bearer, JsonBody, QueryOf};
use super::problem::{Problem, RestError};
use super::rules::{AuditDay, AuditPageSize, Cursor, ProductKeyText, UsageMonth};
use crate::domain::account::Role;
use crate::domain::license::KeyChange;
use crate::server::access::{Admin, Viewer};
use crate::server::usage::Ledger;
use crate::server::{audit, license::view as license, overview, usage, AppState};
use crate::wire::audit::AuditPage;
use crate::wire::error::AppError;
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
    #[schema(value_type = ProductKeyText)]
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
    /// The month.
    #[param(value_type = Option<UsageMonth>)]
    pub month: Option<String>,
}

/// Whether `text` is digits with a `-` at each of `dashes`, and `length` bytes long.
fn shaped(text: &str, length: usize, dashes: &[usize]) -> bool {
    text.len() == length
        && text.bytes().enumerate().all(|(i, b)| {
            if dashes.contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// A month as the document states it, `YYYY-MM` exactly (the service reads `2024-1` and
/// ` 2024-01` too), or empty.
fn month(input: Option<String>) -> Result<String, AppError> {
    let month = input.unwrap_or_default();
    if month.is_empty() || shaped(&month, 7, &[4]) {
        Ok(month)
    } else {
        Err(AppError::invalid("month", "Choose a month as YYYY-MM."))
    }
}

/// A day as the document states it, `YYYY-MM-DD` exactly, or empty.
fn day<'a>(field: &str, input: &'a Option<String>) -> Result<&'a str, AppError> {
    let day = input.as_deref().unwrap_or("");
    if day.is_empty() || shaped(day, 10, &[4, 7]) {
        Ok(day)
    } else {
        Err(AppError::invalid(field, "Enter a date as YYYY-MM-DD."))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// The month.
    #[param(value_type = Option<UsageMonth>)]
    pub month: Option<String>,
    /// The next page of rows: the `next_rows` of the page before.
    #[param(value_type = Option<Cursor>)]
    pub rows_after: Option<String>,
}

/// The month's usage by day and instance, its charges and its marketplace reports.
#[utoipa::path(get, operation_id = "get_usage", path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "The month's usage", body = UsageData),
        (status = 404, description = "`rows_after` is not a position this console gave", body = Problem,
            content_type = "application/problem+json")))]
pub async fn usage_month(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    QueryOf(query): QueryOf<UsageQuery>,
) -> Result<Json<UsageData>, RestError> {
    let month = month(query.month)?;
    let rows_after = query.rows_after.as_deref();
    let view = usage::month_view(&state, &month, rows_after, who.may(Role::Admin))
        .await
        .map_err(|e| RestError::not_found_for(e, &["rows_after"]))?;
    Ok(Json(view))
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
    let month = month(query.month)?;
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
    /// The first day. With `until`: a range that ends before it starts matches nothing.
    #[param(value_type = Option<AuditDay>)]
    pub from: Option<String>,
    /// The last day.
    #[param(value_type = Option<AuditDay>)]
    pub until: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Cursor>)]
    pub cursor: Option<String>,
    /// At most this many.
    #[param(value_type = Option<AuditPageSize>)]
    pub limit: Option<u32>,
}

/// A page of audit entries, newest first, how many match, and whether the hash chain is
/// intact.
#[utoipa::path(get, operation_id = "list_audit_entries", path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 404, description = "The cursor is not one this console made", body = Problem,
            content_type = "application/problem+json")))]
pub async fn audit_log(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    QueryOf(q): QueryOf<AuditQuery>,
) -> Result<Json<AuditPage>, RestError> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let (from, until) = (day("from", &q.from)?, day("until", &q.until)?);
    // Each bound on its own: a range that ends before it starts is one no entry is in (the
    // pages' form says so instead, as a mistake to correct).
    let mut filter = audit::filter(&text(&q.actor), &text(&q.action), from, "")?;
    filter.until = audit::filter("", "", "", until)?.until;
    let page = audit::page(&state, &who, &filter, q.cursor.as_deref(), q.limit)
        .await
        .map_err(|e| RestError::not_found_for(e, &["cursor"]))?;
    Ok(Json(page))
}
