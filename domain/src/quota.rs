//! The quota rule. Used AKU is the sum of the sizes of all instances that are not deleted; an
//! instance being scaled counts at the larger of its old and new size until the change
//! finishes. Creating or scaling up is allowed only while the license allows growth and only if
//! the result stays within the quota; scaling down and deleting are always allowed.
//!
//! The store runs [`check_growth`] inside the same write transaction as the write, so two
//! operators at the same moment can never together exceed the quota.

use crate::license_state::LicenseStatus;
use std::fmt;

/// What an instance holds of the quota right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub size_aku: u32,
    /// The size a scale in progress moves to.
    pub target_aku: Option<u32>,
    pub deleted: bool,
}

pub fn used_aku(holdings: impl IntoIterator<Item = Holding>) -> u32 {
    holdings
        .into_iter()
        .filter(|h| !h.deleted)
        .map(|h| h.size_aku.max(h.target_aku.unwrap_or(0)))
        .fold(0u32, u32::saturating_add)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaError {
    /// The license is not Active or Expiring soon, or is over quota.
    LicenseForbidsGrowth { reason: String },
    /// Not enough AKU left: the exact shortfall.
    Exceeded { needs: u32, left: u32, quota: u32 },
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuotaError::LicenseForbidsGrowth { reason } => {
                write!(f, "No instance can be created or scaled up now: {reason}.")
            }
            QuotaError::Exceeded { needs, left, quota } => write!(
                f,
                "Not enough quota: needs {needs} AKU, {left} left of {quota}. Scale down or delete an instance, or apply an upgrade key."
            ),
        }
    }
}

/// Whether `extra_aku` more may be taken (a new instance's size, or a scale-up's increase).
/// `quota` is None for uncapped pay-as-you-go.
pub fn check_growth(
    status: &LicenseStatus,
    quota: Option<u32>,
    used: u32,
    extra_aku: u32,
) -> Result<(), QuotaError> {
    use crate::license_state::Phase;
    let reason = match (status.phase, status.over_quota_by) {
        (Phase::Unactivated, _) => Some("the environment is not activated".to_string()),
        (Phase::ExpiredGrace, _) => {
            Some("the license has expired (grace period); apply a renewal key".to_string())
        }
        (Phase::Lapsed, _) => Some("the license has lapsed; apply a new product key".to_string()),
        (_, Some(n)) => Some(format!("{n} AKU more are in use than the license grants")),
        _ => None,
    };
    if let Some(reason) = reason {
        return Err(QuotaError::LicenseForbidsGrowth { reason });
    }
    check_fits(quota, used, extra_aku)
}

/// The arithmetic half of [`check_growth`]: whether `extra_aku` more fit the quota.
pub fn check_fits(quota: Option<u32>, used: u32, extra_aku: u32) -> Result<(), QuotaError> {
    if let Some(quota) = quota {
        let left = quota.saturating_sub(used);
        if extra_aku > left {
            return Err(QuotaError::Exceeded {
                needs: extra_aku,
                left,
                quota,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license_state::{LicenseStatus, Phase};

    fn status(phase: Phase) -> LicenseStatus {
        LicenseStatus {
            phase,
            days_left: Some(100),
            urgency: None,
            over_quota_by: None,
        }
    }

    #[test]
    fn used_counts_live_instances_and_the_larger_size_while_scaling() {
        let holdings = [
            Holding {
                size_aku: 10,
                target_aku: None,
                deleted: false,
            },
            Holding {
                size_aku: 6,
                target_aku: Some(12),
                deleted: false,
            },
            Holding {
                size_aku: 20,
                target_aku: Some(4),
                deleted: false,
            },
            Holding {
                size_aku: 99,
                target_aku: None,
                deleted: true,
            },
        ];
        assert_eq!(used_aku(holdings), 10 + 12 + 20);
    }

    #[test]
    fn exactly_at_the_quota_is_allowed_one_more_is_not() {
        let active = status(Phase::Active);
        assert_eq!(check_growth(&active, Some(300), 288, 12), Ok(()));
        let error = check_growth(&active, Some(300), 292, 12).unwrap_err();
        assert_eq!(
            error,
            QuotaError::Exceeded {
                needs: 12,
                left: 8,
                quota: 300
            }
        );
        assert!(error.to_string().contains("needs 12 AKU, 8 left of 300"));
    }

    #[test]
    fn over_the_quota_already_leaves_nothing() {
        assert_eq!(
            check_fits(Some(100), 120, 3),
            Err(QuotaError::Exceeded {
                needs: 3,
                left: 0,
                quota: 100
            })
        );
        assert_eq!(check_fits(Some(100), 0, 100), Ok(()));
        assert!(check_fits(Some(100), 0, u32::MAX).is_err());
    }

    #[test]
    fn uncapped_payg_has_no_quota_limit() {
        assert_eq!(
            check_growth(&status(Phase::Active), None, 10_000, 500),
            Ok(())
        );
    }

    #[test]
    fn only_active_and_expiring_soon_allow_growth() {
        assert!(check_growth(&status(Phase::ExpiringSoon), Some(100), 0, 3).is_ok());
        for phase in [Phase::Unactivated, Phase::ExpiredGrace, Phase::Lapsed] {
            assert!(matches!(
                check_growth(&status(phase), Some(100), 0, 3),
                Err(QuotaError::LicenseForbidsGrowth { .. })
            ));
        }
        let over = LicenseStatus {
            over_quota_by: Some(5),
            ..status(Phase::Active)
        };
        assert!(matches!(
            check_growth(&over, Some(100), 105, 3),
            Err(QuotaError::LicenseForbidsGrowth { .. })
        ));
    }
}
