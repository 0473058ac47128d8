//! Marketplace: the environment's link to its marketplace subscription (admins link, check
//! again and unlink), what the subscription allows now, the reports that need a look (retry a
//! rejected one; settle one whose outcome is unknown), earlier links, and how each ledger
//! dimension becomes the marketplace's units.

use crate::api::error::{field_error, general_error};
use crate::api::marketplace::{
    marketplace, CheckMarketplace, DecideReport, LinkMarketplace, LinkView, MappingView,
    MarketplaceData, ReportView, SubscriptionHold, UnlinkMarketplace,
};
use crate::components::field::Field;
use crate::components::format::utc;
use crate::components::page_data::page_data;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MarketplacePage() -> impl IntoView {
    let link = ServerAction::<LinkMarketplace>::new();
    let unlink = ServerAction::<UnlinkMarketplace>::new();
    let check = ServerAction::<CheckMarketplace>::new();
    let decide = ServerAction::<DecideReport>::new();
    let data = page_data(
        move || {
            (
                link.version().get(),
                unlink.version().get(),
                check.version().get(),
                decide.version().get(),
            )
        },
        |_| marketplace(),
    );
    let actions = Actions {
        link,
        unlink,
        check,
        decide,
    };
    view! {
        <Title text="Marketplace" />
        <h1>"Marketplace"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await.map(|d| view! { <MarketplaceBody d actions /> })
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    link: ServerAction<LinkMarketplace>,
    unlink: ServerAction<UnlinkMarketplace>,
    check: ServerAction<CheckMarketplace>,
    decide: ServerAction<DecideReport>,
}

#[component]
fn MarketplaceBody(d: MarketplaceData, actions: Actions) -> impl IntoView {
    let billing_line = match (&d.billing, &d.license_listing) {
        (None, _) => "The environment is not activated.".to_string(),
        (Some(b), _) if b != "payg" => format!(
            "The license is {b}: only a pay-as-you-go license is billed through a marketplace."
        ),
        (Some(_), Some(listing)) => {
            format!("The pay-as-you-go license is billed through {listing}.")
        }
        (Some(_), None) => {
            "The pay-as-you-go license names no listing: link the one the vendor gave you."
                .to_string()
        }
    };
    let hold = d.hold.map(|hold| match hold {
        SubscriptionHold::NoGrowth { since, suspend_at } => format!(
            "The subscription ended on {}. Nothing can be created or scaled up; running instances are suspended (data kept) at {} unless it is renewed.",
            utc(since),
            utc(suspend_at)
        ),
        SubscriptionHold::Suspended { since } => format!(
            "The subscription ended on {}; instances are suspended (data kept). Renew it, then check again.",
            utc(since)
        ),
        SubscriptionHold::LinkDue {
            reason, deadline, ..
        } => format!(
            "The license is billed through its listing and {}: link it before {}, or growth is refused from then on.",
            reason.describe(),
            utc(deadline)
        ),
        SubscriptionHold::LinkOverdue {
            reason, deadline, ..
        } => format!(
            "The license is billed through its listing and {}; the grace ended at {}: growth is refused until linked.",
            reason.describe(),
            utc(deadline)
        ),
    });
    let counts = d
        .counts
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect::<Vec<_>>()
        .join(" · ");
    let is_admin = d.is_admin;
    view! {
        <section class="card" data-testid="marketplace-status">
            <h2>"Subscription"</h2>
            <p data-testid="marketplace-billing">{billing_line}</p>
            {hold.map(|h| view! { <p class="notice warning" data-testid="marketplace-hold">{h}</p> })}
            {match d.active.clone() {
                Some(active) => Either::Left(view! { <ActiveLink active is_admin actions /> }),
                None => Either::Right(view! {
                    <p data-testid="not-linked">"Not linked: hours are metered into the ledger, but nothing is reported to a marketplace."</p>
                }),
            }}
            <p class="hint">
                {format!(
                    "When the marketplace says the subscription ended, growth stops at once and running instances are suspended {} hours later (never deleted); a successful check resumes them. Reports: {}.",
                    d.grace_hours,
                    if counts.is_empty() { "none yet".to_string() } else { counts },
                )}
            </p>
        </section>
        {(is_admin && d.active.is_none()).then(|| view! { <LinkForm link=actions.link /> })}
        <AttentionTable reports=d.attention.clone() is_admin decide=actions.decide />
        {(!d.history.is_empty()).then(|| view! { <History links=d.history.clone() /> })}
        <section class="card">
            <h2>"Units"</h2>
            <p class="hint">
                "Each hour is reported per dimension in whole units: the ledger's quantity times the factor, plus the fraction carried from the hour before, rounded down; the fraction is carried to the next hour. The month's last hour is rounded half up and carries nothing, so a month's reported total is within half a unit of the ledger's. Hours with no usage are reported as 0."
            </p>
            <div class="cards">
                <MappingTable title="AWS Marketplace (dimensions of the listing)" mappings=d.aws_mappings.clone() />
                <MappingTable title="Alibaba Cloud Compute Nest (fixed keys)" mappings=d.alibaba_mappings.clone() />
            </div>
        </section>
    }
}

#[component]
fn ActiveLink(active: LinkView, is_admin: bool, actions: Actions) -> impl IntoView {
    let check_result = actions.check.value();
    let unlink_result = actions.unlink.value();
    let entitlement = match (active.entitlement.as_str(), active.ended_since) {
        ("ended", Some(since)) => format!("ended on {}", utc(since)),
        ("renewed", Some(since)) => format!(
            "renewed by a check, to be confirmed by the next report (it ended on {})",
            utc(since)
        ),
        _ => "in force".to_string(),
    };
    view! {
        <dl data-testid="marketplace-link">
            <dt>"Marketplace"</dt>
            <dd data-testid="link-marketplace">{active.marketplace_name.clone()}</dd>
            <dt>"Listing"</dt>
            <dd data-testid="link-listing">{active.listing.clone()}</dd>
            <dt>"Account"</dt>
            <dd>{active.account.clone()}</dd>
            <dt>"Linked"</dt>
            <dd>{format!("{} by {}", utc(active.linked_at), active.linked_by)}</dd>
            <dt>"Subscription"</dt>
            <dd data-testid="link-entitlement">{entitlement}</dd>
            <dt>"Last report accepted"</dt>
            <dd data-testid="link-last-report">
                {active.last_report_at.map(utc).unwrap_or_else(|| "none yet".into())}
            </dd>
        </dl>
        {is_admin
            .then(|| {
                view! {
                    <div class="row-actions">
                        <ActionForm action=actions.check attr:class="inline-form">
                            <button type="submit" class="button-secondary" data-testid="check-link">
                                "Check the subscription again"
                            </button>
                        </ActionForm>
                        <ActionForm action=actions.unlink attr:class="inline-form">
                            <input type="text" name="confirm" placeholder="type unlink" aria-label="Type unlink to confirm" />
                            <button type="submit" class="button-danger" data-testid="unlink">"Unlink"</button>
                        </ActionForm>
                    </div>
                    {move || {
                        check_result
                            .get()
                            .and_then(|r| r.ok())
                            .map(|answer| view! { <p class="notice" role="status" data-testid="check-answer">{answer}</p> })
                    }}
                    <p class="form-error" role="alert" data-testid="link-error">
                        {move || {
                            general_error(&check_result.get())
                                .or_else(|| field_error(&check_result.get(), "marketplace"))
                                .or_else(|| general_error(&unlink_result.get()))
                                .or_else(|| field_error(&unlink_result.get(), "confirm"))
                        }}
                    </p>
                    <p class="hint">"Unlinking keeps every report; those not sent yet are shown as unsent. Link again (the same or another subscription) to report the hours since."</p>
                }
            })}
    }
}

#[component]
fn LinkForm(link: ServerAction<LinkMarketplace>) -> impl IntoView {
    let result = link.value();
    let err = move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));
    view! {
        <section class="card">
            <h2>"Link the subscription"</h2>
            <p class="hint">
                "The console checks the link with this host's own credentials before saving it (AWS: a MeterUsage dry run, with the instance role, environment or profile; Alibaba Cloud: CheckOutLicense from inside the service instance, with the service key in the data directory)."
            </p>
            <ActionForm action=link attr:class="form" attr:novalidate="" attr:data-testid="link-form">
                <div class="field" class:has-error=move || err("marketplace").get().is_some()>
                    <label for="marketplace">"Marketplace"</label>
                    <select id="marketplace" name="marketplace">
                        <option value="aws">"AWS Marketplace"</option>
                        <option value="alibaba">"Alibaba Cloud Compute Nest"</option>
                    </select>
                    <p class="field-error" role="alert">{move || err("marketplace").get()}</p>
                </div>
                <Field label="Listing (AWS product code, or Compute Nest service id)" name="listing" error=err("listing") />
                <Field label="Service instance id (Alibaba Cloud only, optional: the check names it)" name="subscription" error=err("subscription") />
                <p class="form-error" role="alert" data-testid="link-form-error">{move || general_error(&result.get())}</p>
                <button type="submit" class="button-primary" disabled=move || link.pending().get()>
                    "Check and link"
                </button>
            </ActionForm>
        </section>
    }
}

/// Reports that need a look, with the admin's actions.
#[component]
pub fn AttentionTable(
    reports: Vec<ReportView>,
    is_admin: bool,
    decide: ServerAction<DecideReport>,
) -> impl IntoView {
    let result = decide.value();
    if reports.is_empty() {
        return Either::Left(());
    }
    Either::Right(view! {
        <section class="card" data-testid="reports-attention">
            <h2>"Reports that need a look"</h2>
            <p class="hint">
                "Rejected: the marketplace refused it (retry once fixed). Late: past the marketplace's window (6 hours on AWS): bill it another way, from the export. Unknown: the console stopped between an Alibaba push and its answer; Alibaba has no idempotency key, so it is never sent again on its own: look at the marketplace's bill, then mark it billed or send it again. Unsent: its link was removed first."
            </p>
            <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
            <a class="button-secondary" href="/usage/marketplace-late.csv" download="">"Export late hours (CSV)"</a>
            <table class="table">
                <thead>
                    <tr><th>"Hour"</th><th>"Key"</th><th>"Quantity"</th><th>"Outcome"</th><th></th></tr>
                </thead>
                <tbody>
                    {reports
                        .into_iter()
                        .map(|r| view! { <ReportLine r is_admin decide /> })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }.into_any())
}

#[component]
pub fn ReportLine(
    r: ReportView,
    is_admin: bool,
    decide: ServerAction<DecideReport>,
) -> impl IntoView {
    let id = r.id.to_string();
    let outcome = match &r.reason {
        Some(why) => format!("{}: {why}", r.state),
        None => r.state.clone(),
    };
    let choices: &[(&str, &str)] = match (is_admin, r.state.as_str()) {
        (true, "rejected") => &[("retry", "Retry")],
        (true, "unknown") => &[("billed", "Mark billed"), ("resend", "Send again")],
        _ => &[],
    };
    view! {
        <tr data-testid="report-row" data-state=r.state.clone()>
            <td>{utc(r.hour_start)}</td>
            <td>{r.key.clone()}</td>
            <td>{r.quantity}</td>
            <td data-testid="report-outcome">{outcome}</td>
            <td class="row-actions">
                {choices
                    .iter()
                    .map(|(decision, label)| {
                        let id = id.clone();
                        view! {
                            <ActionForm action=decide attr:class="inline-form">
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="decision" value=*decision />
                                <button type="submit" class="button-secondary">{*label}</button>
                            </ActionForm>
                        }
                    })
                    .collect_view()}
            </td>
        </tr>
    }
}

#[component]
fn History(links: Vec<LinkView>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Earlier links"</h2>
            <table class="table">
                <thead>
                    <tr><th>"Marketplace"</th><th>"Listing"</th><th>"Account"</th><th>"Linked"</th><th>"Unlinked"</th></tr>
                </thead>
                <tbody>
                    {links
                        .into_iter()
                        .map(|l| view! {
                            <tr>
                                <td>{l.marketplace_name}</td>
                                <td>{l.listing}</td>
                                <td>{l.account}</td>
                                <td>{format!("{} by {}", utc(l.linked_at), l.linked_by)}</td>
                                <td>{l.unlinked_at.map(utc).unwrap_or_default()}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn MappingTable(title: &'static str, mappings: Vec<MappingView>) -> impl IntoView {
    view! {
        <div>
            <h3>{title}</h3>
            <table class="table">
                <thead>
                    <tr><th>"Ledger"</th><th>"Reported as"</th><th>"Unit"</th><th>"Units per ledger unit"</th><th>"Listing price per unit"</th></tr>
                </thead>
                <tbody>
                    {mappings
                        .into_iter()
                        .map(|m| view! {
                            <tr>
                                <td>{m.ledger}</td>
                                <td>{m.key}</td>
                                <td>{m.unit}</td>
                                <td>{m.per_ledger_unit}</td>
                                <td data-testid="listing-price">{m.listing_price.unwrap_or_default()}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
