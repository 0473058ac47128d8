//! `/api/v1/environment`, `/api/v1/license`, `/api/v1/usage` and `/api/v1/audit`: what the
//! overview, license, usage and audit pages read, through the same services.

use super::extract::{Bearer, JsonBody};
use super::problem::RestError;
use crate::domain::account::Role;
use crate::domain::license::KeyChange;
use crate::server::access::{Admin, Viewer};
use crate::server::{audit, license::view as license, overview, usage, AppState};
use crate::wire::audit::AuditPage;
use crate::wire::license::{KeyPreview, LicenseData};
use crate::wire::overview::OverviewData;
use crate::wire::usage::UsageData;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

pub async fn environment(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
) -> Result<Json<OverviewData>, RestError> {
    Ok(Json(overview::overview(&state, &who).await?))
}

pub async fn license_get(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
) -> Result<Json<LicenseData>, RestError> {
    Ok(Json(license::page(&state, &who).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductKey {
    /// The product key, as the vendor sent it.
    pub key: String,
}

/// What applying the key would change; changes nothing.
pub async fn license_preview(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(body): JsonBody<ProductKey>,
) -> Result<Json<KeyPreview>, RestError> {
    Ok(Json(license::preview(&state, &who, &body.key).await?))
}

/// Applies the key: activation, renewal, upgrade or downgrade.
pub async fn license_apply(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    JsonBody(body): JsonBody<ProductKey>,
) -> Result<Json<KeyChange>, RestError> {
    Ok(Json(license::apply(&state, &who, &body.key).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// YYYY-MM; this month when absent.
    pub month: Option<String>,
}

pub async fn usage_month(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    Query(query): Query<MonthQuery>,
) -> Result<Json<UsageData>, RestError> {
    let month = query.month.unwrap_or_default();
    Ok(Json(
        usage::month_view(&state, &month, who.may(Role::Admin)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// YYYY-MM-DD, inclusive.
    pub from: Option<String>,
    pub until: Option<String>,
    /// 1-based, 50 entries a page.
    pub page: Option<i64>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    Bearer(who): Bearer<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, RestError> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let filter = audit::filter(
        &text(&q.actor),
        &text(&q.action),
        &text(&q.from),
        &text(&q.until),
    )?;
    Ok(Json(
        audit::page(&state, &who, &filter, q.page.unwrap_or(1)).await?,
    ))
}
