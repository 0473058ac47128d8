//! **Tiers the marketplace can bill (AWS).** AWS prices a dimension flat; the key's prices are
//! graduated (units beyond each threshold of the month cost that tier's price). So a ledger
//! dimension the key prices in more than one tier is reported as one AWS dimension per tier
//! (`DataInMiBTier1`, `DataInMiBTier2`, …), each hour's usage split at the tier bounds by the
//! month's cumulative usage before it; the listing prices each tier dimension flat at the
//! tier's unit price divided by the unit factor (per MiB: the price per GiB / 1024). A
//! month's reported tier quantities then cost what the key's tiers charge for the month.
//! A dimension priced in one tier (or not at all) keeps its one AWS dimension.

use super::Mapping;
use crate::license::{PriceTier, Pricing};
use rust_decimal::Decimal;

/// AWS takes at most 24 dimensions per product.
pub const AWS_MAX_DIMENSIONS: usize = 24;

/// The tiers the key gives a ledger dimension when they are more than one.
pub fn tiers_of<'a>(pricing: Option<&'a Pricing>, ledger: &str) -> Option<&'a [PriceTier]> {
    pricing?
        .dimensions
        .iter()
        .find(|d| d.dimension == ledger)
        .map(|d| d.tiers.as_slice())
        .filter(|t| t.len() > 1)
}

/// The outbox's dimension of tier `tier` (from 1) of a ledger dimension: `data_in_gib#2`.
pub fn tier_dimension(ledger: &str, tier: usize) -> String {
    format!("{ledger}#{tier}")
}

/// The ledger dimension and tier (from 1) of an outbox dimension (`None`: not tiered).
pub fn parse_tier_dimension(dimension: &str) -> (&str, Option<usize>) {
    match dimension.split_once('#') {
        Some((ledger, tier)) => match tier.parse::<usize>() {
            Ok(tier) if tier >= 1 => (ledger, Some(tier)),
            _ => (dimension, None),
        },
        None => (dimension, None),
    }
}

/// The AWS dimension of tier `tier` (from 1): `DataInMiBTier2`.
pub fn tier_key(key: &str, tier: usize) -> String {
    format!("{key}Tier{tier}")
}

/// The part of `amount` (ledger units) that falls in each tier, `before` having been used
/// earlier in the month: one entry per tier, zero where none falls. Negative input is an
/// error.
pub fn split(
    tiers: &[PriceTier],
    before: Decimal,
    amount: Decimal,
) -> Result<Vec<Decimal>, String> {
    if before.is_sign_negative() || amount.is_sign_negative() {
        return Err(format!(
            "a tier split needs quantities of 0 or more (before {before}, amount {amount})"
        ));
    }
    let end = before
        .checked_add(amount)
        .ok_or("the month's cumulative quantity overflows")?;
    Ok(tiers
        .iter()
        .enumerate()
        .map(|(i, tier)| {
            let low = Decimal::from(tier.from_quantity);
            let high = tiers.get(i + 1).map(|t| Decimal::from(t.from_quantity));
            let from = before.max(low);
            let to = high.map_or(end, |h| end.min(h));
            (to - from).max(Decimal::ZERO)
        })
        .collect())
}

/// The listing's flat price per marketplace unit of a tier: the tier's price per ledger unit
/// divided by the unit factor (exact: 0.10 per GiB is 0.00009765625 per MiB).
pub fn unit_price(tier: &PriceTier, mapping: Mapping) -> Decimal {
    tier.unit_price / Decimal::from(mapping.per_ledger_unit)
}

/// Every AWS dimension the key's prices need, with its flat price per unit where priced:
/// refused, naming the count, beyond AWS's 24.
pub fn aws_dimensions(
    mappings: &[Mapping],
    pricing: Option<&Pricing>,
) -> Result<Vec<(String, Option<Decimal>)>, String> {
    let mut out = Vec::new();
    for mapping in mappings {
        match tiers_of(pricing, mapping.ledger) {
            Some(tiers) => {
                for (i, tier) in tiers.iter().enumerate() {
                    out.push((
                        tier_key(mapping.key, i + 1),
                        Some(unit_price(tier, *mapping)),
                    ));
                }
            }
            None => {
                let flat = pricing
                    .and_then(|p| p.dimensions.iter().find(|d| d.dimension == mapping.ledger))
                    .and_then(|d| d.tiers.first())
                    .map(|t| unit_price(t, *mapping));
                out.push((mapping.key.to_string(), flat));
            }
        }
    }
    if out.len() > AWS_MAX_DIMENSIONS {
        return Err(format!(
            "the key's tiers need {} AWS dimensions; a product takes at most {AWS_MAX_DIMENSIONS}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::DimensionPrice;
    use crate::marketplace::{mapping, mappings, Marketplace};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn tiers() -> Vec<PriceTier> {
        vec![
            PriceTier {
                from_quantity: 0,
                unit_price: d("0.10"),
            },
            PriceTier {
                from_quantity: 100,
                unit_price: d("0.05"),
            },
            PriceTier {
                from_quantity: 1000,
                unit_price: d("0.02"),
            },
        ]
    }

    #[test]
    fn an_hour_that_crosses_a_bound_is_split_there() {
        assert_eq!(
            split(&tiers(), d("90"), d("15")).unwrap(),
            [d("10"), d("5"), d("0")]
        );
        assert_eq!(
            split(&tiers(), d("990"), d("20.5")).unwrap(),
            [d("0"), d("10"), d("10.5")]
        );
        assert_eq!(split(&tiers(), d("0"), d("0")).unwrap(), [d("0"); 3]);
        assert!(split(&tiers(), d("-1"), d("1")).is_err());
    }

    #[test]
    fn the_sum_of_hourly_splits_is_the_split_of_the_month() {
        // Graduated prices depend on the cumulative quantity only: splitting hour by hour
        // gives the same tier totals as splitting the month's total.
        let hours = [d("33.3"), d("70"), d("0"), d("500.25"), d("700"), d("1.1")];
        let mut before = Decimal::ZERO;
        let mut sums = [Decimal::ZERO; 3];
        for h in hours {
            for (s, part) in sums.iter_mut().zip(split(&tiers(), before, h).unwrap()) {
                *s += part;
            }
            before += h;
        }
        assert_eq!(
            sums.to_vec(),
            split(&tiers(), Decimal::ZERO, before).unwrap()
        );
        // And they cost what the key's graduated charge says.
        let flat: Decimal = sums
            .iter()
            .zip(tiers())
            .map(|(q, t)| *q * t.unit_price)
            .sum();
        assert_eq!(
            crate::pricing::round_money(flat),
            crate::pricing::charge(&tiers(), before).amount
        );
    }

    #[test]
    fn tier_dimensions_round_trip() {
        assert_eq!(tier_dimension("data_in_gib", 2), "data_in_gib#2");
        assert_eq!(
            parse_tier_dimension("data_in_gib#2"),
            ("data_in_gib", Some(2))
        );
        assert_eq!(parse_tier_dimension("data_in_gib"), ("data_in_gib", None));
        assert_eq!(parse_tier_dimension("x#0"), ("x#0", None));
        assert_eq!(tier_key("DataInMiB", 1), "DataInMiBTier1");
    }

    #[test]
    fn listing_prices_per_mib_are_exact() {
        let m = mapping(Marketplace::Aws, "data_in_gib").unwrap();
        assert_eq!(unit_price(&tiers()[0], m), d("0.00009765625"));
    }

    #[test]
    fn at_most_24_aws_dimensions() {
        let priced = |n: usize| Pricing {
            currency: "USD".into(),
            dimensions: [
                "aku_hours",
                "data_in_gib",
                "data_out_gib",
                "data_retained_gib_hours",
            ]
            .iter()
            .map(|dim| DimensionPrice {
                dimension: dim.to_string(),
                tiers: (0..n)
                    .map(|i| PriceTier {
                        from_quantity: i as u64 * 100,
                        unit_price: d("0.01"),
                    })
                    .collect(),
            })
            .collect(),
        };
        // 4 dimensions x 4 tiers + 3 uptime dimensions = 19.
        assert_eq!(
            aws_dimensions(mappings(Marketplace::Aws), Some(&priced(4)))
                .unwrap()
                .len(),
            19
        );
        // 4 x 6 + 3 = 27: refused, naming the count.
        let error = aws_dimensions(mappings(Marketplace::Aws), Some(&priced(6))).unwrap_err();
        assert!(error.contains("27"), "{error}");
    }
}
