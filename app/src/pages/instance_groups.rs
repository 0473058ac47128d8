//! The instance page's consumer groups: every group with its state, protocol, members and
//! total lag (largest first); a chosen group's members and partitions (committed, end, lag);
//! the offset-reset form, whose preview (per partition: current, new, re-read, skipped) comes
//! before the Apply button; deleting an empty group. The chosen group and the reset asked for
//! live in the URL (`?group=…&to=…&value=…&topic=…`, a GET form), so the preview works
//! without JavaScript; Apply and Delete are forms like the topics'.

use crate::api::error::AppError;
use crate::api::error::{field_error, general_error};
use crate::api::groups::{
    consumer_group, consumer_groups, preview_group_reset, DeleteGroup, GroupDetail, GroupsPanel,
    ResetGroup, ResetView,
};
use crate::components::format::link;
use crate::components::page_data::page_data;
use crate::components::poll::poll_while;
use crate::domain::group_form::RESET_TO;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

fn shown(offset: Option<i64>) -> String {
    offset.map_or_else(|| "—".to_string(), |o| o.to_string())
}

/// The reset asked for in the URL: group, to, value, topic.
#[derive(Debug, Clone, PartialEq, Default)]
struct Asked {
    group: String,
    to: String,
    value: String,
    topic: String,
}

#[component]
pub fn InstanceGroups(id: i64, running: bool) -> impl IntoView {
    let query = use_query_map();
    let chosen = move || query.read().get("group").filter(|g| !g.is_empty());
    let asked = move || {
        let q = query.read();
        let group = q.get("group")?;
        let to = q.get("to").filter(|t| !t.is_empty())?;
        Some(Asked {
            group,
            to,
            value: q.get("value").unwrap_or_default(),
            topic: q.get("topic").unwrap_or_default(),
        })
    };
    let reset = ServerAction::<ResetGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let live = RwSignal::new(running);
    let tick = poll_while(live, 10_000);
    let groups = page_data(
        move || (tick.get(), reset.version().get(), delete.version().get()),
        move |_| consumer_groups(id),
    );
    let detail = page_data(
        move || (chosen(), reset.version().get(), delete.version().get()),
        move |(group, _, _)| async move {
            match group {
                Some(g) => Some(consumer_group(id, g).await),
                None => None,
            }
        },
    );
    let preview = page_data(asked, move |asked| async move {
        let a = asked?;
        Some(preview_group_reset(id, a.group, a.to, Some(a.value), Some(a.topic)).await)
    });
    view! {
        <section class="card" data-testid="groups-panel" id="consumer-groups">
            <h2>"Consumer groups"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the groups…"</p> }>
                {move || Suspend::new(async move {
                    groups.await.map(|panel| view! { <GroupList panel /> }.into_any())
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let asked = asked().unwrap_or_default();
                    detail.await.map(|d| match d {
                        Ok(d) => view! { <Group id d asked preview reset delete /> }.into_any(),
                        Err(e) => view! { <p class="notice critical" data-testid="group-error">{e.to_string()}</p> }.into_any(),
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn GroupList(panel: GroupsPanel) -> impl IntoView {
    if let Some(note) = panel.note {
        return view! { <p class="muted" data-testid="groups-note">{note}</p> }.into_any();
    }
    if let Some(error) = panel.error {
        return view! { <p class="notice critical" data-testid="groups-error">{error}</p> }
            .into_any();
    }
    if panel.groups.is_empty() {
        return view! { <p class="muted" data-testid="no-groups">"No consumer group has committed offsets or joined yet."</p> }.into_any();
    }
    let rows = panel
        .groups
        .into_iter()
        .map(|g| {
            let href = format!("{}#consumer-groups", link("", &[("group", &g.group)]));
            let without = (g.partitions_without_lag > 0)
                .then(|| format!(" ({} partition(s) without a commit)", g.partitions_without_lag));
            view! {
                <tr data-testid="group-row" data-group=g.group.clone()>
                    <td><a href=href><code>{g.group.clone()}</code></a></td>
                    <td data-testid="group-state">{g.state.clone()}</td>
                    <td>{g.protocol.clone()}</td>
                    <td class="num" data-testid="group-members">{g.members}</td>
                    <td class="num" data-testid="group-lag">{g.total_lag}<span class="muted">{without}</span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table">
            <caption class="muted">"Largest total lag first. Lag is a partition's end offset less the group's committed offset."</caption>
            <thead><tr><th>"Group"</th><th>"State"</th><th>"Protocol"</th><th class="num">"Members"</th><th class="num">"Total lag"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Group(
    id: i64,
    d: GroupDetail,
    asked: Asked,
    preview: crate::components::page_data::PageData<Option<Result<ResetView, AppError>>>,
    reset: ServerAction<ResetGroup>,
    delete: ServerAction<DeleteGroup>,
) -> impl IntoView {
    let partitions = d
        .partitions
        .iter()
        .map(|p| {
            view! {
                <tr data-testid="group-partition" data-topic=p.topic.clone() data-partition=p.partition.to_string()>
                    <td><code>{p.topic.clone()}</code></td>
                    <td class="num">{p.partition}</td>
                    <td class="num" data-testid="partition-committed">{shown(p.committed)}</td>
                    <td class="num" data-testid="partition-end">{shown(p.end)}</td>
                    <td class="num" data-testid="partition-lag">{shown(p.lag)}</td>
                    <td>{p.member.clone().unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let members = d
        .members
        .iter()
        .map(|m| {
            view! {
                <li data-testid="group-member"><code>{m.client_id.clone()}</code>" on "{m.host.clone()}": "{m.assigned.join(", ")}</li>
            }
        })
        .collect_view();
    let mut topics: Vec<String> = d.partitions.iter().map(|p| p.topic.clone()).collect();
    topics.dedup();
    let group = d.group.clone();
    let empty = d.members.is_empty();
    let to_delete = group.clone();
    view! {
        <div data-testid="group-detail" data-group=group.clone()>
            <h3>{format!("Group {group}")}</h3>
            <p>{format!("{}, {} protocol{}; {} member(s); total lag {}.", d.state, d.protocol,
                if d.assignor.is_empty() { String::new() } else { format!(", assignor {}", d.assignor) },
                d.members.len(), d.total_lag)}</p>
            {(!d.members.is_empty()).then(|| view! { <ul>{members}</ul> })}
            <table class="table">
                <thead><tr><th>"Topic"</th><th class="num">"Partition"</th><th class="num">"Committed"</th><th class="num">"End"</th><th class="num">"Lag"</th><th>"Member"</th></tr></thead>
                <tbody>{partitions}</tbody>
            </table>
            <ResetForm group=group.clone() topics asked=asked.clone() preview />
            <Apply id group=group.clone() asked preview reset />
            {empty.then(move || view! { <DeleteForm id group=to_delete delete /> })}
        </div>
    }
}

#[component]
fn ResetForm(
    group: String,
    topics: Vec<String>,
    asked: Asked,
    preview: crate::components::page_data::PageData<Option<Result<ResetView, AppError>>>,
) -> impl IntoView {
    let error = move |field: &'static str| {
        move || {
            preview
                .get()
                .flatten()
                .and_then(|r| field_error(&Some(r), field))
        }
    };
    let to_options = RESET_TO
        .iter()
        .map(|t| view! { <option value=*t selected={asked.to == *t}>{*t}</option> })
        .collect_view();
    let topic_options = topics
        .iter()
        .map(
            |t| view! { <option value=t.clone() selected={asked.topic == *t}>{t.clone()}</option> },
        )
        .collect_view();
    view! {
        <form method="get" action="#consumer-groups" class="form inline-fields" data-testid="group-reset-form">
            <input type="hidden" name="group" value=group />
            <div class="field">
                <label for="reset-to">"Reset offsets to"</label>
                <select id="reset-to" name="to">{to_options}</select>
                <p class="field-error" role="alert" data-testid="reset-to-error">{error("to")}</p>
            </div>
            <div class="field">
                <label for="reset-value">"Time, offset or N"</label>
                <input id="reset-value" name="value" type="text" autocomplete="off" value=asked.value.clone()
                    placeholder="2026-12-07T04:00:00Z, 42 or -100" />
                <p class="field-error" role="alert" data-testid="reset-value-error">
                    {move || error("timestamp")().or_else(error("offset")).or_else(error("shift"))}
                </p>
            </div>
            <div class="field">
                <label for="reset-topic">"Topics"</label>
                <select id="reset-topic" name="topic">
                    <option value="">"All of the group's topics"</option>
                    {topic_options}
                </select>
                <p class="field-error" role="alert" data-testid="reset-topic-error">{error("topic")}</p>
            </div>
            <button type="submit" class="button" data-testid="group-reset-preview">"Preview"</button>
        </form>
        <p class="hint">"A timestamp moves each partition to the first message at or after it; a shift moves the committed offset by N (negative: back). Offsets outside a partition are moved to its nearest end."</p>
    }
}

#[component]
fn Apply(
    id: i64,
    group: String,
    asked: Asked,
    preview: crate::components::page_data::PageData<Option<Result<ResetView, AppError>>>,
    reset: ServerAction<ResetGroup>,
) -> impl IntoView {
    let applied = reset.value();
    let table = move || {
        let view = match applied.get() {
            Some(Ok(done)) => done,
            _ => preview.get().flatten()?.ok()?,
        };
        let rows = view
            .partitions
            .iter()
            .map(|p| {
                let clamp = p.clamped.clone().map(|c| format!(" (moved to {c})"));
                view! {
                    <tr data-testid="reset-row" data-topic=p.topic.clone() data-partition=p.partition.to_string()>
                        <td><code>{p.topic.clone()}</code></td>
                        <td class="num">{p.partition}</td>
                        <td class="num">{shown(p.current)}</td>
                        <td class="num" data-testid="reset-new">{p.new}{clamp}</td>
                        <td class="num">{p.rereads}</td>
                        <td class="num">{p.skips}</td>
                    </tr>
                }
            })
            .collect_view();
        let title = match view.applied {
            true => format!("Reset applied: {}", view.reset),
            false => format!("Preview: {}", view.reset),
        };
        Some(view! {
            <h4 data-testid="reset-title">{title}</h4>
            <table class="table" data-testid="reset-preview">
                <thead><tr><th>"Topic"</th><th class="num">"Partition"</th><th class="num">"Now"</th><th class="num">"New"</th><th class="num">"Re-read"</th><th class="num">"Skipped"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p data-testid="reset-totals">{format!("{} message(s) read again, {} skipped.", view.rereads, view.skips)}</p>
        })
    };
    let ready = move || matches!(preview.get().flatten(), Some(Ok(_)));
    let hidden = StoredValue::new((group, asked));
    view! {
        {table}
        <Show when=ready>
            <ActionForm action=reset attr:class="form inline-fields" attr:data-testid="group-reset-apply-form">
                <input type="hidden" name="id" value=id.to_string() />
                <input type="hidden" name="group" value=hidden.with_value(|(g, _)| g.clone()) />
                <input type="hidden" name="to" value=hidden.with_value(|(_, a)| a.to.clone()) />
                <input type="hidden" name="value" value=hidden.with_value(|(_, a)| a.value.clone()) />
                <input type="hidden" name="topic" value=hidden.with_value(|(_, a)| a.topic.clone()) />
                <button type="submit" class="button button-danger" data-testid="group-reset-apply" disabled=move || reset.pending().get()>
                    "Apply this reset"
                </button>
                <p class="field-error" role="alert" data-testid="group-reset-refused">
                    {move || field_error(&applied.get(), "group")
                        .or_else(|| field_error(&applied.get(), "topic"))
                        .or_else(|| general_error(&applied.get()))}
                </p>
            </ActionForm>
            <p class="hint">"Applied only while no consumer of the group runs: stop its consumers first. The offsets are previewed again when applied."</p>
        </Show>
        <p class="form-error" role="alert" data-testid="group-preview-error">
            {move || preview.get().flatten().and_then(|r| general_error(&Some(r)))}
        </p>
    }
}

#[component]
fn DeleteForm(id: i64, group: String, delete: ServerAction<DeleteGroup>) -> impl IntoView {
    let deleted = delete.value();
    view! {
        <ActionForm action=delete attr:class="form inline-fields" attr:novalidate="" attr:data-testid="group-delete-form">
            <input type="hidden" name="id" value=id.to_string() />
            <input type="hidden" name="group" value=group />
            <div class="field" class:has-error=move || field_error(&deleted.get(), "confirm").is_some()>
                <label for="group-delete-confirm">"Type the group's name to delete it"</label>
                <input id="group-delete-confirm" name="confirm" type="text" autocomplete="off" />
                <p class="field-error" role="alert" data-testid="group-delete-error">
                    {move || field_error(&deleted.get(), "confirm").or_else(|| field_error(&deleted.get(), "group"))}
                </p>
            </div>
            <button type="submit" class="button button-danger" data-testid="group-delete-submit" disabled=move || delete.pending().get()>
                "Delete group and its committed offsets"
            </button>
            <p class="form-error" role="alert">{move || general_error(&deleted.get())}</p>
        </ActionForm>
    }
}
