//! The Kafka panel's "Access rules": each user's ACLs, with the everyday presets and a form for
//! any single rule. Nothing is allowed without a rule, and the page says so.

use crate::api::error::{field_error, general_error};
use crate::api::kafka_acls::{
    AclChange, CreateKafkaAcl, CreateKafkaAclPreset, DeleteKafkaAcl, KafkaAclView,
};
use crate::components::format::utc;
use crate::domain::kafka_acl::{Operation, Pattern, Permission, Preset, ResourceType};
use leptos::prelude::*;

/// The forms of the section (kept across refreshes of the panel).
#[derive(Clone, Copy)]
pub struct AclActions {
    pub create: ServerAction<CreateKafkaAcl>,
    pub preset: ServerAction<CreateKafkaAclPreset>,
    pub delete: ServerAction<DeleteKafkaAcl>,
}

impl Default for AclActions {
    fn default() -> AclActions {
        AclActions {
            create: ServerAction::new(),
            preset: ServerAction::new(),
            delete: ServerAction::new(),
        }
    }
}

impl AclActions {
    /// Changes when any of the forms was sent (the panel reloads).
    pub fn versions(&self) -> (usize, usize, usize) {
        (
            self.create.version().get(),
            self.preset.version().get(),
            self.delete.version().get(),
        )
    }
}

fn applied(result: Option<Result<AclChange, crate::wire::error::AppError>>) -> Option<String> {
    result.and_then(Result::ok).map(|done| {
        let rules: Vec<String> = done.rules.iter().map(|r| r.description.clone()).collect();
        if rules.is_empty() {
            format!("The user had these rules already; {}.", done.applied)
        } else {
            format!("{}: {}.", rules.join("; "), done.applied)
        }
    })
}

fn options<T: Copy + 'static>(
    all: &'static [T],
    id: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> impl IntoView {
    all.iter()
        .map(|v| view! { <option value=id(*v)>{label(*v)}</option> })
        .collect_view()
}

#[component]
pub fn KafkaAcls(
    id: i64,
    acls: Vec<KafkaAclView>,
    /// The users that may get rules (not the console's own).
    users: Vec<String>,
    can_change: bool,
    actions: AclActions,
) -> impl IntoView {
    let without: Vec<String> = users
        .iter()
        .filter(|u| !acls.iter().any(|a| &a.username == *u && a.until.is_none()))
        .cloned()
        .collect();
    let rows = acls
        .into_iter()
        .map(|a| {
            let remove = can_change.then(|| {
                view! {
                    <ActionForm action=actions.delete attr:class="inline" attr:data-testid="kafka-acl-delete">
                        <input type="hidden" name="id" value=id.to_string() />
                        <input type="hidden" name="acl_id" value=a.id.to_string() />
                        <button type="submit" class="button button-danger">"Remove"</button>
                    </ActionForm>
                }
            });
            let kept = a.until.map(|t| format!(" (kept until {}: the user is deleted)", utc(t)));
            view! {
                <tr data-testid="kafka-acl-row" data-user=a.username.clone()>
                    <td><code>{a.username.clone()}</code></td>
                    <td>{a.description.clone()}{kept}</td>
                    <td>{format!("{} by {}", utc(a.created_at), a.created_by)}</td>
                    <td>{remove}</td>
                </tr>
            }
        })
        .collect_view();
    let none = (!without.is_empty()).then(|| {
        view! {
            <p class="notice" data-testid="kafka-acl-none">
                {format!(
                    "No rules yet for {}: {} can neither read nor write anything until given a rule.",
                    without.join(", "),
                    if without.len() == 1 { "this user" } else { "these users" }
                )}
            </p>
        }
    });
    let has_users = !users.is_empty();
    let user_options = {
        let users = users.clone();
        move || {
            users
                .iter()
                .map(|u| view! { <option value=u.clone()>{u.clone()}</option> })
                .collect_view()
        }
    };
    let user_options_again = user_options.clone();
    let (preset_result, create_result) = (actions.preset.value(), actions.create.value());
    let deleted = actions.delete.value();
    let forms = (can_change && has_users).then(|| {
        view! {
            <h3>"Add a preset"</h3>
            <ActionForm action=actions.preset attr:class="form inline-fields" attr:novalidate="" attr:data-testid="kafka-acl-preset-form">
                <input type="hidden" name="id" value=id.to_string() />
                <div class="field">
                    <label for="acl-preset-user">"User"</label>
                    <select id="acl-preset-user" name="username">{user_options()}</select>
                </div>
                <div class="field" class:has-error=move || field_error(&preset_result.get(), "preset").is_some()>
                    <label for="acl-preset">"Preset"</label>
                    <select id="acl-preset" name="preset">
                        {Preset::ALL.iter().map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
                    </select>
                    <p class="field-error" role="alert">{move || field_error(&preset_result.get(), "preset")}</p>
                </div>
                <div class="field" class:has-error=move || field_error(&preset_result.get(), "topic").is_some()>
                    <label for="acl-preset-topic">"Topic"</label>
                    <input id="acl-preset-topic" name="topic" type="text" placeholder="orders." autocomplete="off" />
                    <p class="field-error" role="alert" data-testid="acl-preset-topic-error">{move || field_error(&preset_result.get(), "topic")}</p>
                </div>
                <div class="field">
                    <label for="acl-preset-topic-pattern">"Topic matches"</label>
                    <select id="acl-preset-topic-pattern" name="topic_pattern">{options(Pattern::ALL, Pattern::as_str, Pattern::label)}</select>
                </div>
                <div class="field" class:has-error=move || field_error(&preset_result.get(), "group").is_some()>
                    <label for="acl-preset-group">"Consumer group (to consume)"</label>
                    <input id="acl-preset-group" name="group" type="text" placeholder="billing" autocomplete="off" />
                    <p class="field-error" role="alert" data-testid="acl-preset-group-error">{move || field_error(&preset_result.get(), "group")}</p>
                </div>
                <div class="field">
                    <label for="acl-preset-group-pattern">"Group matches"</label>
                    <select id="acl-preset-group-pattern" name="group_pattern">{options(Pattern::ALL, Pattern::as_str, Pattern::label)}</select>
                </div>
                <button type="submit" class="button-primary" data-testid="kafka-acl-preset-submit" disabled=move || actions.preset.pending().get()>"Add rules"</button>
                <p class="form-error" role="alert">{move || general_error(&preset_result.get())}</p>
            </ActionForm>
            <p class="hint">
                "Produce: write and describe the topics (enough for idempotent producers). Consume: read "
                "and describe the topics, read the group. Create, delete and configure topics: for "
                "applications that manage their own. Enter * as the topic or group for all of them."
            </p>
            <h3>"Add one rule"</h3>
            <ActionForm action=actions.create attr:class="form inline-fields" attr:novalidate="" attr:data-testid="kafka-acl-form">
                <input type="hidden" name="id" value=id.to_string() />
                <div class="field">
                    <label for="acl-user">"User"</label>
                    <select id="acl-user" name="username">{user_options_again()}</select>
                </div>
                <div class="field">
                    <label for="acl-resource-type">"Resource"</label>
                    <select id="acl-resource-type" name="resource_type">{options(ResourceType::ALL, ResourceType::as_str, ResourceType::label)}</select>
                </div>
                <div class="field" class:has-error=move || field_error(&create_result.get(), "resource_name").is_some()>
                    <label for="acl-resource-name">"Name"</label>
                    <input id="acl-resource-name" name="resource_name" type="text" placeholder="orders" autocomplete="off" />
                    <p class="field-error" role="alert" data-testid="acl-resource-name-error">{move || field_error(&create_result.get(), "resource_name")}</p>
                </div>
                <div class="field">
                    <label for="acl-pattern">"Matches"</label>
                    <select id="acl-pattern" name="pattern">{options(Pattern::ALL, Pattern::as_str, Pattern::label)}</select>
                </div>
                <div class="field" class:has-error=move || field_error(&create_result.get(), "operation").is_some()>
                    <label for="acl-operation">"Operation"</label>
                    <select id="acl-operation" name="operation">{options(Operation::ALL, Operation::as_str, Operation::label)}</select>
                    <p class="field-error" role="alert" data-testid="acl-operation-error">{move || field_error(&create_result.get(), "operation")}</p>
                </div>
                <div class="field">
                    <label for="acl-permission">"Permission"</label>
                    <select id="acl-permission" name="permission">{options(Permission::ALL, Permission::as_str, Permission::label)}</select>
                </div>
                <div class="field" class:has-error=move || field_error(&create_result.get(), "host").is_some()>
                    <label for="acl-host">"From host"</label>
                    <input id="acl-host" name="host" type="text" value="*" autocomplete="off" />
                    <p class="field-error" role="alert">{move || field_error(&create_result.get(), "host")}</p>
                </div>
                <button type="submit" class="button" data-testid="kafka-acl-submit" disabled=move || actions.create.pending().get()>"Add rule"</button>
                <p class="form-error" role="alert">{move || general_error(&create_result.get())}</p>
            </ActionForm>
        }
    });
    view! {
        <section class="card" data-testid="kafka-acls">
            <h2>"Access rules (ACLs)"</h2>
            <p class="muted">
                "Kafka allows a client only what a rule of its user allows: a new user can do nothing. "
                "A deny wins over any allow. The console is the one place rules are made: the cluster's "
                "rules are made exactly these within seconds of a change, and a rule found on the "
                "cluster that is not here is removed (the audit log says so). No rule may let a client "
                "change the cluster's users, rules or settings."
            </p>
            {none}
            <table class="table">
                <thead><tr><th>"User"</th><th>"Rule"</th><th>"Added"</th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="notice" role="status" data-testid="kafka-acl-result">
                {move || applied(preset_result.get()).or_else(|| applied(create_result.get())).or_else(|| applied(deleted.get()))}
            </p>
            <p class="form-error" role="alert" data-testid="kafka-acl-error">{move || general_error(&deleted.get())}</p>
            {forms}
        </section>
    }
}
