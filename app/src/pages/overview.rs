//! The overview: the environment at a glance.

use crate::api::overview::overview;
use crate::components::format::{days, quota, utc, utc_date};
use crate::components::instance_state::StatePill;
use crate::components::page_data::page_data;
use crate::components::quota_bar::QuotaBar;
use crate::pages::instance_detail::change_text;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = page_data(|| (), |_| overview());
    view! {
        <Title text="Overview" />
        <h1>"Overview"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await
                    .map(|o| {
                        let users = o
                            .users_by_role
                            .iter()
                            .map(|(role, n)| format!("{n} {role}{}", if *n == 1 { "" } else { "s" }))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let events = o.recent_events.clone();
                        let by_state = o.instances_by_state.clone();
                        let operations = o.recent_operations.clone();
                        let instance_total: u32 = by_state.iter().map(|(_, n)| n).sum();
                        view! {
                            <div class="cards">
                                <section class="card" data-testid="environment-card">
                                    <h2>"Environment"</h2>
                                    <dl>
                                        <dt>"Name"</dt>
                                        <dd>{o.environment_name.clone()}</dd>
                                        <dt>"Cloud"</dt>
                                        <dd>{format!("{} · {}", o.cloud_provider_label, o.region)}</dd>
                                        <dt>"Installation ID"</dt>
                                        <dd>
                                            <code data-testid="installation-id">{o.installation_id.clone()}</code>
                                        </dd>
                                        <dt>"Set up"</dt>
                                        <dd>{utc(o.set_up_at)}</dd>
                                        <dt>"Users"</dt>
                                        <dd>{users}</dd>
                                    </dl>
                                </section>
                                <section class="card" data-testid="license-card">
                                    <h2>"License"</h2>
                                    <p class="status-pill">{o.license_banner.phase.label()}</p>
                                    {o
                                        .license
                                        .clone()
                                        .map(|l| {
                                            let used = o.used_aku;
                                            view! {
                                                <dl>
                                                    <dt>"Billing"</dt>
                                                    <dd>{l.billing.label()}</dd>
                                                    <dt>"AKU quota"</dt>
                                                    <dd>{quota(l.aku_quota)}</dd>
                                                    <dt>"In use"</dt>
                                                    <dd>{format!("{used} AKU")}</dd>
                                                    <dt>"Period"</dt>
                                                    <dd>
                                                        {format!("{} to {}", utc_date(l.starts_at), utc_date(l.expires_at))}
                                                    </dd>
                                                    <dt>"Days left"</dt>
                                                    <dd>{o.license_banner.days_left.map(days).unwrap_or_default()}</dd>
                                                </dl>
                                                <QuotaBar used=used quota=l.aku_quota />
                                            }
                                        })}
                                    <p>
                                        <a href="/license">"License details"</a>
                                    </p>
                                </section>
                                <section class="card" data-testid="instances-card">
                                    <h2>"Instances"</h2>
                                    <p data-testid="instance-total">
                                        {match instance_total {
                                            0 => "No instances yet.".to_string(),
                                            1 => "1 instance".to_string(),
                                            n => format!("{n} instances"),
                                        }}
                                    </p>
                                    <ul class="state-counts">
                                        {by_state
                                            .into_iter()
                                            .map(|(state, n)| {
                                                view! {
                                                    <li>
                                                        <a href=format!("/instances?state={}", state.as_str())>
                                                            <StatePill state />
                                                            {format!(" {n}")}
                                                        </a>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                    <p>
                                        <a href="/instances">"All instances"</a>
                                    </p>
                                </section>
                            </div>
                            <section class="card" data-testid="recent-operations">
                                <h2>"Recent operations"</h2>
                                {if operations.is_empty() {
                                    leptos::either::Either::Left(view! { <p>"None yet."</p> })
                                } else {
                                    leptos::either::Either::Right(view! {
                                        <table class="table">
                                            <thead>
                                                <tr>
                                                    <th>"When"</th>
                                                    <th>"Instance"</th>
                                                    <th>"Who"</th>
                                                    <th>"Change"</th>
                                                    <th>"Outcome"</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {operations
                                                    .into_iter()
                                                    .map(|r| {
                                                        view! {
                                                            <tr>
                                                                <td>{utc(r.operation.requested_at)}</td>
                                                                <td>
                                                                    <a href=format!("/instances/{}", r.instance_id)>{r.instance_name.clone()}</a>
                                                                </td>
                                                                <td>{r.operation.requested_by.clone()}</td>
                                                                <td>{change_text(&r.operation)}</td>
                                                                <td>{r.operation.status.clone()}</td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    })
                                }}
                            </section>
                            <Show when=move || !events.is_empty()>
                                <section class="card">
                                    <h2>"Recent security events"</h2>
                                    <table class="table">
                                        <thead>
                                            <tr>
                                                <th>"When"</th>
                                                <th>"Who"</th>
                                                <th>"What"</th>
                                                <th>"Outcome"</th>
                                                <th>"Detail"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {o
                                                .recent_events
                                                .iter()
                                                .map(|e| {
                                                    view! {
                                                        <tr>
                                                            <td>{utc(e.at)}</td>
                                                            <td>{e.actor.clone()}</td>
                                                            <td>{e.action.clone()}</td>
                                                            <td>{e.outcome.clone()}</td>
                                                            <td>{e.detail.clone().unwrap_or_default()}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                            </Show>
                        }
                    })
            })}
        </Suspense>
    }
}
