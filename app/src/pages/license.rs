//! The license: what is applied, its state, the history of keys, and renewal or upgrade with
//! a preview before confirming.

use crate::api::error::{field_error, general_error};
use crate::api::license::{
    license_view, preview_key, ApplyKey, KeyPreview, LicenseData, LicenseSummary,
};
use crate::components::format::{days, quota, utc, utc_date};
use crate::components::page_data::page_data;
use crate::domain::license::ChangeKind;
use crate::domain::license_state::Phase;
use crate::pages::activate::{InstallationId, KeyField};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LicensePage() -> impl IntoView {
    let query = use_query_map();
    // Fetched again when the query changes: applying a key comes back here with `?applied=1`.
    let data = page_data(move || query.get(), |_| license_view());
    let applied = move || query.read().get("applied").is_some();
    view! {
        <Title text="License" />
        <h1>"License"</h1>
        <Show when=applied>
            <p class="notice success" data-testid="key-applied">
                "The product key is applied."
            </p>
        </Show>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move { data.await.map(|d| view! { <LicenseBody data=d /> }) })}
        </Suspense>
    }
}

#[component]
fn LicenseBody(data: LicenseData) -> impl IntoView {
    let phase = data.banner.phase;
    let can_manage = data.can_manage;
    let current = data.current.clone();
    view! {
        <div class="cards">
            <section class="card" data-testid="current-license">
                <h2>"Current license"</h2>
                {match current {
                    Some(l) => Either::Left(view! { <CurrentLicense license=l data=data.clone() /> }),
                    None => {
                        Either::Right(
                            view! {
                                <p class="status-pill status-unactivated">{phase.label()}</p>
                                <p>"No product key is applied."</p>
                            },
                        )
                    }
                }}
            </section>
            <section class="card">
                <h2>"Installation ID"</h2>
                <InstallationId id=data.installation_id.clone() />
                <p class="hint">"Every product key is bound to this ID."</p>
            </section>
        </div>
        <OverQuota data=data.clone() />
        {can_manage.then(|| view! { <RenewOrUpgrade /> })}
        <section class="card">
            <h2>"Applied keys"</h2>
            <table class="table" data-testid="key-history">
                <thead>
                    <tr>
                        <th>"Applied"</th>
                        <th>"By"</th>
                        <th>"License"</th>
                        <th>"Billing"</th>
                        <th>"Quota"</th>
                        <th>"Period"</th>
                    </tr>
                </thead>
                <tbody>
                    {data
                        .history
                        .iter()
                        .map(|h| {
                            view! {
                                <tr>
                                    <td>{utc(h.applied_at)}</td>
                                    <td>{h.applied_by.clone()}</td>
                                    <td>{h.license.license_id.clone()}</td>
                                    <td>{h.license.billing.label()}</td>
                                    <td>{quota(h.license.aku_quota)}</td>
                                    <td>
                                        {format!(
                                            "{} to {}",
                                            utc_date(h.license.starts_at),
                                            utc_date(h.license.expires_at),
                                        )}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Over quota: by how much, and the largest instances to scale down or delete.
#[component]
fn OverQuota(data: LicenseData) -> impl IntoView {
    data.banner.over_quota_by.map(|by| {
        view! {
            <section class="card" data-testid="over-quota">
                <h2>"Over quota"</h2>
                <p>
                    {format!(
                        "{} AKU are in use, {by} more than the license grants. Nothing can be created or scaled up until instances are scaled down or deleted, or an upgrade key is applied.",
                        data.used_aku,
                    )}
                </p>
                <p>"The largest instances:"</p>
                <ul>
                    {data
                        .largest_instances
                        .iter()
                        .map(|(id, name, aku)| {
                            view! {
                                <li>
                                    <a href=format!("/instances/{id}")>{name.clone()}</a>
                                    {format!(": {aku} AKU")}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}

fn phase_class(phase: Phase) -> &'static str {
    match phase {
        Phase::Active => "status-pill status-ok",
        Phase::ExpiringSoon | Phase::ExpiredGrace => "status-pill status-warn",
        Phase::Lapsed => "status-pill status-bad",
        Phase::Unactivated => "status-pill status-unactivated",
    }
}

#[component]
fn CurrentLicense(license: LicenseSummary, data: LicenseData) -> impl IntoView {
    let b = data.banner;
    let left = match (b.phase, b.days_left) {
        (Phase::ExpiredGrace, Some(n)) => format!("expired; {} of grace left", days(n)),
        (Phase::Lapsed, _) => "lapsed".to_string(),
        (_, Some(n)) => days(n),
        _ => String::new(),
    };
    let quota_line = match license.aku_quota {
        Some(q) => format!("{} of {q} AKU in use", data.used_aku),
        None => format!("{} AKU in use (no cap)", data.used_aku),
    };
    view! {
        <p class=phase_class(b.phase) data-testid="license-phase">{b.phase.label()}</p>
        <dl>
            <dt>"Billing"</dt>
            <dd data-testid="license-billing">{license.billing.label()}</dd>
            <dt>"AKU quota"</dt>
            <dd data-testid="license-quota">{quota(license.aku_quota)}</dd>
            <dt>"In use"</dt>
            <dd>{quota_line}</dd>
            <dt>"Per instance"</dt>
            <dd>{format!("at most {} AKU", license.max_aku_per_instance)}</dd>
            <dt>"Period"</dt>
            <dd data-testid="license-period">
                {format!("{} to {}", utc_date(license.starts_at), utc_date(license.expires_at))}
            </dd>
            <dt>"Days left"</dt>
            <dd data-testid="license-days-left">{left}</dd>
            <dt>"Grace"</dt>
            <dd>{days(i64::from(license.grace_days))}" after expiry"</dd>
            <dt>"License ID"</dt>
            <dd>{license.license_id.clone()}</dd>
            <dt>"Customer"</dt>
            <dd>{license.customer.clone()}</dd>
            <dt>"Signed by"</dt>
            <dd>
                {license.key_id.clone()}
                {license.signed_by_run_time_key.then_some(" (trusted at run time: test or demo key)")}
            </dd>
        </dl>
    }
}

/// Paste a key, see what it would change (a GET of this page with `?key=`, so it works
/// without JavaScript too), then confirm.
#[component]
fn RenewOrUpgrade() -> impl IntoView {
    let query = use_query_map();
    let pasted = move || query.read().get("key").filter(|k| !k.trim().is_empty());
    let preview = page_data(pasted, |key| async move {
        match key {
            Some(key) => Some((key.clone(), preview_key(key).await)),
            None => None,
        }
    });
    view! {
        <section class="card">
            <h2>"Renew or upgrade"</h2>
            <p class="hint">
                "Paste a renewal (later expiry) or upgrade (larger quota) key to see what it changes before applying it."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let outcome = preview.await;
                    let (value, error) = match &outcome {
                        Some((key, Err(e))) => (Some(key.clone()), e.for_field("key").or_else(|| e.general())),
                        Some((key, Ok(_))) => (Some(key.clone()), None),
                        None => (None, None),
                    };
                    view! {
                        <Form method="GET" action="/license" attr:class="form">
                            <KeyField error=Signal::derive(move || error.clone()) value=value.unwrap_or_default() />
                            <button type="submit" class="button-secondary">
                                "Preview"
                            </button>
                        </Form>
                        {match outcome {
                            Some((key, Ok(p))) => EitherOf3::A(view! { <PreviewAndConfirm key preview=p /> }),
                            Some((_, Err(_))) => EitherOf3::B(()),
                            None => EitherOf3::C(()),
                        }}
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PreviewAndConfirm(key: String, preview: KeyPreview) -> impl IntoView {
    let apply = ServerAction::<ApplyKey>::new();
    let result = apply.value();
    let c = preview.change.clone();
    let from_to = |from: Option<String>, to: String| match from {
        Some(from) if from != to => format!("{from} → {to}"),
        Some(_) => format!("{to} (unchanged)"),
        None => to,
    };
    let quota_change = from_to(c.quota_from.map(quota), quota(c.quota_to));
    let expiry_change = from_to(
        c.expires_from.map(|t| utc_date(t.unix_timestamp())),
        utc_date(c.expires_to.unix_timestamp()),
    );
    let billing_change = from_to(
        c.billing_from.map(|b| b.label().to_string()),
        c.billing_to.label().to_string(),
    );
    let heading = match c.kind {
        ChangeKind::Activation => "This key activates the environment",
        ChangeKind::Renewal => "This key renews the license",
        ChangeKind::Upgrade => "This key upgrades the license",
        ChangeKind::Downgrade => "This key lowers the quota",
        ChangeKind::Change => "This key changes the license",
    };
    let over = c.over_quota_by.map(|n| {
        format!(
            "{} AKU are in use, {n} more than the new quota: after applying it, nothing can be created or scaled up until instances are scaled down or deleted.",
            c.used_aku
        )
    });
    view! {
        <div class="preview" data-testid="key-preview">
            <h3>{heading}</h3>
            <dl>
                <dt>"AKU quota"</dt>
                <dd data-testid="preview-quota">{quota_change}</dd>
                <dt>"Expiry"</dt>
                <dd data-testid="preview-expiry">{expiry_change}</dd>
                <dt>"Billing"</dt>
                <dd>{billing_change}</dd>
                <dt>"License ID"</dt>
                <dd>{preview.license.license_id.clone()}</dd>
            </dl>
            {over.map(|o| view! { <p class="notice" data-testid="preview-over-quota">{o}</p> })}
            <ActionForm action=apply attr:class="form">
                <input type="hidden" name="key" value=key />
                <p class="form-error" role="alert">
                    {move || field_error(&result.get(), "key").or_else(|| general_error(&result.get()))}
                </p>
                <button type="submit" class="button-primary" disabled=move || apply.pending().get()>
                    "Apply this key"
                </button>
            </ActionForm>
        </div>
    }
}
