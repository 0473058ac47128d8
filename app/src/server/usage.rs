//! The usage page's month and the ledger exports for the marketplace.

use super::access::{Authorized, Viewer};
use super::download::{attachment, csv_stream, json_stream, next_cursor, refused, Batch, BATCH};
use super::{auth, license, metering, store, AppState, ServerError};
use crate::domain::metering::{DIMENSIONS, HOUR};
use crate::domain::{pricing, Decimal};
use crate::wire::error::AppError;
use crate::wire::usage::{month, ItemCharge, Quantities, TierCharge, UsageData, UsageRow};
use axum::body::Body;
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

/// How many rows (day and instance) the usage page shows at a time.
pub const ROWS_PER_PAGE: usize = 200;

/// Where a page of the usage rows starts: after the row of this day (unix seconds) and
/// instance, written `<day>.<instance>` in the URL. A cursor this console did not write is
/// refused, naming the field.
fn rows_cursor(text: &str) -> Result<(i64, String), AppError> {
    text.split_once('.')
        .and_then(|(day, instance)| Some((day.parse::<i64>().ok()?, instance.to_string())))
        .filter(|(day, instance)| day.rem_euclid(86_400) == 0 && !instance.is_empty())
        .ok_or_else(|| {
            AppError::invalid(
                "rows_after",
                "Not a position in the usage rows: follow the page's own links.",
            )
        })
}

/// The month's usage: totals, charges and the chart over every row; the rows themselves a
/// page at a time ([`ROWS_PER_PAGE`], after `rows_after`), so that a month of thousands of
/// instances is not one page of hundreds of thousands of rows.
pub async fn month_view(
    state: &AppState,
    month_input: &str,
    rows_after: Option<&str>,
    is_admin: bool,
) -> Result<UsageData, ServerError> {
    let rows_after = rows_after
        .filter(|text| !text.is_empty())
        .map(rows_cursor)
        .transpose()?;
    let now = state.clock.unix();
    let (year, the_month, from, until) = month::parse(&month_or_current(month_input, state))?;
    let (previous_month, next_month) = month::neighbours(year, the_month);

    // (day start, instance name) -> quantities; the ledger, plus the hour under way.
    let mut cells: BTreeMap<(i64, String), Cell> = BTreeMap::new();
    // Read a batch at a time: the month's records are many more than its cells.
    let mut after = None;
    let mut ledger_records = 0;
    loop {
        let batch = store::metering::records(&state.pool, from, until, after, BATCH).await?;
        after = next_cursor(&batch, |r| {
            (r.hour_start, r.instance_id, r.dimension.clone())
        });
        ledger_records += batch.len();
        for row in &batch {
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
        if after.is_none() {
            break;
        }
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
    let mut next_rows = None;
    let mut last_on_page = String::new();
    for ((day, instance), cell) in &cells {
        for (d, q) in cell {
            *totals.entry(d).or_default() += *q;
        }
        let (day_text, day_number) = day_of(*day);
        if let Some(slot) = daily.get_mut(day_number.saturating_sub(1) as usize) {
            *slot += cell.get("aku_hours").copied().unwrap_or_default();
        }
        let on_this_page = rows_after
            .as_ref()
            .is_none_or(|after| (*day, instance) > (after.0, &after.1));
        if !on_this_page {
            continue;
        }
        if rows.len() == ROWS_PER_PAGE {
            next_rows.get_or_insert_with(|| last_on_page.clone());
            continue;
        }
        last_on_page = format!("{day}.{instance}");
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
        ledger_records,
        rows_total: cells.len(),
        rows,
        rows_after: rows_after.map(|(day, instance)| format!("{day}.{instance}")),
        next_rows,
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

/// The caller's month, once they are known to be a viewer and the month is valid.
async fn allowed_ledger(
    state: &AppState,
    session: &Session,
    caller: &auth::Caller,
    month_input: &str,
) -> Result<LedgerExport, AppError> {
    let who = super::access::require_in::<super::access::Viewer>(state, session, caller)
        .await
        .map_err(ServerError::into_app_error)?;
    ledger(state, &who, month_input)
        .await
        .map_err(ServerError::into_app_error)
}

/// The shape of a month's ledger as the JSON export and the REST API write it (a stream of
/// records, never held whole: [`LedgerExport`]).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Ledger {
    /// YYYY-MM.
    pub month: String,
    pub installation_id: String,
    pub records: Vec<ExportRecord>,
}

/// The month's ledger (closed hours), one record per instance, hour and dimension: what the
/// CSV and JSON downloads and the REST API export, read a batch at a time as it is written.
#[derive(Clone)]
pub struct LedgerExport {
    /// YYYY-MM.
    pub month: String,
    installation_id: String,
    customer: String,
    from: i64,
    until: i64,
    pool: sqlx::SqlitePool,
}

/// Where a batch of the ledger ends: (hour, instance, dimension), the export's order.
type LedgerKey = (i64, i64, String);

/// The month `month_input` names (YYYY-MM; this month when empty), ready to be written.
pub async fn ledger(
    state: &AppState,
    _who: &Authorized<Viewer>,
    month_input: &str,
) -> Result<LedgerExport, ServerError> {
    let (year, the_month, from, until) = month::parse(&month_or_current(month_input, state))?;
    let customer = license::current(state)
        .await?
        .map(|c| c.payload.customer)
        .unwrap_or_default();
    Ok(LedgerExport {
        month: month::format(year, the_month),
        installation_id: state.installation_id.clone(),
        customer,
        from,
        until,
        pool: state.pool.clone(),
    })
}

impl LedgerExport {
    /// The records after `after`, at most a batch, and where the next batch starts.
    async fn batch(&self, after: Option<LedgerKey>) -> Batch<ExportRecord, LedgerKey> {
        let rows =
            store::metering::records(&self.pool, self.from, self.until, after, BATCH).await?;
        let next = next_cursor(&rows, |r| {
            (r.hour_start, r.instance_id, r.dimension.clone())
        });
        let records = rows
            .into_iter()
            .map(|r| ExportRecord {
                unit: DIMENSIONS
                    .iter()
                    .find(|(id, _, _)| *id == r.dimension)
                    .map(|(_, unit, _)| unit.to_string())
                    .unwrap_or_default(),
                record_id: r.record_id,
                customer: self.customer.clone(),
                license_id: r.license_id.unwrap_or_default(),
                installation_id: self.installation_id.clone(),
                instance_id: r.instance_id,
                instance: r.instance_name,
                dimension: r.dimension,
                quantity: r.quantity,
                hour_start: rfc3339(r.hour_start),
                hour_end: rfc3339(r.hour_start + HOUR),
            })
            .collect();
        Ok((records, next))
    }

    /// The records as CSV, a header line first.
    pub fn csv(self) -> Body {
        csv_stream(EXPORT_HEADER, move |after| {
            let ledger = self.clone();
            async move { ledger.batch(after).await }
        })
    }

    /// The month as a JSON object of the [`Ledger`] shape.
    pub fn json(self) -> Body {
        let text = |s: &str| serde_json::Value::from(s).to_string();
        let prefix = format!(
            "{{\"month\":{},\"installation_id\":{},\"records\":[",
            text(&self.month),
            text(&self.installation_id)
        );
        json_stream(prefix, "\n]}\n", move |after| {
            let ledger = self.clone();
            async move { ledger.batch(after).await }
        })
    }
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
    ledger_download(&state, &session, &caller, &q.month, LedgerFormat::Csv).await
}

/// `GET /usage.json?month=YYYY-MM`: the same records as JSON.
pub async fn usage_json(
    State(state): State<AppState>,
    session: Session,
    caller: auth::Caller,
    Query(q): Query<ExportQuery>,
) -> Response {
    ledger_download(&state, &session, &caller, &q.month, LedgerFormat::Json).await
}

enum LedgerFormat {
    Csv,
    Json,
}

/// The month's ledger as a file, streamed, for a signed-in viewer or more.
async fn ledger_download(
    state: &AppState,
    session: &Session,
    caller: &auth::Caller,
    month: &str,
    format: LedgerFormat,
) -> Response {
    let ledger = match allowed_ledger(state, session, caller, month).await {
        Ok(ledger) => ledger,
        Err(e) => return refused(e),
    };
    let month = ledger.month.clone();
    match format {
        LedgerFormat::Csv => attachment(
            "text/csv; charset=utf-8",
            &format!("usage-{month}.csv"),
            ledger.csv(),
        ),
        LedgerFormat::Json => attachment(
            "application/json",
            &format!("usage-{month}.json"),
            ledger.json(),
        ),
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
