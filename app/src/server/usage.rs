//! The usage page's month and the ledger exports for the marketplace.

use super::access::{Authorized, Viewer};
use super::download::{attachment, csv, refused};
use super::{auth, license, metering, store, AppState, ServerError};
use crate::domain::metering::{DIMENSIONS, HOUR};
use crate::domain::{pricing, Decimal};
use crate::wire::error::AppError;
use crate::wire::usage::{month, ItemCharge, Quantities, TierCharge, UsageData, UsageRow};
use axum::extract::{Query, State};
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;
use tower_sessions::Session;

type Cell = HashMap<&'static str, Decimal>;

fn dimension_key(d: &str) -> Option<&'static str> {
    DIMENSIONS.iter().map(|(id, _, _)| *id).find(|id| *id == d)
}

/// Two decimal places for reading (the ledger and the exports keep every digit).
fn show(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// The quantities of a cell. Data retained is an average over `hours` (the instance's
/// running hours for a row; the month's elapsed hours for the totals), or over its uptime.
fn quantities(cell: &Cell, hours: Option<Decimal>) -> Quantities {
    let get = |d: &str| cell.get(d).copied().unwrap_or_default();
    let uptime = get("uptime_hours_dev") + get("uptime_hours_pro") + get("uptime_hours_enterprise");
    let over = hours.unwrap_or(uptime);
    let retained_avg = if over.is_zero() {
        Decimal::ZERO
    } else {
        get("data_retained_gib_hours") / over
    };
    Quantities {
        aku_hours: show(get("aku_hours")),
        data_in_gib: show(get("data_in_gib")),
        data_out_gib: show(get("data_out_gib")),
        data_retained_gib_avg: show(retained_avg),
        uptime_hours_dev: show(get("uptime_hours_dev")),
        uptime_hours_pro: show(get("uptime_hours_pro")),
        uptime_hours_enterprise: show(get("uptime_hours_enterprise")),
    }
}

fn day_of(t: i64) -> (String, u32) {
    let date = OffsetDateTime::from_unix_timestamp(t)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    (crate::format::utc_date(t), u32::from(date.day()))
}

/// The month asked for, or the current one (UTC) when none is.
fn month_or_current(input: &str, state: &AppState) -> String {
    match input.trim() {
        "" => crate::format::utc_date(state.clock.unix())[..7].to_string(),
        month => month.to_string(),
    }
}

pub async fn month_view(
    state: &AppState,
    month_input: &str,
    is_admin: bool,
) -> Result<UsageData, ServerError> {
    let now = state.clock.unix();
    let (year, the_month, from, until) = month::parse(&month_or_current(month_input, state))?;
    let (previous_month, next_month) = month::neighbours(year, the_month);

    // (day start, instance name) -> quantities; the ledger, plus the hour under way.
    let mut cells: BTreeMap<(i64, String), Cell> = BTreeMap::new();
    let ledger = store::metering::records(&state.pool, from, until).await?;
    for row in &ledger {
        let (Some(dimension), Ok(q)) = (
            dimension_key(&row.dimension),
            row.quantity.parse::<Decimal>(),
        ) else {
            continue;
        };
        let day = row.hour_start - row.hour_start.rem_euclid(86_400);
        *cells
            .entry((day, row.instance_name.clone()))
            .or_default()
            .entry(dimension)
            .or_default() += q;
    }
    let includes_current_hour = (from..until).contains(&now);
    if includes_current_hour {
        let names: HashMap<i64, String> = store::metering::instance_names(&state.pool)
            .await?
            .into_iter()
            .collect();
        let day = now - now.rem_euclid(86_400);
        for (instance_id, dimension, q) in metering::current_hour_so_far(state).await? {
            let name = names.get(&instance_id).cloned().unwrap_or_default();
            *cells
                .entry((day, name))
                .or_default()
                .entry(dimension)
                .or_default() += q;
        }
    }

    let mut totals: Cell = HashMap::new();
    let days_in_month = u32::from(the_month.length(year));
    let mut daily = vec![Decimal::ZERO; days_in_month as usize];
    let mut rows = Vec::new();
    for ((day, instance), cell) in &cells {
        for (d, q) in cell {
            *totals.entry(d).or_default() += *q;
        }
        let (day_text, day_number) = day_of(*day);
        if let Some(slot) = daily.get_mut(day_number.saturating_sub(1) as usize) {
            *slot += cell.get("aku_hours").copied().unwrap_or_default();
        }
        rows.push(UsageRow {
            day: day_text,
            instance: instance.clone(),
            quantities: quantities(cell, None),
        });
    }

    let current = license::current(state).await?;
    let payload = current.as_ref().map(|c| &c.payload);
    let mut charges = Vec::new();
    let mut total_charge = None;
    if let Some(pricing_list) = payload.and_then(|p| p.pricing.as_ref()) {
        let mut sum = Decimal::ZERO;
        for price in &pricing_list.dimensions {
            let quantity = totals
                .get(price.dimension.as_str())
                .copied()
                .unwrap_or_default();
            let charge = pricing::charge(&price.tiers, quantity);
            sum += charge.amount;
            let (label, unit) = DIMENSIONS
                .iter()
                .find(|(id, _, _)| *id == price.dimension)
                .map(|(_, unit, what)| (what.to_string(), unit.to_string()))
                .unwrap_or_else(|| (price.dimension.clone(), String::new()));
            charges.push(ItemCharge {
                dimension: price.dimension.clone(),
                label,
                unit,
                quantity: show(quantity),
                tiers: charge
                    .lines
                    .iter()
                    .map(|l| TierCharge {
                        range: match l.to_quantity {
                            Some(to) => format!("{} to {}", l.from_quantity, to),
                            None => format!("{} and more", l.from_quantity),
                        },
                        quantity: show(l.quantity),
                        unit_price: l.unit_price.normalize().to_string(),
                        amount: show(l.amount),
                    })
                    .collect(),
                amount: format!("{:.2}", charge.amount),
            });
        }
        total_charge = Some(format!("{:.2}", pricing::round_money(sum)));
    }
    let elapsed_hours = (now.min(until) - from).max(0) / HOUR;
    let average_aku = if elapsed_hours > 0 {
        show(totals.get("aku_hours").copied().unwrap_or_default() / Decimal::from(elapsed_hours))
    } else {
        show(Decimal::ZERO)
    };
    Ok(UsageData {
        month: month::format(year, the_month),
        previous_month,
        next_month,
        billing: payload.map(|p| p.billing),
        currency: payload
            .and_then(|p| p.pricing.as_ref())
            .map(|p| p.currency.clone()),
        daily_aku_hours: daily
            .iter()
            .enumerate()
            .map(|(i, d)| (i as u32 + 1, d.to_string().parse::<f64>().unwrap_or(0.0)))
            .collect(),
        days_in_month,
        totals: quantities(&totals, Some(Decimal::from(elapsed_hours.max(1)))),
        charges,
        total_charge,
        average_aku,
        licensed_aku: payload.and_then(|p| p.aku_quota),
        includes_current_hour,
        traffic_basis: state.operations.provisioner().traffic_basis().into(),
        ledger_records: ledger.len(),
        rows,
        marketplace: super::marketplace::view::usage_month(state, from, until, is_admin).await?,
    })
}

/// One ledger record as a marketplace metering call needs it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExportRecord {
    /// Stable: re-sending the same record is idempotent.
    pub record_id: String,
    pub customer: String,
    pub license_id: String,
    pub installation_id: String,
    pub instance_id: i64,
    pub instance: String,
    pub dimension: String,
    pub unit: String,
    pub quantity: String,
    pub hour_start: String,
    pub hour_end: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    month: String,
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

async fn export_records(
    state: &AppState,
    session: &Session,
    caller: &auth::Caller,
    month_input: &str,
) -> Result<(String, Vec<ExportRecord>), AppError> {
    let who = super::access::require_in::<super::access::Viewer>(state, session, caller)
        .await
        .map_err(ServerError::into_app_error)?;
    let ledger = ledger(state, &who, month_input)
        .await
        .map_err(ServerError::into_app_error)?;
    Ok((ledger.month, ledger.records))
}

/// A month's ledger as the exports carry it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Ledger {
    /// YYYY-MM.
    pub month: String,
    pub installation_id: String,
    pub records: Vec<ExportRecord>,
}

/// The month's ledger (closed hours), one record per instance, hour and dimension: what the
/// CSV and JSON downloads and the REST API export. `month_input` is YYYY-MM (this month when
/// empty).
pub async fn ledger(
    state: &AppState,
    _who: &Authorized<Viewer>,
    month_input: &str,
) -> Result<Ledger, ServerError> {
    let (year, the_month, from, until) = month::parse(&month_or_current(month_input, state))?;
    let current = license::current(state).await?;
    let customer = current
        .as_ref()
        .map(|c| c.payload.customer.clone())
        .unwrap_or_default();
    let rows = store::metering::records(&state.pool, from, until).await?;
    let records = rows
        .into_iter()
        .map(|r| ExportRecord {
            unit: DIMENSIONS
                .iter()
                .find(|(id, _, _)| *id == r.dimension)
                .map(|(_, unit, _)| unit.to_string())
                .unwrap_or_default(),
            record_id: r.record_id,
            customer: customer.clone(),
            license_id: r.license_id.unwrap_or_default(),
            installation_id: state.installation_id.clone(),
            instance_id: r.instance_id,
            instance: r.instance_name,
            dimension: r.dimension,
            quantity: r.quantity,
            hour_start: rfc3339(r.hour_start),
            hour_end: rfc3339(r.hour_start + HOUR),
        })
        .collect();
    Ok(Ledger {
        month: month::format(year, the_month),
        installation_id: state.installation_id.clone(),
        records,
    })
}

const EXPORT_HEADER: &[&str] = &[
    "record_id",
    "customer",
    "license_id",
    "installation_id",
    "instance_id",
    "instance",
    "dimension",
    "unit",
    "quantity",
    "hour_start",
    "hour_end",
];

/// `GET /usage.csv?month=YYYY-MM`: the month's ledger, one record per instance, hour and
/// dimension (closed hours only).
pub async fn usage_csv(
    State(state): State<AppState>,
    session: Session,
    caller: auth::Caller,
    Query(q): Query<ExportQuery>,
) -> Response {
    let body = export_records(&state, &session, &caller, &q.month)
        .await
        .and_then(|(month, records)| Ok((month, csv(&records, EXPORT_HEADER)?)));
    match body {
        Ok((month, body)) => attachment(
            "text/csv; charset=utf-8",
            &format!("usage-{month}.csv"),
            body,
        ),
        Err(e) => refused(e),
    }
}

/// `GET /usage.json?month=YYYY-MM`: the same records as JSON.
pub async fn usage_json(
    State(state): State<AppState>,
    session: Session,
    caller: auth::Caller,
    Query(q): Query<ExportQuery>,
) -> Response {
    match export_records(&state, &session, &caller, &q.month).await {
        Ok((month, records)) => {
            let body = serde_json::to_vec_pretty(&serde_json::json!({
                "month": month,
                "installation_id": state.installation_id,
                "records": records,
            }))
            .unwrap_or_default();
            attachment("application/json", &format!("usage-{month}.json"), body)
        }
        Err(e) => refused(e),
    }
}

/// `GET /usage/marketplace-late.csv`: the reports too late for the marketplace's window, to
/// bill them another way.
pub async fn marketplace_late_csv(
    State(state): State<AppState>,
    session: Session,
    caller: auth::Caller,
) -> Response {
    let body = async {
        super::access::require_in::<super::access::Viewer>(&state, &session, &caller).await?;
        super::marketplace::view::late_csv(&state).await
    }
    .await
    .map_err(ServerError::into_app_error);
    match body {
        Ok(body) => attachment(
            "text/csv; charset=utf-8",
            "marketplace-late-hours.csv",
            body.into_bytes(),
        ),
        Err(e) => refused(e),
    }
}
