//! The audit log (admins only): filter by actor, kind and dates (a GET form, so the filter is
//! in the URL and works without JavaScript), pages of 50, CSV export of the same filter, and
//! whether the hash chain is intact.

use crate::api::audit::{audit_log, AuditPage};
use crate::components::format::utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).unwrap_or_default();
    let data = Resource::new(
        move || {
            (
                param("actor"),
                param("action"),
                param("from"),
                param("until"),
                param("page").parse::<i64>().ok(),
            )
        },
        |(actor, action, from, until, page)| audit_log(actor, action, from, until, page),
    );
    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let filter = [param("actor"), param("action"), param("from"), param("until")];
                data.await.map(|page| view! { <AuditBody page filter /> })
            })}
        </Suspense>
    }
}

#[component]
fn AuditBody(page: AuditPage, filter: [String; 4]) -> impl IntoView {
    let [actor, action, from, until] = filter;
    let query_string = format!(
        "actor={}&action={}&from={}&until={}",
        encode(&actor),
        encode(&action),
        encode(&from),
        encode(&until)
    );
    let newer = (page.page > 1).then(|| format!("/audit?{query_string}&page={}", page.page - 1));
    let older =
        (page.page < page.pages).then(|| format!("/audit?{query_string}&page={}", page.page + 1));
    let export = format!("/audit.csv?{query_string}");
    let chain_class = if page.chain.intact {
        "notice success"
    } else {
        "notice critical"
    };
    view! {
        <p class=chain_class data-testid="chain-status">{page.chain.message.clone()}</p>
        <section class="card">
            <Form method="GET" action="/audit" attr:class="filter-form">
                <label>
                    "Actor"
                    <select name="actor">
                        <option value="">"anyone"</option>
                        {page.actors.iter().map(|a| view! { <option value=a.clone() selected=*a == actor>{a.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Kind"
                    <select name="action">
                        <option value="">"any"</option>
                        {page.actions.iter().map(|a| view! { <option value=a.clone() selected=*a == action>{a.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "From"
                    <input type="date" name="from" value=from.clone() />
                </label>
                <label>
                    "Until"
                    <input type="date" name="until" value=until.clone() />
                </label>
                <button type="submit" class="button-secondary">"Filter"</button>
                <a class="button-secondary" href=export.clone() download="" data-testid="export-csv">
                    "Export CSV"
                </a>
            </Form>
        </section>
        <section class="card">
            <p data-testid="audit-total">
                {format!("{} entries; page {} of {}", page.total, page.page, page.pages)}
            </p>
            <table class="table" data-testid="audit-table">
                <thead>
                    <tr>
                        <th>"#"</th>
                        <th>"When"</th>
                        <th>"Who"</th>
                        <th>"From"</th>
                        <th>"Kind"</th>
                        <th>"Target"</th>
                        <th>"Outcome"</th>
                        <th>"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .entries
                        .iter()
                        .map(|e| {
                            view! {
                                <tr data-testid="audit-row">
                                    <td>{e.id}</td>
                                    <td>{utc(e.at)}</td>
                                    <td>{e.actor.clone()}</td>
                                    <td>{e.client_addr.clone().unwrap_or_default()}</td>
                                    <td>{e.action.clone()}</td>
                                    <td>{e.target.clone().unwrap_or_default()}</td>
                                    <td class=format!("outcome-{}", e.outcome)>{e.outcome.clone()}</td>
                                    <td>{e.detail.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
                {newer.map(|href| view! { <a href=href>"← Newer"</a> })}
                {older.map(|href| view! { <a href=href data-testid="older">"Older →"</a> })}
            </nav>
        </section>
    }
}
