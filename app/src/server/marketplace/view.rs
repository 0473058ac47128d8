//! What the pages show of marketplace billing.

use super::LinkRow;
use crate::domain::csv_cell;
use crate::domain::license::BillingModel;
use crate::domain::marketplace::{self as rules, Entitlement, Marketplace, ReportState};
use crate::domain::Decimal;
use crate::server::page_reads::PageReads;
use crate::server::store::{self, marketplace::ReportRow};
use crate::server::{license, shell_reads, AppState, ServerError};
use crate::wire::marketplace::{
    LinkView, MappingView, MarketplaceData, MarketplaceUsage, MonthTotal, ReportView,
    SubscriptionHold,
};
use std::collections::BTreeMap;
use std::str::FromStr;

pub fn marketplace_name(marketplace: Marketplace) -> &'static str {
    match marketplace {
        Marketplace::Aws => "AWS Marketplace",
        Marketplace::Alibaba => "Alibaba Cloud Compute Nest",
    }
}

pub fn link_view(link: &LinkRow) -> LinkView {
    let (entitlement, ended_since) = match link.entitlement {
        Entitlement::Entitled => ("entitled", None),
        Entitlement::Ended { since } => ("ended", Some(since)),
        Entitlement::Renewed { ended_since } => ("renewed", Some(ended_since)),
    };
    LinkView {
        id: link.id,
        marketplace: link.marketplace.as_str().into(),
        marketplace_name: marketplace_name(link.marketplace).into(),
        listing: link.listing.clone(),
        account: link.account.clone(),
        linked_at: link.linked_at,
        linked_by: link.linked_by.clone(),
        unlinked_at: link.unlinked_at,
        entitlement: entitlement.into(),
        ended_since,
        last_report_at: link.last_report_at,
    }
}

pub fn report_view(report: &ReportRow) -> ReportView {
    ReportView {
        id: report.id,
        hour_start: report.hour_start,
        dimension: report.dimension.clone(),
        key: report.market_key.clone(),
        ledger_quantity: report.ledger_quantity.clone(),
        quantity: report.quantity,
        state: report.state.kind().into(),
        reason: match &report.state {
            ReportState::Rejected(why) => Some(why.clone()),
            _ => None,
        },
        receipt: report.receipt.clone(),
    }
}

/// The table of a marketplace's dimensions; on AWS one row per tier of a dimension the key
/// prices in tiers, with the flat price the listing must set.
fn mapping_views(
    marketplace: Marketplace,
    pricing: Option<&crate::domain::license::Pricing>,
) -> Vec<MappingView> {
    let mut rows = Vec::new();
    for m in rules::mappings(marketplace) {
        let tiered = match marketplace {
            Marketplace::Aws => rules::tiers::tiers_of(pricing, m.ledger),
            Marketplace::Alibaba => None,
        };
        let row = |ledger: String, key: String, price: Option<Decimal>| MappingView {
            ledger,
            key,
            unit: m.unit.into(),
            per_ledger_unit: m.per_ledger_unit,
            listing_price: price.map(|p| p.normalize().to_string()),
        };
        match tiered {
            Some(tiers) => {
                for (i, tier) in tiers.iter().enumerate() {
                    rows.push(row(
                        format!("{} from {}", m.ledger, tier.from_quantity),
                        rules::tiers::tier_key(m.key, i + 1),
                        Some(rules::tiers::unit_price(tier, *m)),
                    ));
                }
            }
            None => {
                let flat = match marketplace {
                    Marketplace::Aws => pricing
                        .and_then(|p| p.dimensions.iter().find(|d| d.dimension == m.ledger))
                        .and_then(|d| d.tiers.first())
                        .map(|t| rules::tiers::unit_price(t, *m)),
                    Marketplace::Alibaba => None,
                };
                rows.push(row(m.ledger.into(), m.key.into(), flat));
            }
        }
    }
    rows
}

/// The subscription's hold on growth and instances, if any (banners, pages), for a license
/// of `billing` (the caller has the license at hand: verifying it again costs a signature
/// check).
pub async fn hold(
    state: &AppState,
    billing: Option<BillingModel>,
) -> Result<Option<SubscriptionHold>, ServerError> {
    hold_in(state, billing, None).await
}

/// [`hold`], with the latest link kept between page renders when `reads` is given.
pub async fn hold_in(
    state: &AppState,
    billing: Option<BillingModel>,
    reads: Option<&PageReads>,
) -> Result<Option<SubscriptionHold>, ServerError> {
    let since = match shell_reads::latest_link(state, reads).await? {
        Some(LinkRow {
            entitlement: Entitlement::Ended { since },
            ..
        }) => since,
        _ => return Ok(None),
    };
    // What `effect_on` decides, from the link just read.
    let effect = if billing == Some(BillingModel::Payg) {
        rules::effect(
            Entitlement::Ended { since },
            state.marketplace.settings.grace_s,
            state.clock.unix(),
        )
    } else {
        rules::SubscriptionEffect::Normal
    };
    Ok(match effect {
        rules::SubscriptionEffect::Normal => None,
        rules::SubscriptionEffect::NoGrowth { suspend_at } => {
            Some(SubscriptionHold::NoGrowth { since, suspend_at })
        }
        rules::SubscriptionEffect::Suspend => Some(SubscriptionHold::Suspended { since }),
    })
}

pub async fn view(state: &AppState, is_admin: bool) -> Result<MarketplaceData, ServerError> {
    let current = license::current(state).await?;
    let links = store::marketplace::links(&state.pool).await?;
    let (active, history): (Vec<_>, Vec<_>) = links.iter().partition(|l| l.unlinked_at.is_none());
    let attention = store::marketplace::attention(&state.pool, 200).await?;
    Ok(MarketplaceData {
        billing: current
            .as_ref()
            .map(|c| c.payload.billing.as_str().to_string()),
        license_listing: current
            .as_ref()
            .and_then(|c| c.payload.listing.as_ref())
            .map(|l| format!("{}:{}", l.marketplace, l.id)),
        active: active.first().map(|l| link_view(l)),
        history: history.into_iter().map(link_view).collect(),
        grace_hours: state.marketplace.settings.grace_s / 3600,
        hold: match hold(state, current.as_ref().map(|c| c.payload.billing)).await? {
            Some(hold) => Some(hold),
            None => super::grace::hold_in(state, current.as_ref(), None).await?,
        },
        aws_mappings: mapping_views(
            Marketplace::Aws,
            current.as_ref().and_then(|c| c.payload.pricing.as_ref()),
        ),
        alibaba_mappings: mapping_views(Marketplace::Alibaba, None),
        attention: attention.iter().map(report_view).collect(),
        counts: store::marketplace::counts(&state.pool).await?,
        is_admin,
    })
}

/// How many hours of reports the usage page lists (newest first).
pub const HOURS_SHOWN: usize = 48;

/// The month `[start, end)` of reports beside the ledger (None when nothing was ever linked).
pub async fn usage_month(
    state: &AppState,
    start: i64,
    end: i64,
    is_admin: bool,
) -> Result<Option<MarketplaceUsage>, ServerError> {
    let reports = store::marketplace::reports_between(&state.pool, start, end).await?;
    let links = store::marketplace::links(&state.pool).await?;
    let Some(latest) = links.first() else {
        return Ok(None);
    };
    let mut totals: BTreeMap<&str, MonthTotal> = BTreeMap::new();
    // A tier's report (`data_in_gib#2`) maps as its ledger dimension.
    let mapping_of = |marketplace: Marketplace, dimension: &str| {
        rules::mapping(marketplace, rules::tiers::parse_tier_dimension(dimension).0)
    };
    // The listing's flat price per unit of each AWS dimension, from the key's tiers: the
    // marketplace's amount for the month, beside the console's estimate.
    let pricing = crate::server::license::current(state)
        .await?
        .and_then(|c| c.payload.pricing);
    let prices: BTreeMap<String, Decimal> =
        rules::tiers::aws_dimensions(rules::mappings(Marketplace::Aws), pricing.as_ref())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, price)| price.map(|p| (key, p)))
            .collect();
    let mut amounts: BTreeMap<&str, Decimal> = BTreeMap::new();
    let link_marketplace: BTreeMap<i64, Marketplace> =
        links.iter().map(|l| (l.id, l.marketplace)).collect();
    let mut ledger_exact: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut hours = std::collections::BTreeSet::new();
    for report in &reports {
        hours.insert(report.hour_start);
        let total = totals
            .entry(report.market_key.as_str())
            .or_insert_with(|| MonthTotal {
                key: report.market_key.clone(),
                unit: String::new(),
                ledger: String::new(),
                reported: 0,
                accepted: 0,
                late: 0,
                open: 0,
                failed: 0,
            });
        let mapping = link_marketplace
            .get(&report.link_id)
            .and_then(|m| mapping_of(*m, &report.dimension))
            .ok_or_else(|| {
                ServerError::invariant(format!(
                    "marketplace_reports row {}: {:?} has no mapping",
                    report.id, report.dimension
                ))
            })?;
        total.unit = mapping.unit.into();
        let exact = Decimal::from_str(&report.ledger_quantity)
            .ok()
            .and_then(|q| q.checked_mul(Decimal::from(mapping.per_ledger_unit)))
            .ok_or_else(|| {
                ServerError::invariant(format!(
                    "marketplace_reports row {}: ledger quantity {:?} is not a reportable decimal",
                    report.id, report.ledger_quantity
                ))
            })?;
        let sum = ledger_exact.entry(report.market_key.as_str()).or_default();
        *sum = sum.checked_add(exact).ok_or_else(|| {
            ServerError::invariant(format!("{}: the month's total overflows", mapping.key))
        })?;
        match &report.state {
            ReportState::Accepted | ReportState::Duplicate => {
                total.reported += report.quantity;
                total.accepted += report.quantity;
                if link_marketplace.get(&report.link_id) == Some(&Marketplace::Aws) {
                    if let Some(price) = prices.get(&report.market_key) {
                        *amounts.entry(mapping.ledger).or_default() +=
                            Decimal::from(report.quantity) * *price;
                    }
                }
            }
            ReportState::Late => total.late += report.quantity,
            ReportState::Pending { .. } | ReportState::Sending { .. } => {
                total.open += report.quantity
            }
            ReportState::Rejected(_) | ReportState::Unknown | ReportState::Unsent => {
                total.reported += report.quantity;
                total.failed += report.quantity;
            }
        }
    }
    for (key, total) in totals.iter_mut() {
        total.ledger = ledger_exact
            .get(key)
            .map(|d| d.round_dp(2).normalize().to_string())
            .unwrap_or_else(|| "0".into());
    }
    let shown_hours: std::collections::BTreeSet<i64> =
        hours.iter().rev().take(HOURS_SHOWN).copied().collect();
    let late = reports
        .iter()
        .filter(|r| r.state == ReportState::Late)
        .count();
    // Per billing item rounded to the cent, as the console's estimate is.
    let amount = (latest.marketplace == Marketplace::Aws && pricing.is_some()).then(|| {
        amounts
            .values()
            .map(|a| crate::domain::pricing::round_money(*a))
            .sum::<Decimal>()
            .to_string()
    });
    Ok(Some(MarketplaceUsage {
        amount,
        marketplace_name: marketplace_name(latest.marketplace).into(),
        listing: latest.listing.clone(),
        totals: totals.into_values().collect(),
        reports: reports
            .iter()
            .filter(|r| shown_hours.contains(&r.hour_start))
            .map(report_view)
            .collect(),
        hours_shown: shown_hours.len(),
        hours_in_month: hours.len(),
        late,
        is_admin,
    }))
}

/// The reports no link sends as CSV, for billing them another way: `late` ones (past the
/// window), and `unsent` ones (their link was removed; on Alibaba, which states no window, a
/// new link of the same service instance would still send them: the `state` column says which).
pub async fn late_csv(state: &AppState) -> Result<String, ServerError> {
    let late = store::marketplace::not_sent(&state.pool).await?;
    let mut out = String::from(
        "hour_start_utc,dimension,marketplace_key,ledger_quantity,quantity,client_token,state\n",
    );
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    for report in late {
        let cells = [
            crate::format::utc(report.hour_start),
            report.dimension.to_string(),
            report.market_key.to_string(),
            report.ledger_quantity.to_string(),
            report.quantity.to_string(),
            report.client_token.to_string(),
            report.state.kind().to_string(),
        ];
        // Quoted where needed and never a spreadsheet formula (`domain::csv_cell`).
        writer
            .write_record(cells.iter().map(|c| csv_cell::neutralise(c).into_owned()))
            .map_err(|e| ServerError::internal("writing the CSV", e))?;
    }
    let rows = writer
        .into_inner()
        .map_err(|e| ServerError::internal("writing the CSV", e.into_error()))?;
    out.push_str(&String::from_utf8_lossy(&rows));
    Ok(out)
}
