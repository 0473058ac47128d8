//! One instance: its settings, bootstrap address, the steps of its latest operation, scale,
//! delete (typing the name to confirm), retry when abnormal, and the operation history.
//! Refreshes itself while an operation runs.

use crate::api::error::{field_error, general_error};
use crate::api::instances::{
    get_instance, DeleteInstance, InstanceDetail, OperationLine, QuotaView, RetryInstance,
    ScaleInstance,
};
use crate::components::format::{link, utc};
use crate::components::instance_state::StatePill;
use crate::components::page_data::page_data;
use crate::components::poll::poll_while;
use crate::domain::instance::State;
use crate::domain::license::MIN_INSTANCE_AKU;
use crate::domain::{instance_spec, sizing};
use crate::pages::instance_groups::InstanceGroups;
use crate::pages::instance_kafka::InstanceKafka;
use crate::pages::instance_messages::{messages_data, InstanceMessages, MessagesData};
use crate::pages::instance_moves::InstanceMoves;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn InstanceDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // The position in the operation history (`?operations=<cursor>`): the newest page without.
    let operations_at = move || query.read().get("operations");
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let scale = ServerAction::<ScaleInstance>::new();
    let delete = ServerAction::<DeleteInstance>::new();
    let retry = ServerAction::<RetryInstance>::new();
    let messages = messages_data(id);
    let busy = RwSignal::new(false);
    let tick = poll_while(busy, 1000);
    let data = page_data(
        move || {
            (
                id(),
                operations_at(),
                tick.get(),
                scale.version().get(),
                delete.version().get(),
                retry.version().get(),
            )
        },
        |(id, operations_at, ..)| async move {
            match id {
                Some(id) => get_instance(id, operations_at).await,
                None => Err(crate::api::error::AppError::NotFound(
                    "There is no such instance.".into(),
                )),
            }
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(d)) = data.get() {
            busy.set(d.summary.state.is_busy() || d.summary.progress.is_some());
        }
    });
    view! {
        <Title text="Instance" />
        <p>
            <a href="/instances">"← Instances"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await.map(|d| view! { <Detail d scale delete retry messages /> })
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    d: InstanceDetail,
    scale: ServerAction<ScaleInstance>,
    delete: ServerAction<DeleteInstance>,
    retry: ServerAction<RetryInstance>,
    messages: MessagesData,
) -> impl IntoView {
    let s = d.summary.clone();
    let state = s.state;
    let can_change = d.can_change;
    let newest = format!("/instances/{}", s.id);
    let older = d
        .operations_next
        .as_deref()
        .map(|cursor| link(&newest, &[("operations", cursor)]));
    let is_older_page = use_query_map().read_untracked().get("operations").is_some();
    let (write, read) = d.capacity;
    let size_line = match s.target_aku {
        Some(t) if t != s.size_aku => format!("{} AKU → {t} AKU", s.size_aku),
        _ => format!("{} AKU", s.size_aku),
    };
    view! {
        <Title text=s.name.clone() />
        <div class="page-head">
            <h1 data-testid="instance-name">{s.name.clone()}</h1>
            <StatePill state />
            {s.progress.clone().map(|p| view! { <span class="progress" data-testid="instance-progress">{p}</span> })}
        </div>
        {s.state_reason.clone().map(|reason| {
            view! {
                <section class="notice critical" data-testid="abnormal-reason">
                    <strong>"Abnormal: "</strong>
                    {reason}
                    {(can_change && state == State::Abnormal).then(|| view! { <RetryForm id=s.id retry /> })}
                </section>
            }
        })}
        <div class="cards">
            <section class="card">
                <h2>"Connection"</h2>
                <dl>
                    <dt>"Bootstrap address"</dt>
                    <dd>
                        <code data-testid="bootstrap">
                            {if s.bootstrap.is_empty() { "assigned when running".to_string() } else { s.bootstrap.clone() }}
                        </code>
                    </dd>
                    <dt>"Client authentication"</dt>
                    <dd>{d.client_auth.label()}</dd>
                    <dt>"Transit encryption"</dt>
                    <dd>{d.transit_encryption.label()}</dd>
                    <dt>"Exposure"</dt>
                    <dd>{d.endpoint_exposure.label()}</dd>
                </dl>
            </section>
            <section class="card">
                <h2>"Capacity"</h2>
                <dl>
                    <dt>"Size"</dt>
                    <dd data-testid="detail-size">{size_line}</dd>
                    <dt>"Serves"</dt>
                    <dd>{format!("{write} MiB/s of writes, {read} MiB/s of reads")}</dd>
                    <dt>"Kafka"</dt>
                    <dd>{s.kafka_version.clone()}</dd>
                </dl>
            </section>
        </div>
        {(state != State::Deleted).then(|| view! { <InstanceKafka id=s.id running=state == State::Running /> })}
        {(state != State::Deleted).then(|| view! { <InstanceGroups id=s.id running=state == State::Running /> })}
        {(state != State::Deleted).then(|| view! { <InstanceMessages id=s.id running=state == State::Running data=messages /> })}
        {(state != State::Deleted).then(|| view! { <InstanceMoves id=s.id running=state == State::Running /> })}
        <section class="card">
            <h2>"Settings"</h2>
            <dl class="columns">
                <dt>"Description"</dt>
                <dd>{if d.description.is_empty() { "—".to_string() } else { d.description.clone() }}</dd>
                <dt>"Deployment"</dt>
                <dd>{d.deployment.label()}</dd>
                <dt>"VPC"</dt>
                <dd><code>{d.vpc_id.clone()}</code></dd>
                <dt>"Zones and subnets"</dt>
                <dd>
                    {d.placement.iter().map(|(zone, subnet)| view! { <div>{format!("{zone}: ")}<code>{subnet.clone()}</code></div> }).collect_view()}
                </dd>
                <dt>"Data bucket"</dt>
                <dd><code>{d.data_bucket.clone()}</code></dd>
                <dt>"Write-ahead log"</dt>
                <dd>{d.wal_mode.label()}</dd>
                <dt>"Tags"</dt>
                <dd>
                    {if d.tags.is_empty() {
                        "—".to_string()
                    } else {
                        d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                    }}
                </dd>
                <dt>"Created"</dt>
                <dd>{format!("{} by {}", utc(s.created_at), d.created_by)}</dd>
            </dl>
        </section>
        {(!d.steps.is_empty()).then(|| {
            view! {
                <section class="card">
                    <h2>"Latest operation"</h2>
                    <ol class="op-steps" data-testid="operation-steps">
                        {d.steps.iter().map(|step| {
                            let retried = (step.attempts > 1).then(|| format!(" (attempt {})", step.attempts));
                            view! {
                                <li class=format!("step-{}", step.status.as_str()) data-status=step.status.as_str()>
                                    {step.label.clone()}
                                    <span class="step-status">{format!(" — {}", step.status.as_str())}{retried}</span>
                                    {step.detail.clone().map(|detail| view! { <div class="step-detail">{detail}</div> })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                </section>
            }
        })}
        {(can_change && state == State::Running).then(|| view! { <ScaleForm id=s.id current=s.size_aku quota=d.quota.clone() scale /> })}
        {(can_change && matches!(state, State::Running | State::Suspended | State::Abnormal))
            .then(|| view! { <DeleteForm id=s.id name=s.name.clone() delete /> })}
        {(state == State::Deleted).then(|| view! { <p class="notice" data-testid="deleted-notice">"This instance is deleted. Its settings and history are kept."</p> })}
        <section class="card">
            <h2>"Operation history"</h2>
            <OperationTable operations=d.operations.clone() />
            <nav class="pager" aria-label="Operation history pages">
                {is_older_page.then(|| view! { <a href=newest data-testid="newest-operations">"Newest operations"</a> })}
                {older.map(|href| view! { <a href=href rel="next" data-testid="older-operations">"Older operations"</a> })}
            </nav>
        </section>
    }
}

#[component]
fn RetryForm(id: i64, retry: ServerAction<RetryInstance>) -> impl IntoView {
    let result = retry.value();
    view! {
        <ActionForm action=retry attr:class="inline-form">
            <input type="hidden" name="id" value=id.to_string() />
            <button type="submit" class="button-secondary" data-testid="retry">
                "Retry"
            </button>
            <span class="form-error" role="alert">{move || general_error(&result.get())}</span>
        </ActionForm>
    }
}

#[component]
fn ScaleForm(
    id: i64,
    current: u32,
    quota: QuotaView,
    scale: ServerAction<ScaleInstance>,
) -> impl IntoView {
    let result = scale.value();
    let size = RwSignal::new(current.to_string());
    let max = quota.max_per_instance;
    // The live check: down always, up by the increase within the quota.
    let verdict = move || -> Result<String, String> {
        // The server's own size rule and words.
        let to = instance_spec::parse_size(&size.get(), max).map_err(|e| e.to_string())?;
        if to == current {
            return Err(format!("The instance is already {current} AKU."));
        }
        if to > current {
            quota.check(to - current)?;
            let (w, r) = sizing::capacity(to);
            return Ok(format!(
                "Scale up by {} AKU: then serves {w} MiB/s of writes, {r} MiB/s of reads.",
                to - current
            ));
        }
        Ok(format!(
            "Scale down by {} AKU (always allowed).",
            current - to
        ))
    };
    let verdict_text = verdict.clone();
    view! {
        <section class="card">
            <h2>"Scale"</h2>
            <ActionForm action=scale attr:class="form" attr:novalidate="" attr:data-testid="scale-form">
                <input type="hidden" name="id" value=id.to_string() />
                <div class="field" class:has-error=move || field_error(&result.get(), "size_aku").is_some()>
                    <label for="scale-size">"New size (AKU)"</label>
                    <input id="scale-size" name="size_aku" type="number" min=MIN_INSTANCE_AKU.to_string() max=max.to_string()
                        prop:value=move || size.get() on:input=move |ev| size.set(event_target_value(&ev)) />
                    <p class="field-error" role="alert" data-testid="scale-error">
                        {move || field_error(&result.get(), "size_aku").or_else(|| general_error(&result.get()))}
                    </p>
                </div>
                <p class="live-hint" data-testid="scale-preview">{move || match verdict_text() { Ok(t) | Err(t) => t }}</p>
                <button type="submit" class="button-primary" data-testid="scale-submit"
                    disabled=move || scale.pending().get() || verdict().is_err()>
                    "Scale"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn DeleteForm(id: i64, name: String, delete: ServerAction<DeleteInstance>) -> impl IntoView {
    let result = delete.value();
    let typed = RwSignal::new(String::new());
    let expected = name.clone();
    view! {
        <section class="card danger">
            <h2>"Delete"</h2>
            <p>
                "Deleting stops the brokers and releases the instance's storage and network. Its settings and history stay readable here. Type "
                <code>{name.clone()}</code>
                " to confirm."
            </p>
            <ActionForm action=delete attr:class="form" attr:novalidate="" attr:data-testid="delete-form">
                <input type="hidden" name="id" value=id.to_string() />
                <div class="field" class:has-error=move || field_error(&result.get(), "confirm_name").is_some()>
                    <label for="confirm_name">"Instance name"</label>
                    <input id="confirm_name" name="confirm_name" autocomplete="off"
                        prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                    <p class="field-error" role="alert">
                        {move || field_error(&result.get(), "confirm_name").or_else(|| general_error(&result.get()))}
                    </p>
                </div>
                <button type="submit" class="button-danger" data-testid="delete-submit"
                    disabled=move || delete.pending().get() || typed.get().trim() != expected>
                    "Delete instance"
                </button>
            </ActionForm>
        </section>
    }
}

pub fn change_text(op: &OperationLine) -> String {
    let kind = op.kind.map(|k| k.as_str()).unwrap_or("?");
    let sizes = match (kind, op.from_aku, op.to_aku) {
        ("scale", Some(a), Some(b)) => format!(" {a} → {b} AKU"),
        ("create", _, Some(b)) => format!(" {b} AKU"),
        _ => String::new(),
    };
    format!("{kind}{sizes}: {} → {}", op.from_state, op.to_state)
}

#[component]
pub fn OperationTable(operations: Vec<OperationLine>) -> impl IntoView {
    view! {
        <table class="table" data-testid="operation-history">
            <thead>
                <tr>
                    <th>"Requested"</th>
                    <th>"Who"</th>
                    <th>"From"</th>
                    <th>"Change"</th>
                    <th>"Outcome"</th>
                    <th>"Finished"</th>
                </tr>
            </thead>
            <tbody>
                {operations.into_iter().map(|op| {
                    let outcome = match &op.error {
                        Some(e) => format!("{}: {e}", op.status),
                        None => op.status.clone(),
                    };
                    view! {
                        <tr data-testid="operation-row">
                            <td>{utc(op.requested_at)}</td>
                            <td>{op.requested_by.clone()}</td>
                            <td>{op.requested_from.clone().unwrap_or_default()}</td>
                            <td>{change_text(&op)}</td>
                            <td class=format!("outcome-{}", op.status)>{outcome}</td>
                            <td>{op.finished_at.map(utc).unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
