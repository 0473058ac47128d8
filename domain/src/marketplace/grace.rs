//! **The link grace.** A pay-as-you-go license whose key names a listing is billed through
//! that listing only: the environment must be linked to it, with reports the marketplace
//! permits, within a grace (72 hours by default). The grace starts when the first
//! pay-as-you-go key was applied (activation), when the link is removed, or when a report is
//! first refused for lack of permission (the host's role lost `MeterUsage`); until it ends a
//! banner says so, and after it creating and scaling up are refused, as for an ended
//! subscription. A link (or an accepted report, for a permission failure) ends it.
//! Re-applying a key does not restart it: activation is the first pay-as-you-go key's.

use crate::metering::HOUR;
use serde::{Deserialize, Serialize};

/// The default grace before an environment bound to a listing must be linked.
pub const DEFAULT_LINK_GRACE_S: i64 = 72 * HOUR;

/// Why the environment owes a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GraceReason {
    /// Activated and never linked.
    NotLinked,
    /// The link was removed.
    Unlinked,
    /// Linked, but the marketplace refuses the host's reports for lack of permission.
    PermissionDenied,
}

impl GraceReason {
    /// The audit log's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GraceReason::NotLinked => "not linked",
            GraceReason::Unlinked => "unlinked",
            GraceReason::PermissionDenied => "permission denied",
        }
    }

    /// What an operator reads.
    pub fn describe(self) -> &'static str {
        match self {
            GraceReason::NotLinked => "the environment has not been linked to it",
            GraceReason::Unlinked => "the environment's link to it was removed",
            GraceReason::PermissionDenied => {
                "the marketplace refuses the host's reports for lack of permission"
            }
        }
    }
}

/// What the rule needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFacts {
    /// A pay-as-you-go license whose key names a listing.
    pub listing_bound: bool,
    /// When the first pay-as-you-go key was applied.
    pub activated_at: i64,
    /// The latest link, if there was one.
    pub latest: Option<LinkFact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFact {
    pub unlinked_at: Option<i64>,
    /// Since when the marketplace refuses its reports for lack of permission.
    pub permission_denied_since: Option<i64>,
}

/// Where the environment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDuty {
    /// Not bound to a listing (prepaid, trial, or a key that names none).
    Free,
    /// Linked, reports permitted.
    Met,
    /// Within the grace: a banner, growth allowed.
    Due {
        reason: GraceReason,
        since: i64,
        deadline: i64,
    },
    /// Past the grace: growth refused until linked.
    Overdue {
        reason: GraceReason,
        since: i64,
        deadline: i64,
    },
}

impl LinkDuty {
    pub fn refuses_growth(&self) -> bool {
        matches!(self, LinkDuty::Overdue { .. })
    }
}

/// The rule. A negative grace is an error, never a default.
pub fn link_duty(facts: LinkFacts, grace_s: i64, now: i64) -> Result<LinkDuty, String> {
    if grace_s < 0 {
        return Err(format!(
            "link grace: {grace_s} s is negative; it must be 0 or more"
        ));
    }
    if !facts.listing_bound {
        return Ok(LinkDuty::Free);
    }
    let (reason, since) = match facts.latest {
        Some(LinkFact {
            unlinked_at: None,
            permission_denied_since: None,
        }) => return Ok(LinkDuty::Met),
        Some(LinkFact {
            unlinked_at: None,
            permission_denied_since: Some(since),
        }) => (GraceReason::PermissionDenied, since),
        Some(LinkFact {
            unlinked_at: Some(at),
            ..
        }) if at > facts.activated_at => (GraceReason::Unlinked, at),
        _ => (GraceReason::NotLinked, facts.activated_at),
    };
    let deadline = since.saturating_add(grace_s);
    Ok(if now < deadline {
        LinkDuty::Due {
            reason,
            since,
            deadline,
        }
    } else {
        LinkDuty::Overdue {
            reason,
            since,
            deadline,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: i64 = DEFAULT_LINK_GRACE_S;

    fn facts(latest: Option<LinkFact>) -> LinkFacts {
        LinkFacts {
            listing_bound: true,
            activated_at: 1_000,
            latest,
        }
    }

    #[test]
    fn the_default_grace_is_72_hours() {
        assert_eq!(G, 72 * 3600);
    }

    #[test]
    fn a_license_that_names_no_listing_owes_nothing() {
        let free = LinkFacts {
            listing_bound: false,
            ..facts(None)
        };
        assert_eq!(link_duty(free, G, i64::MAX), Ok(LinkDuty::Free));
    }

    #[test]
    fn never_linked_counts_from_activation_to_the_second() {
        let due = link_duty(facts(None), G, 1_000 + G - 1).unwrap();
        assert_eq!(
            due,
            LinkDuty::Due {
                reason: GraceReason::NotLinked,
                since: 1_000,
                deadline: 1_000 + G
            }
        );
        assert!(!due.refuses_growth());
        let over = link_duty(facts(None), G, 1_000 + G).unwrap();
        assert!(over.refuses_growth());
    }

    #[test]
    fn linked_and_permitted_owes_nothing() {
        let linked = Some(LinkFact {
            unlinked_at: None,
            permission_denied_since: None,
        });
        assert_eq!(
            link_duty(facts(linked), G, 1_000 + 10 * G),
            Ok(LinkDuty::Met)
        );
    }

    #[test]
    fn unlinking_starts_the_grace_from_the_unlink() {
        let unlinked = Some(LinkFact {
            unlinked_at: Some(50_000),
            permission_denied_since: None,
        });
        assert_eq!(
            link_duty(facts(unlinked), G, 50_000 + G - 1),
            Ok(LinkDuty::Due {
                reason: GraceReason::Unlinked,
                since: 50_000,
                deadline: 50_000 + G
            })
        );
        assert!(link_duty(facts(unlinked), G, 50_000 + G)
            .unwrap()
            .refuses_growth());
    }

    #[test]
    fn a_link_removed_before_activation_counts_from_activation() {
        // A link of an earlier license, removed before this pay-as-you-go key was applied.
        let old = Some(LinkFact {
            unlinked_at: Some(500),
            permission_denied_since: None,
        });
        assert_eq!(
            link_duty(facts(old), G, 1_000),
            Ok(LinkDuty::Due {
                reason: GraceReason::NotLinked,
                since: 1_000,
                deadline: 1_000 + G
            })
        );
    }

    #[test]
    fn permission_failures_count_like_an_unlink() {
        let denied = Some(LinkFact {
            unlinked_at: None,
            permission_denied_since: Some(9_000),
        });
        assert_eq!(
            link_duty(facts(denied), G, 9_000),
            Ok(LinkDuty::Due {
                reason: GraceReason::PermissionDenied,
                since: 9_000,
                deadline: 9_000 + G
            })
        );
        assert!(link_duty(facts(denied), G, 9_000 + G)
            .unwrap()
            .refuses_growth());
    }

    #[test]
    fn a_negative_grace_is_refused_naming_it() {
        let error = link_duty(facts(None), -1, 0).unwrap_err();
        assert!(error.contains("link grace"), "{error}");
    }

    #[test]
    fn the_deadline_does_not_overflow() {
        let duty = link_duty(facts(None), i64::MAX, 0).unwrap();
        assert!(matches!(
            duty,
            LinkDuty::Due {
                deadline: i64::MAX,
                ..
            }
        ));
    }
}
