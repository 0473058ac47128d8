//! The subscription as the marketplace last said it, and what it allows.

use super::{Answer, Marketplace};
use crate::metering::HOUR;

/// The link's view of the subscription after a call's answer: `NotEntitled` ends it (from
/// `now`, unless it had ended already); an accepted report or a successful check shows it
/// entitled again. Other answers change nothing.
pub fn entitlement_after(current: Entitlement, answer: &Answer, now: i64) -> Entitlement {
    match (answer, current) {
        (Answer::NotEntitled, Entitlement::Ended { since }) => Entitlement::Ended { since },
        (Answer::NotEntitled, Entitlement::Renewed { ended_since }) => {
            Entitlement::Ended { since: ended_since }
        }
        (Answer::NotEntitled, Entitlement::Entitled) => Entitlement::Ended { since: now },
        (Answer::Accepted | Answer::Duplicate, _) => Entitlement::Entitled,
        (
            Answer::Retryable(_)
            | Answer::PermissionDenied(_)
            | Answer::Refused(_)
            | Answer::OutOfWindow
            | Answer::Unconfirmed(_),
            current,
        ) => current,
    }
}

/// The subscription after a link check that passed. Alibaba's check reads the service
/// instance's status: it proves the subscription. AWS's dry run proves the permission only:
/// an ended subscription is `Renewed` (growth resumes) until a report confirms or denies it.
pub fn entitlement_after_check(current: Entitlement, marketplace: Marketplace) -> Entitlement {
    match (marketplace, current) {
        (Marketplace::Alibaba, _) => Entitlement::Entitled,
        (Marketplace::Aws, Entitlement::Ended { since }) => {
            Entitlement::Renewed { ended_since: since }
        }
        (Marketplace::Aws, current) => current,
    }
}

/// The subscription as the marketplace last said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement {
    Entitled,
    /// Since when the marketplace says the customer is not entitled.
    Ended {
        since: i64,
    },
    /// A check passed after the subscription ended, but the check cannot prove entitlement
    /// (AWS's dry run proves the permission only): growth is allowed again until a report
    /// says otherwise, and then the end counts from when it first ended, so checking again
    /// does not restart the grace period.
    Renewed {
        ended_since: i64,
    },
}

/// What the subscription allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionEffect {
    Normal,
    /// Ended, within the grace period: no new instances and no scaling up; a banner says
    /// when instances will be suspended.
    NoGrowth {
        suspend_at: i64,
    },
    /// Past the grace period: running instances are suspended, their data kept.
    Suspend,
}

/// The default grace after a subscription ends, before instances are suspended.
pub const DEFAULT_GRACE_S: i64 = 72 * HOUR;

pub fn effect(entitlement: Entitlement, grace_s: i64, now: i64) -> SubscriptionEffect {
    match entitlement {
        Entitlement::Entitled | Entitlement::Renewed { .. } => SubscriptionEffect::Normal,
        Entitlement::Ended { since } if now < since + grace_s => SubscriptionEffect::NoGrowth {
            suspend_at: since + grace_s,
        },
        Entitlement::Ended { .. } => SubscriptionEffect::Suspend,
    }
}
