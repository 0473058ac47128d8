//! The audit log (admins only): filter by actor, kind and dates (a GET form, so the filter is
//! in the URL and works without JavaScript), pages of 50 newest first (the position, a cursor,
//! in the URL too), CSV export of the same filter, and whether the hash chain is intact.

use crate::api::audit::{audit_log, AuditPage};
use crate::components::format::{link, utc};
use crate::components::page_data::page_data;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).unwrap_or_default();
    let data = page_data(
        move || {
            (
                param("actor"),
                param("action"),
                param("from"),
                param("until"),
                query.read().get("cursor"),
            )
        },
        |(actor, action, from, until, cursor)| audit_log(actor, action, from, until, cursor),
    );
    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let filter = [param("actor"), param("action"), param("from"), param("until")];
                let is_older_page = query.read().get("cursor").is_some();
                data.await.map(|page| view! { <AuditBody page filter is_older_page /> })
            })}
        </Suspense>
    }
}

#[component]
fn AuditBody(page: AuditPage, filter: [String; 4], is_older_page: bool) -> impl IntoView {
    let [actor, action, from, until] = filter;
    let filter_pairs = [
        ("actor", actor.as_str()),
        ("action", action.as_str()),
        ("from", from.as_str()),
        ("until", until.as_str()),
    ];
    let at = |cursor: Option<&str>| {
        let mut pairs: Vec<(&str, &str)> = filter_pairs
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        pairs.extend(cursor.map(|c| ("cursor", c)));
        link("/audit", &pairs)
    };
    let newest = is_older_page.then(|| at(None));
    let older = page.next.as_deref().map(|cursor| at(Some(cursor)));
    let export = link("/audit.csv", &filter_pairs);
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
                {match page.total {
                    1 => "1 entry".to_string(),
                    n => format!("{n} entries"),
                }}
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
                {newest.map(|href| view! { <a href=href data-testid="newest">"← Newest"</a> })}
                {older.map(|href| view! { <a href=href rel="next" data-testid="older">"Older →"</a> })}
            </nav>
        </section>
    }
}
