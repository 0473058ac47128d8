//! Tiered (graduated) pay-as-you-go prices: each unit used in a month costs the unit price of
//! the tier it falls in, so the more is used, the lower the price of the units beyond each
//! threshold. A tier starting at 1000 with 0.10 means units 1000 and beyond cost 0.10 each.
//!
//! Rounding, in one place: the charge of each tier is exact; the charge of a billing item is
//! rounded to [`MONEY_DP`] places, half away from zero (as invoices do); the total is the sum
//! of the rounded items.

use crate::license::PriceTier;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Decimal places of money (cents).
pub const MONEY_DP: u32 = 2;

pub fn round_money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(MONEY_DP, RoundingStrategy::MidpointAwayFromZero)
}

/// The part of the quantity that fell in one tier, and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierLine {
    pub from_quantity: u64,
    /// None for the last tier (no upper bound).
    pub to_quantity: Option<u64>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Charge {
    pub lines: Vec<TierLine>,
    /// Rounded to [`MONEY_DP`].
    pub amount: Decimal,
}

/// What `quantity` units cost in a month under `tiers` (sorted, the first from 0: the product
/// key's rules guarantee it).
pub fn charge(tiers: &[PriceTier], quantity: Decimal) -> Charge {
    let mut lines = Vec::new();
    let mut exact = Decimal::ZERO;
    for (i, tier) in tiers.iter().enumerate() {
        let from = Decimal::from(tier.from_quantity);
        if quantity <= from {
            break;
        }
        let next = tiers.get(i + 1).map(|t| t.from_quantity);
        let upper = next.map(Decimal::from).unwrap_or(quantity).min(quantity);
        let in_tier = upper - from;
        let amount = in_tier * tier.unit_price;
        exact += amount;
        lines.push(TierLine {
            from_quantity: tier.from_quantity,
            to_quantity: next,
            quantity: in_tier,
            unit_price: tier.unit_price,
            amount,
        });
    }
    Charge {
        lines,
        amount: round_money(exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn tiers() -> Vec<PriceTier> {
        vec![
            PriceTier {
                from_quantity: 0,
                unit_price: d("0.12"),
            },
            PriceTier {
                from_quantity: 1000,
                unit_price: d("0.10"),
            },
            PriceTier {
                from_quantity: 5000,
                unit_price: d("0.08"),
            },
        ]
    }

    #[test]
    fn within_the_first_tier() {
        let c = charge(&tiers(), d("10"));
        assert_eq!(c.amount, d("1.20"));
        assert_eq!(c.lines.len(), 1);
    }

    #[test]
    fn at_every_tier_boundary() {
        assert_eq!(charge(&tiers(), d("0")).amount, d("0"));
        assert!(charge(&tiers(), d("0")).lines.is_empty());
        // Exactly 1000: all in the first tier.
        let c = charge(&tiers(), d("1000"));
        assert_eq!(c.amount, d("120.00"));
        assert_eq!(c.lines.len(), 1);
        // One more unit is priced by the second tier.
        let c = charge(&tiers(), d("1001"));
        assert_eq!(c.amount, d("120.10"));
        assert_eq!(c.lines[1].quantity, d("1"));
        // Exactly 5000: 1000 at 0.12 + 4000 at 0.10.
        assert_eq!(charge(&tiers(), d("5000")).amount, d("520.00"));
        // Beyond: 520 + 1000 at 0.08.
        let c = charge(&tiers(), d("6000"));
        assert_eq!(c.amount, d("600.00"));
        assert_eq!(c.lines[2].to_quantity, None);
        assert_eq!(c.lines[2].quantity, d("1000"));
    }

    #[test]
    fn fractional_quantities_and_rounding() {
        // 0.125 AKU-hours at 0.12 = 0.015: half away from zero, 0.02.
        assert_eq!(charge(&tiers(), d("0.125")).amount, d("0.02"));
        assert_eq!(round_money(d("0.005")), d("0.01"));
        assert_eq!(round_money(d("0.00499")), d("0.00"));
        assert_eq!(round_money(d("-0.005")), d("-0.01"));
    }

    #[test]
    fn a_single_free_tier() {
        let free = [PriceTier {
            from_quantity: 0,
            unit_price: d("0"),
        }];
        assert_eq!(charge(&free, d("123.456")).amount, d("0"));
    }
}
