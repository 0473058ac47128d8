//! Usage and charges: a month of the metering ledger by day and instance, the estimated
//! charge from the key's tiered prices (pay-as-you-go), or AKU used against AKU licensed
//! (prepaid and trial). Exports are plain GET routes (`server::usage_export`).

use serde::{Deserialize, Serialize};

/// Quantities per dimension, as display text (exact decimals, at most 6 places).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Quantities {
    pub aku_hours: String,
    pub data_in_gib: String,
    pub data_out_gib: String,
    /// Average GiB retained: over the hours the instance ran (rows), over the month's
    /// elapsed hours (totals).
    pub data_retained_gib_avg: String,
    pub uptime_hours_dev: String,
    pub uptime_hours_pro: String,
    pub uptime_hours_enterprise: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// YYYY-MM-DD (UTC)
    pub day: String,
    pub instance: String,
    pub quantities: Quantities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierCharge {
    pub range: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ItemCharge {
    pub dimension: String,
    pub label: String,
    pub unit: String,
    pub quantity: String,
    pub tiers: Vec<TierCharge>,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageData {
    /// YYYY-MM
    pub month: String,
    pub previous_month: String,
    pub next_month: String,
    pub billing: Option<crate::domain::license::BillingModel>,
    pub currency: Option<String>,
    /// A page of the rows by day and instance, in that order.
    pub rows: Vec<UsageRow>,
    /// How many rows the month has in all.
    pub rows_total: usize,
    /// The position this page starts after (None: the first page).
    pub rows_after: Option<String>,
    /// The position of the next page (None: this is the last).
    pub next_rows: Option<String>,
    /// Per day of the month: (day of month, AKU-hours as a number for the chart).
    pub daily_aku_hours: Vec<(u32, f64)>,
    pub days_in_month: u32,
    pub totals: Quantities,
    /// Pay-as-you-go only.
    pub charges: Vec<ItemCharge>,
    pub total_charge: Option<String>,
    /// Prepaid and trial: average AKU in use over the month so far, and the quota.
    pub average_aku: String,
    pub licensed_aku: Option<u32>,
    /// The current hour, not yet in the ledger, is included.
    pub includes_current_hour: bool,
    /// How the data figures were obtained (counted or estimated), for the page.
    pub traffic_basis: String,
    pub ledger_records: usize,
    /// What was reported to the marketplace this month (None: never linked).
    pub marketplace: Option<super::marketplace::MarketplaceUsage>,
}

#[cfg(feature = "ssr")]
pub mod month {
    use crate::wire::error::AppError;
    use time::{Date, Month};

    /// `YYYY-MM` as [start, end) unix seconds.
    pub fn parse(input: &str) -> Result<(i32, Month, i64, i64), AppError> {
        let bad = || AppError::invalid("month", "Choose a month as YYYY-MM.");
        let (y, m) = input.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month = m
            .parse::<u8>()
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(bad)?;
        if !(2000..=9999).contains(&year) {
            return Err(bad());
        }
        let start = Date::from_calendar_date(year, month, 1).map_err(|_| bad())?;
        let (ny, nm) = if month == Month::December {
            (year + 1, Month::January)
        } else {
            (year, month.next())
        };
        let end = Date::from_calendar_date(ny, nm, 1).map_err(|_| bad())?;
        Ok((
            year,
            month,
            start.midnight().assume_utc().unix_timestamp(),
            end.midnight().assume_utc().unix_timestamp(),
        ))
    }

    pub fn format(year: i32, month: Month) -> String {
        format!("{year:04}-{:02}", month as u8)
    }

    pub fn neighbours(year: i32, month: Month) -> (String, String) {
        let prev = if month == Month::January {
            format(year - 1, Month::December)
        } else {
            format(year, month.previous())
        };
        let next = if month == Month::December {
            format(year + 1, Month::January)
        } else {
            format(year, month.next())
        };
        (prev, next)
    }
}
