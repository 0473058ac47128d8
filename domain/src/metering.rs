//! Metering: what one instance used in one hour, from its state history. An instance counts
//! from `running` until it is deleted; `creating`, `suspended` and `abnormal` time is not
//! billed. Sizes are prorated to the minute: a scale from 6 to 12 AKU at :20 is 6 AKU for 20
//! minutes and 12 for 40, 10 AKU-hours.
//!
//! Rounding, in one place: ledger quantities are exact decimals rounded to
//! [`QUANTITY_DP`] places (half to even), money to [`crate::pricing::MONEY_DP`].

use crate::instance::State;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const HOUR: i64 = 3600;
/// Decimal places of a ledger quantity.
pub const QUANTITY_DP: u32 = 6;
const GIB: u64 = 1 << 30;

/// The ledger's dimensions, one catalog: (id, unit, what it measures).
pub const DIMENSIONS: &[(&str, &str, &str)] = &[
    ("aku_hours", "AKU-hour", "capacity: AKU times hours running"),
    ("data_in_gib", "GiB", "data written"),
    ("data_out_gib", "GiB", "data read"),
    (
        "data_retained_gib_hours",
        "GiB-hour",
        "data retained, times hours",
    ),
    ("uptime_hours_dev", "hour", "cluster uptime, Dev tier"),
    ("uptime_hours_pro", "hour", "cluster uptime, Pro tier"),
    (
        "uptime_hours_enterprise",
        "hour",
        "cluster uptime, Enterprise tier",
    ),
];

/// Cluster tiers for uptime billing, by size: Dev up to 6 AKU, Pro up to 48, Enterprise above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tier {
    Dev,
    Pro,
    Enterprise,
}

pub const DEV_MAX_AKU: u32 = 6;
pub const PRO_MAX_AKU: u32 = 48;

pub fn tier_of(size_aku: u32) -> Tier {
    if size_aku <= DEV_MAX_AKU {
        Tier::Dev
    } else if size_aku <= PRO_MAX_AKU {
        Tier::Pro
    } else {
        Tier::Enterprise
    }
}

impl Tier {
    pub fn uptime_dimension(self) -> &'static str {
        match self {
            Tier::Dev => "uptime_hours_dev",
            Tier::Pro => "uptime_hours_pro",
            Tier::Enterprise => "uptime_hours_enterprise",
        }
    }
}

/// Whether time in `state` is billed.
pub fn billed(state: State) -> bool {
    matches!(state, State::Running | State::Changing | State::Deleting)
}

/// One entry of an instance's state history: from `at` on, it was in `state` at `size_aku`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPoint {
    pub at: i64,
    pub state: State,
    pub size_aku: u32,
}

/// Billed minutes at each size within the hour starting at `hour_start` (boundaries taken to
/// the minute). `history` is in time order; points after the hour are ignored.
pub fn billed_minutes(history: &[HistoryPoint], hour_start: i64) -> Vec<(u32, i64)> {
    let hour_end = hour_start + HOUR;
    let minute = |t: i64| t.div_euclid(60);
    let mut out: Vec<(u32, i64)> = Vec::new();
    for (i, point) in history.iter().enumerate() {
        let next = history.get(i + 1).map(|p| p.at).unwrap_or(i64::MAX);
        let from = point.at.max(hour_start);
        let to = next.min(hour_end);
        if to <= from || !billed(point.state) {
            continue;
        }
        let minutes = minute(to) - minute(from);
        if minutes <= 0 {
            continue;
        }
        match out.iter_mut().find(|(size, _)| *size == point.size_aku) {
            Some((_, m)) => *m += minutes,
            None => out.push((point.size_aku, minutes)),
        }
    }
    out
}

/// Traffic of one instance over one full hour, as its provisioner reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Traffic {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Bytes retained (a level, not a flow).
    pub bytes_retained: u64,
}

pub fn round_quantity(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(QUANTITY_DP, RoundingStrategy::MidpointNearestEven)
        .normalize()
}

/// The ledger records of one instance for one hour: (dimension, quantity), zero ones left
/// out. Traffic counts for the billed part of the hour only.
pub fn hour_records(
    history: &[HistoryPoint],
    hour_start: i64,
    traffic: Traffic,
) -> Vec<(&'static str, Decimal)> {
    let minutes = billed_minutes(history, hour_start);
    let total_minutes: i64 = minutes.iter().map(|(_, m)| m).sum();
    if total_minutes == 0 {
        return Vec::new();
    }
    let sixty = Decimal::from(60);
    let aku_minutes: i64 = minutes.iter().map(|(size, m)| i64::from(*size) * m).sum();
    let mut records = vec![("aku_hours", Decimal::from(aku_minutes) / sixty)];
    let part = Decimal::from(total_minutes) / sixty;
    let gib = |bytes: u64| Decimal::from(bytes) / Decimal::from(GIB) * part;
    records.push(("data_in_gib", gib(traffic.bytes_in)));
    records.push(("data_out_gib", gib(traffic.bytes_out)));
    records.push(("data_retained_gib_hours", gib(traffic.bytes_retained)));
    for tier in [Tier::Dev, Tier::Pro, Tier::Enterprise] {
        let m: i64 = minutes
            .iter()
            .filter(|(size, _)| tier_of(*size) == tier)
            .map(|(_, m)| m)
            .sum();
        if m > 0 {
            records.push((tier.uptime_dimension(), Decimal::from(m) / sixty));
        }
    }
    records
        .into_iter()
        .map(|(d, q)| (d, round_quantity(q)))
        .filter(|(_, q)| !q.is_zero())
        .collect()
}

/// A stable id for one ledger record: the same instance, hour and dimension always give the
/// same id, so a marketplace that receives a record twice counts it once.
pub fn record_id(
    installation_id: &str,
    instance_id: i64,
    hour_start: i64,
    dimension: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{installation_id}|{instance_id}|{hour_start}|{dimension}").as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hours to meter now, as hour starts `[from, to)`: from where metering stopped (or the
/// hour of the first instance ever) up to the last closed hour before `now`. Empty when there
/// is nothing yet, when everything is metered, and when the clock was turned back.
pub fn due_hours(
    metered_until: Option<i64>,
    first_history: Option<i64>,
    now: i64,
) -> std::ops::Range<i64> {
    let to = hour_floor(now);
    let from = match (metered_until, first_history) {
        (Some(until), _) => until,
        (None, Some(first)) => hour_floor(first),
        (None, None) => to,
    };
    from..to.max(from)
}

/// The first second of the hour containing `t`.
pub fn hour_floor(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decimal from text, for readable expectations.
    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// An hour boundary (1.8e9 is a multiple of 3600).
    const H: i64 = 1_800_000_000;

    fn p(at: i64, state: State, size: u32) -> HistoryPoint {
        HistoryPoint {
            at,
            state,
            size_aku: size,
        }
    }

    fn quantity(records: &[(&str, Decimal)], dimension: &str) -> Decimal {
        records
            .iter()
            .find(|(d, _)| *d == dimension)
            .map(|(_, q)| *q)
            .unwrap_or_default()
    }

    #[test]
    fn a_whole_running_hour() {
        let history = [
            p(H - 7200, State::Creating, 6),
            p(H - 3600, State::Running, 6),
        ];
        let r = hour_records(&history, H, Traffic::default());
        assert_eq!(quantity(&r, "aku_hours"), dec("6"));
        assert_eq!(quantity(&r, "uptime_hours_dev"), dec("1"));
    }

    #[test]
    fn creating_time_is_not_billed_running_starts_the_count() {
        let history = [
            p(H, State::Creating, 6),
            p(H + 15 * 60 + 30, State::Running, 6),
        ];
        // Running from :15:30; to the minute, 45 minutes.
        let r = hour_records(&history, H, Traffic::default());
        assert_eq!(quantity(&r, "aku_hours"), dec("4.5"));
    }

    #[test]
    fn a_scale_mid_hour_is_prorated_to_the_minute() {
        let history = [
            p(H - 100, State::Running, 6),
            p(H + 20 * 60, State::Changing, 6),
            p(H + 25 * 60, State::Running, 12),
        ];
        // 6 AKU for 25 minutes (running, then changing), 12 AKU for 35: 2.5 + 7 = 9.5.
        let r = hour_records(&history, H, Traffic::default());
        assert_eq!(quantity(&r, "aku_hours"), dec("9.5"));
        assert_eq!(
            quantity(&r, "uptime_hours_dev"),
            dec("0.416667"),
            "25/60, rounded"
        );
        assert_eq!(quantity(&r, "uptime_hours_pro"), dec("0.583333"));
    }

    #[test]
    fn suspended_abnormal_and_deleted_time_is_not_billed() {
        let history = [
            p(H - 100, State::Running, 10),
            p(H + 10 * 60, State::Suspended, 10),
            p(H + 30 * 60, State::Running, 10),
            p(H + 40 * 60, State::Abnormal, 10),
            p(H + 45 * 60, State::Deleting, 10),
            p(H + 50 * 60, State::Deleted, 10),
        ];
        // Billed: :00-:10, :30-:40, :45-:50 = 25 minutes of 10 AKU.
        let r = hour_records(&history, H, Traffic::default());
        assert_eq!(quantity(&r, "aku_hours"), dec("4.166667"));
        assert!(hour_records(&history, H + HOUR, Traffic::default()).is_empty());
    }

    #[test]
    fn traffic_counts_for_the_billed_part_of_the_hour() {
        let history = [p(H + 30 * 60, State::Running, 3)];
        let traffic = Traffic {
            bytes_in: 4 * GIB,
            bytes_out: 8 * GIB,
            bytes_retained: 100 * GIB,
        };
        let r = hour_records(&history, H, traffic);
        assert_eq!(quantity(&r, "data_in_gib"), dec("2"));
        assert_eq!(quantity(&r, "data_out_gib"), dec("4"));
        assert_eq!(quantity(&r, "data_retained_gib_hours"), dec("50"));
    }

    #[test]
    fn due_hours_after_a_gap_and_never_twice() {
        // Metered up to H; the console was down for two days and comes back at H+48h+10min.
        let r = due_hours(Some(H), Some(H - 10 * HOUR), H + 48 * HOUR + 600);
        assert_eq!(r, H..H + 48 * HOUR);
        assert_eq!(r.step_by(HOUR as usize).count(), 48);
        // Just metered: nothing until the next hour closes.
        assert!(due_hours(Some(H + HOUR), None, H + HOUR + 3599).is_empty());
        // The first time: from the hour of the first instance.
        assert_eq!(
            due_hours(None, Some(H + 1800), H + 3 * HOUR),
            H..H + 3 * HOUR
        );
        // No instance ever, or a clock turned back: nothing.
        assert!(due_hours(None, None, H).is_empty());
        assert!(due_hours(Some(H + 5 * HOUR), None, H).is_empty());
    }

    #[test]
    fn tiers_by_size() {
        assert_eq!(tier_of(3), Tier::Dev);
        assert_eq!(tier_of(6), Tier::Dev);
        assert_eq!(tier_of(7), Tier::Pro);
        assert_eq!(tier_of(48), Tier::Pro);
        assert_eq!(tier_of(49), Tier::Enterprise);
    }

    #[test]
    fn record_ids_are_stable_and_distinct() {
        let a = record_id("inst", 1, H, "aku_hours");
        assert_eq!(a, record_id("inst", 1, H, "aku_hours"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, record_id("inst", 1, H + HOUR, "aku_hours"));
        assert_ne!(a, record_id("inst", 2, H, "aku_hours"));
        assert_ne!(a, record_id("inst", 1, H, "data_in_gib"));
    }

    #[test]
    fn rounding_is_half_to_even_at_six_places() {
        assert_eq!(round_quantity(dec("0.0000005")), dec("0"));
        assert_eq!(round_quantity(dec("0.0000015")), dec("0.000002"));
        assert_eq!(round_quantity(dec("2.50")), dec("2.5"));
    }
}
