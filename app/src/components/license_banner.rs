//! The license banner shown on every signed-in page when something needs attention.

use crate::api::license::LicenseBanner;
use crate::api::marketplace::SubscriptionHold;
use crate::components::format::{days, utc};
use crate::domain::license_state::{Phase, Urgency};
use leptos::prelude::*;

#[component]
pub fn LicenseBannerView(banner: LicenseBanner) -> impl IntoView {
    let urgency_class = |u: Option<Urgency>| match u {
        Some(Urgency::Critical) => "banner critical",
        Some(Urgency::Warning) => "banner warning",
        _ => "banner notice",
    };
    let state_line = match banner.phase {
        Phase::ExpiringSoon => Some(format!(
            "The license expires in {}. Apply a renewal key on the License page.",
            days(banner.days_left.unwrap_or(0))
        )),
        Phase::ExpiredGrace => Some(format!(
            "The license has expired. {} of grace left: instances keep running, but nothing can be created or scaled up. Apply a renewal key.",
            days(banner.days_left.unwrap_or(0))
        )),
        Phase::Lapsed => Some(
            "The license has lapsed: instances are suspended (their data is kept). Apply a new product key to resume them."
                .to_string(),
        ),
        Phase::Active | Phase::Unactivated => None,
    };
    let subscription = banner.subscription.as_ref().map(|hold| match hold {
        SubscriptionHold::NoGrowth { since, suspend_at } => format!(
            "The marketplace subscription ended on {}: nothing can be created or scaled up. Running instances will be suspended (their data kept) at {} unless the subscription is renewed.",
            utc(*since),
            utc(*suspend_at)
        ),
        SubscriptionHold::Suspended { since } => format!(
            "The marketplace subscription ended on {}: instances are suspended (their data is kept). Renew the subscription, then check the link again on the Marketplace page.",
            utc(*since)
        ),
        SubscriptionHold::LinkDue { reason, deadline, .. } => format!(
            "This pay-as-you-go license is billed through its marketplace listing, and {}: link it on the Marketplace page before {}, or nothing can be created or scaled up from then on.",
            reason.describe(),
            utc(*deadline)
        ),
        SubscriptionHold::LinkOverdue { reason, deadline, .. } => format!(
            "This pay-as-you-go license is billed through its marketplace listing, and {}; the grace ended at {}: nothing can be created or scaled up until the environment is linked on the Marketplace page.",
            reason.describe(),
            utc(*deadline)
        ),
    });
    let over_quota = banner.over_quota_by.map(|n| {
        format!("{n} AKU more are in use than the license grants: nothing can be created or scaled up until usage is within the quota.")
    });
    view! {
        {state_line
            .map(|line| {
                view! {
                    <div class=urgency_class(banner.urgency) role="status" data-testid="license-banner">
                        {line}
                        " "
                        <a href="/license">"License"</a>
                    </div>
                }
            })}
        {subscription
            .map(|line| {
                view! {
                    <div class="banner critical" role="status" data-testid="subscription-banner">
                        {line}
                        " "
                        <a href="/marketplace">"Marketplace"</a>
                    </div>
                }
            })}
        {over_quota
            .map(|line| {
                view! {
                    <div class="banner warning" role="status" data-testid="over-quota-banner">
                        {line}
                        " "
                        <a href="/license">"License"</a>
                    </div>
                }
            })}
        {banner
            .clock_turned_back
            .then(|| {
                view! {
                    <div class="banner warning" role="status" data-testid="clock-banner">
                        "The system clock is more than a day behind the latest time this console has seen. License dates are computed from that latest time; check the host's clock."
                    </div>
                }
            })}
        {banner
            .run_time_key
            .then(|| {
                view! {
                    <div class="banner notice" role="status" data-testid="run-time-key-banner">
                        "This environment's license is signed by a vendor key trusted at run time (a test or demo key), not by one of the vendor keys built into the console."
                    </div>
                }
            })}
    }
}
