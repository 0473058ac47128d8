//! What one closed hour becomes in the outbox: one report per marketplace dimension, and on
//! AWS one per tier of a ledger dimension the key prices in more than one tier, the hour's
//! usage split at the tier bounds by the month's usage before it
//! (`domain::marketplace::tiers`).

use crate::domain::license::Pricing;
use crate::domain::marketplace::{self as rules, tiers, Mapping, Marketplace};
use crate::domain::Decimal;
use crate::server::store;
use crate::server::ServerError;
use sqlx::SqliteConnection;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One report to queue.
pub struct Planned {
    /// The outbox's dimension: the ledger's, `#n` for tier n.
    pub dimension: String,
    pub key: String,
    pub mapping: Mapping,
    /// The hour's ledger quantity in this report (ledger units).
    pub total: Decimal,
}

fn decimal(text: &str, what: &str) -> Result<Decimal, ServerError> {
    Decimal::from_str(text)
        .map_err(|e| ServerError::internal(format!("{what}: {text:?} is not a decimal"), e))
}

/// The reports of the hour starting at `hour`, from its ledger totals per dimension.
pub async fn plan_hour(
    conn: &mut SqliteConnection,
    marketplace: Marketplace,
    pricing: Option<&Pricing>,
    hour: i64,
    totals: &BTreeMap<&str, (Decimal, Vec<String>)>,
) -> Result<Vec<Planned>, ServerError> {
    let mut planned = Vec::new();
    let mut month_before: Option<BTreeMap<String, Decimal>> = None;
    for mapping in rules::mappings(marketplace) {
        let total = totals
            .get(mapping.ledger)
            .map(|(t, _)| *t)
            .unwrap_or(Decimal::ZERO);
        let tiered = match marketplace {
            Marketplace::Aws => tiers::tiers_of(pricing, mapping.ledger),
            Marketplace::Alibaba => None,
        };
        let Some(tier_list) = tiered else {
            planned.push(Planned {
                dimension: mapping.ledger.to_string(),
                key: mapping.key.to_string(),
                mapping: *mapping,
                total,
            });
            continue;
        };
        if month_before.is_none() {
            month_before = Some(month_so_far(conn, hour).await?);
        }
        let before = month_before
            .as_ref()
            .and_then(|m| m.get(mapping.ledger).copied())
            .unwrap_or(Decimal::ZERO);
        let parts = tiers::split(tier_list, before, total).map_err(ServerError::invariant)?;
        for (i, part) in parts.into_iter().enumerate() {
            planned.push(Planned {
                dimension: tiers::tier_dimension(mapping.ledger, i + 1),
                key: tiers::tier_key(mapping.key, i + 1),
                mapping: *mapping,
                total: part,
            });
        }
    }
    Ok(planned)
}

/// The pay-as-you-go ledger's totals per dimension from the month's start to `hour`.
async fn month_so_far(
    conn: &mut SqliteConnection,
    hour: i64,
) -> Result<BTreeMap<String, Decimal>, ServerError> {
    let records = store::marketplace::payg_ledger(conn, rules::month_start(hour), hour).await?;
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for record in records {
        let quantity = decimal(&record.quantity, &record.record_id)?;
        let sum = sums.entry(record.dimension).or_default();
        *sum = sum
            .checked_add(quantity)
            .ok_or_else(|| ServerError::invariant("the month's total overflows"))?;
    }
    Ok(sums)
}
