//! The instance list: the quota bar, a filter by state, and every instance that is not
//! deleted. Refreshes itself while an instance is creating, changing or deleting.

use crate::api::instances::{list_instances, InstanceList};
use crate::components::format::utc;
use crate::components::instance_state::StatePill;
use crate::components::poll::poll_while;
use crate::components::quota_bar::QuotaBar;
use crate::domain::instance::State;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const FILTERS: [State; 6] = [
    State::Running,
    State::Creating,
    State::Changing,
    State::Deleting,
    State::Suspended,
    State::Abnormal,
];

#[component]
pub fn InstancesPage() -> impl IntoView {
    let query = use_query_map();
    let busy = RwSignal::new(false);
    let tick = poll_while(busy, 1500);
    let data = Resource::new(
        move || (query.read().get("state"), tick.get()),
        |(state, _)| list_instances(state),
    );
    Effect::new(move |_| {
        if let Some(Ok(list)) = data.get() {
            busy.set(list.instances.iter().any(|i| i.state.is_busy()));
        }
    });
    view! {
        <Title text="Instances" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await
                    .map(|list| {
                        let filter = query.read_untracked().get("state");
                        view! { <InstanceTable list filter /> }
                    })
            })}
        </Transition>
    }
}

#[component]
fn InstanceTable(list: InstanceList, filter: Option<String>) -> impl IntoView {
    let count = |state: State| {
        list.counts
            .iter()
            .find(|(s, _)| *s == state)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let total: u32 = list.counts.iter().map(|(_, n)| n).sum();
    let filter_link = |label: String, value: Option<&'static str>, n: u32| {
        let href = value
            .map(|v| format!("/instances?state={v}"))
            .unwrap_or_else(|| "/instances".into());
        let current = filter.as_deref() == value;
        view! {
            <a href=href class="filter" class:current=current aria-current=current.then_some("true")>
                {format!("{label} ({n})")}
            </a>
        }
    };
    let mut filters = vec![filter_link("All".into(), None, total)];
    for state in FILTERS {
        let n = count(state);
        if n > 0 || filter.as_deref() == Some(state.as_str()) {
            filters.push(filter_link(
                state.as_str().to_string(),
                Some(state.as_str()),
                n,
            ));
        }
    }
    let blocked = list.quota.growth_blocked.clone();
    let empty = list.instances.is_empty();
    view! {
        <div class="page-head">
            <h1>"Instances"</h1>
            {list
                .can_change
                .then(|| {
                    view! {
                        <a class="button-primary" href="/instances/new" data-testid="create-instance">
                            "Create instance"
                        </a>
                    }
                })}
        </div>
        <section class="card">
            <QuotaBar used=list.quota.used_aku quota=list.quota.quota />
            {blocked.map(|b| view! { <p class="notice" data-testid="growth-blocked">{b}</p> })}
        </section>
        <nav class="filters" aria-label="Filter by state">
            {filters}
        </nav>
        <section class="card">
            {if empty {
                leptos::either::Either::Left(
                    view! {
                        <p data-testid="no-instances">
                            {if filter.is_some() {
                                "No instance is in this state."
                            } else {
                                "No instances yet. Create one to get a Kafka endpoint in this environment."
                            }}
                        </p>
                    },
                )
            } else {
                leptos::either::Either::Right(
                    view! {
                        <table class="table" data-testid="instance-table">
                            <thead>
                                <tr>
                                    <th>"Name"</th>
                                    <th>"State"</th>
                                    <th>"Size"</th>
                                    <th>"Kafka"</th>
                                    <th>"Zones"</th>
                                    <th>"Bootstrap address"</th>
                                    <th>"Created"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .instances
                                    .into_iter()
                                    .map(|i| {
                                        let size = match i.target_aku {
                                            Some(t) if t != i.size_aku => format!("{} → {t} AKU", i.size_aku),
                                            _ => format!("{} AKU", i.size_aku),
                                        };
                                        view! {
                                            <tr data-testid="instance-row" data-name=i.name.clone()>
                                                <td>
                                                    <a href=format!("/instances/{}", i.id)>{i.name.clone()}</a>
                                                </td>
                                                <td>
                                                    <StatePill state=i.state />
                                                    {i.progress.map(|p| view! { <span class="progress">{p}</span> })}
                                                    {i.state_reason.map(|r| view! { <span class="reason">{r}</span> })}
                                                </td>
                                                <td data-testid="instance-size">{size}</td>
                                                <td>{i.kafka_version}</td>
                                                <td>{i.zones.join(", ")}</td>
                                                <td>
                                                    <code>
                                                        {if i.bootstrap.is_empty() {
                                                            "assigned when running".to_string()
                                                        } else {
                                                            i.bootstrap
                                                        }}
                                                    </code>
                                                </td>
                                                <td>{utc(i.created_at)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    },
                )
            }}
        </section>
    }
}
