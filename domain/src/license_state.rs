//! The license state as a function of the applied license, the clock and the AKU in use.
//! The instance rules ask [`LicenseStatus::allows_growth`]; banners read the rest.

use crate::license::LicensePayload;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// From this many days before expiry on, the license is "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 30;
/// A clock this far behind the latest time the console has seen counts as turned back.
pub const CLOCK_ROLLBACK_TOLERANCE: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Phase {
    Unactivated,
    Active,
    ExpiringSoon,
    /// Past expiry, within the grace days: instances run, nothing grows.
    ExpiredGrace,
    /// Past the grace days: instances are suspended (data kept).
    Lapsed,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Unactivated,
        Phase::Active,
        Phase::ExpiringSoon,
        Phase::ExpiredGrace,
        Phase::Lapsed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Phase::Unactivated => "Not activated",
            Phase::Active => "Active",
            Phase::ExpiringSoon => "Expiring soon",
            Phase::ExpiredGrace => "Expired (grace period)",
            Phase::Lapsed => "Lapsed",
        }
    }

    /// A stable name for logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Unactivated => "unactivated",
            Phase::Active => "active",
            Phase::ExpiringSoon => "expiring_soon",
            Phase::ExpiredGrace => "expired_grace",
            Phase::Lapsed => "lapsed",
        }
    }
}

/// How loudly a banner should speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Urgency {
    /// 30 days or less left.
    Notice,
    /// 7 days or less left, or in grace.
    Warning,
    /// 1 day or less left, or lapsed.
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseStatus {
    pub phase: Phase,
    /// Whole days (rounded up) until expiry; in grace, until the grace period ends.
    pub days_left: Option<i64>,
    pub urgency: Option<Urgency>,
    /// AKU in use beyond the quota, when a smaller quota was applied.
    pub over_quota_by: Option<u32>,
}

impl LicenseStatus {
    /// Whether instances may be created or scaled up: Active or Expiring soon, within quota.
    pub fn allows_growth(&self) -> bool {
        matches!(self.phase, Phase::Active | Phase::ExpiringSoon) && self.over_quota_by.is_none()
    }
}

fn days_until(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    let seconds = (to - from).whole_seconds();
    (seconds + 86_399).div_euclid(86_400)
}

pub fn status(
    license: Option<&LicensePayload>,
    now: OffsetDateTime,
    used_aku: u32,
) -> LicenseStatus {
    let Some(license) = license else {
        return LicenseStatus {
            phase: Phase::Unactivated,
            days_left: None,
            urgency: None,
            over_quota_by: None,
        };
    };
    let grace_end = license.expires_at + Duration::days(i64::from(license.grace_days));
    let (phase, days_left, urgency) = if now < license.expires_at {
        let days = days_until(now, license.expires_at);
        let left = license.expires_at - now;
        let urgency = if left <= Duration::days(1) {
            Some(Urgency::Critical)
        } else if left <= Duration::days(7) {
            Some(Urgency::Warning)
        } else if left <= Duration::days(EXPIRING_SOON_DAYS) {
            Some(Urgency::Notice)
        } else {
            None
        };
        let phase = if urgency.is_some() {
            Phase::ExpiringSoon
        } else {
            Phase::Active
        };
        (phase, Some(days), urgency)
    } else if now < grace_end {
        (
            Phase::ExpiredGrace,
            Some(days_until(now, grace_end)),
            Some(Urgency::Warning),
        )
    } else {
        (Phase::Lapsed, None, Some(Urgency::Critical))
    };
    let over_quota_by = license
        .aku_quota
        .and_then(|q| used_aku.checked_sub(q))
        .filter(|&n| n > 0);
    LicenseStatus {
        phase,
        days_left,
        urgency,
        over_quota_by,
    }
}

/// The time the license rules use. If the system clock is more than a day behind the latest
/// time the console has seen, someone turned it back (to stretch a license): the latest seen
/// time is used instead, and the second value says to warn the administrator.
pub fn effective_now(
    system: OffsetDateTime,
    latest_seen: Option<OffsetDateTime>,
) -> (OffsetDateTime, bool) {
    match latest_seen {
        Some(seen) if system < seen - CLOCK_ROLLBACK_TOLERANCE => (seen, true),
        _ => (system, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::tests::payload;
    use time::macros::datetime;

    fn at(now: OffsetDateTime) -> LicenseStatus {
        status(Some(&payload()), now, 0)
    }

    // payload(): expires 2027-01-01 00:00 UTC with 14 grace days.
    const EXPIRY: OffsetDateTime = datetime!(2027-01-01 00:00 UTC);

    #[test]
    fn unactivated_without_a_license() {
        let s = status(None, EXPIRY, 0);
        assert_eq!(s.phase, Phase::Unactivated);
        assert!(!s.allows_growth());
    }

    #[test]
    fn active_until_thirty_days_before_expiry() {
        let s = at(EXPIRY - Duration::days(30) - Duration::seconds(1));
        assert_eq!(
            (s.phase, s.urgency, s.days_left),
            (Phase::Active, None, Some(31))
        );
        assert!(s.allows_growth());
        let s = at(EXPIRY - Duration::days(30));
        assert_eq!(
            (s.phase, s.urgency, s.days_left),
            (Phase::ExpiringSoon, Some(Urgency::Notice), Some(30))
        );
        assert!(s.allows_growth());
    }

    #[test]
    fn urgency_rises_at_seven_and_one_days() {
        assert_eq!(
            at(EXPIRY - Duration::days(7) - Duration::seconds(1)).urgency,
            Some(Urgency::Notice)
        );
        assert_eq!(
            at(EXPIRY - Duration::days(7)).urgency,
            Some(Urgency::Warning)
        );
        assert_eq!(
            at(EXPIRY - Duration::days(1) - Duration::seconds(1)).urgency,
            Some(Urgency::Warning)
        );
        let s = at(EXPIRY - Duration::days(1));
        assert_eq!((s.urgency, s.days_left), (Some(Urgency::Critical), Some(1)));
        assert_eq!(at(EXPIRY - Duration::seconds(1)).days_left, Some(1));
    }

    #[test]
    fn exactly_at_expiry_the_grace_period_starts() {
        let s = at(EXPIRY);
        assert_eq!((s.phase, s.days_left), (Phase::ExpiredGrace, Some(14)));
        assert!(!s.allows_growth());
    }

    #[test]
    fn exactly_at_grace_end_the_license_lapses() {
        let grace_end = EXPIRY + Duration::days(14);
        assert_eq!(
            at(grace_end - Duration::seconds(1)).phase,
            Phase::ExpiredGrace
        );
        assert_eq!(at(grace_end - Duration::seconds(1)).days_left, Some(1));
        let s = at(grace_end);
        assert_eq!(
            (s.phase, s.urgency),
            (Phase::Lapsed, Some(Urgency::Critical))
        );
        assert!(!s.allows_growth());
    }

    #[test]
    fn zero_grace_days_lapse_at_expiry() {
        let mut p = payload();
        p.grace_days = 0;
        assert_eq!(status(Some(&p), EXPIRY, 0).phase, Phase::Lapsed);
    }

    #[test]
    fn over_quota_blocks_growth_while_active() {
        let now = datetime!(2026-06-01 00:00 UTC);
        assert_eq!(status(Some(&payload()), now, 100).over_quota_by, None);
        let s = status(Some(&payload()), now, 112);
        assert_eq!((s.phase, s.over_quota_by), (Phase::Active, Some(12)));
        assert!(!s.allows_growth());
    }

    #[test]
    fn uncapped_payg_is_never_over_quota() {
        let mut p = payload();
        p.aku_quota = None;
        assert_eq!(
            status(Some(&p), datetime!(2026-06-01 00:00 UTC), 10_000).over_quota_by,
            None
        );
    }

    #[test]
    fn clock_turned_back_more_than_a_day_uses_the_latest_seen_time() {
        let seen = datetime!(2026-06-10 00:00 UTC);
        assert_eq!(
            effective_now(seen - Duration::hours(24), Some(seen)),
            (seen - Duration::hours(24), false)
        );
        assert_eq!(
            effective_now(seen - Duration::hours(25), Some(seen)),
            (seen, true)
        );
        assert_eq!(
            effective_now(seen + Duration::hours(1), Some(seen)),
            (seen + Duration::hours(1), false)
        );
        assert_eq!(effective_now(seen, None), (seen, false));
    }
}
