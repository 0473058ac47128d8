//! The Kafka side of an instance's page: how to connect (only settings in force), its topics
//! with their latest offsets and a form to create one, and live traffic measured from the
//! broker against the instance's capacity. Refreshes every few seconds while it is running.

use crate::api::error::{field_error, general_error};
use crate::api::kafka::{
    instance_kafka, ConnectInfo, CreateKafkaUser, CreateTopic, DeleteKafkaUser, DeleteTopic,
    KafkaPanel, KafkaUserView, NewKafkaUser, RotateKafkaUser, SetTopicRetention, TopicInfo,
};
use crate::components::copy::CopyButton;
use crate::components::format::utc;
use crate::components::page_data::page_data;
use crate::components::poll::poll_while;
use crate::domain::kafka_user::{CONSOLE_USER, NAME_MAX as USER_NAME_MAX};
use crate::domain::topic::{DEFAULT_RETENTION_HOURS, PARTITIONS_MAX};
use crate::pages::instance_acls::{AclActions, KafkaAcls};
use crate::pages::instance_traffic::Traffic;
use leptos::prelude::*;

#[component]
pub fn InstanceKafka(id: i64, running: bool) -> impl IntoView {
    let actions = Actions {
        create: ServerAction::<CreateTopic>::new(),
        delete_topic: ServerAction::<DeleteTopic>::new(),
        retention: ServerAction::<SetTopicRetention>::new(),
        create_user: ServerAction::<CreateKafkaUser>::new(),
        rotate_user: ServerAction::<RotateKafkaUser>::new(),
        delete_user: ServerAction::<DeleteKafkaUser>::new(),
        acls: AclActions::default(),
    };
    let live = RwSignal::new(running);
    let tick = poll_while(live, 5000);
    let data = page_data(
        move || {
            (
                tick.get(),
                actions.create.version().get(),
                actions.delete_topic.version().get(),
                actions.retention.version().get(),
                actions.create_user.version().get(),
                actions.rotate_user.version().get(),
                actions.delete_user.version().get(),
                actions.acls.versions(),
            )
        },
        move |_| instance_kafka(id),
    );
    view! {
        // Outside the refreshing panel, and above it where it is seen: a password shown once
        // must not vanish at the next poll.
        <NewPassword created=actions.create_user rotated=actions.rotate_user />
        <Transition fallback=|| view! { <p class="loading">"Loading the broker…"</p> }>
            {move || Suspend::new(async move {
                data.await.map(|panel| view! { <Panel id panel actions /> })
            })}
        </Transition>
    }
}

/// The panel's forms (kept across refreshes of its data).
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateTopic>,
    delete_topic: ServerAction<DeleteTopic>,
    retention: ServerAction<SetTopicRetention>,
    create_user: ServerAction<CreateKafkaUser>,
    rotate_user: ServerAction<RotateKafkaUser>,
    delete_user: ServerAction<DeleteKafkaUser>,
    acls: AclActions,
}

#[component]
fn Panel(id: i64, panel: KafkaPanel, actions: Actions) -> impl IntoView {
    let create = actions.create;
    if !panel.real {
        return view! {
            <section class="card" data-testid="kafka-panel">
                <h2>"Kafka"</h2>
                <p class="muted" data-testid="kafka-note">{panel.note.unwrap_or_default()}</p>
            </section>
        }
        .into_any();
    }
    let can_change = panel.can_change;
    view! {
        <div data-testid="kafka-panel">
            {panel.note.clone().map(|note| view! { <p class="notice" data-testid="kafka-note">{note}</p> })}
            // Each part type-erased (`into_any`): nested, their view types exceed the
            // compiler's recursion limit in the WASM build.
            {panel.connect.clone().map(|c| view! { <Connect c /> }.into_any())}
                        {panel.users.clone().map(|users| { let mechanisms = panel.user_mechanisms.clone(); view! { <KafkaUsers id users mechanisms can_change actions /> }.into_any() })}
            {panel.acls.clone().map(|acls| {
                let users = panel.users.iter().flatten().filter(|u| !u.internal).map(|u| u.username.clone()).collect();
                view! { <KafkaAcls id acls users can_change actions=actions.acls /> }.into_any()
            })}
            {panel.connect.is_some().then(|| view! {
                <Topics id topics=panel.topics.clone() error=panel.topics_error.clone() can_change create delete=actions.delete_topic retention=actions.retention />
            }.into_any())}
            {panel.traffic.clone().map(|t| view! { <Traffic t /> }.into_any())}
        </div>
    }
    .into_any()
}

#[component]
fn Connect(c: ConnectInfo) -> impl IntoView {
    view! {
        <section class="card" data-testid="connect-panel">
            <h2>"Connect"</h2>
            <dl>
                <dt>"Bootstrap address"</dt>
                <dd class="copy-line">
                    <code data-testid="connect-bootstrap">{c.bootstrap.clone()}</code>
                    <CopyButton text=c.bootstrap.clone() testid="copy-bootstrap" />
                </dd>
                <dt>"Security protocol"</dt>
                <dd data-testid="connect-protocol">{c.security_protocol.clone()}</dd>
                <dt>"Client authentication"</dt>
                <dd>{c.authentication.clone()}</dd>
            </dl>
            {c.ca_download.clone().map(|href| view! {
                <p>
                    <a href=href download="byoc-ca.pem" data-testid="ca-download">"Download the CA certificate"</a>
                    " (byoc-ca.pem): clients trust the instance's TLS certificate through it."
                </p>
            })}
            <p class="muted" data-testid="connect-security">{security_words(&c)}</p>
            <p class="muted">
                "One broker process serves this instance on this host, whatever its size: scaling "
                "changes the recorded size and capacity, not the process."
            </p>
            <CopyBlock title="client.properties" text=c.client_properties testid="client-properties" />
            <CopyBlock title="Produce (Python, confluent-kafka)" text=c.producer_example testid="producer-example" />
            <CopyBlock title="Consume" text=c.consumer_example testid="consumer-example" />
        </section>
    }
}

/// What is in force on the endpoint, plainly.
fn security_words(c: &ConnectInfo) -> &'static str {
    match c.security_protocol.as_str() {
        "SASL_SSL" => "Every client must log in with SASL/SCRAM as one of this instance's users, over \
            TLS (TLS 1.3; the server is verified against the CA certificate). Client certificates are \
            not checked (the broker does not offer mutual TLS).",
        "SASL_PLAINTEXT" => "Every client must log in with SASL/SCRAM as one of this instance's users; \
            the connection is not encrypted, so passwords are protected by SCRAM but messages are not: \
            keep it inside the network you trust.",
        "SSL" => "Connections are encrypted with TLS, but any client that reaches the port may read \
            and write every topic: keep it inside the network you trust.",
        _ => "The endpoint takes no credentials and no TLS: anyone who reaches its port reads and \
            writes every topic. Keep it inside the network you trust.",
    }
}

/// A password just generated: shown this once, with settings ready to copy.
#[component]
fn NewPassword(
    created: ServerAction<CreateKafkaUser>,
    rotated: ServerAction<RotateKafkaUser>,
) -> impl IntoView {
    let shown = RwSignal::new(None::<NewKafkaUser>);
    Effect::new(move |_| {
        if let Some(Ok(user)) = created.value().get() {
            shown.set(Some(user));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(user)) = rotated.value().get() {
            shown.set(Some(user));
        }
    });
    move || {
        shown.get().map(|u| {
            view! {
                <section class="card notice" data-testid="new-kafka-user">
                    <h2>{if u.certificate_pem.is_some() { format!("Certificate of {}", u.username) } else { format!("Password of {}", u.username) }}</h2>
                    {u.certificate_pem.clone().map(|pem| {
                        let file = format!("{}.pem", u.username);
                        let expires = u.certificate_expires_at.map(utc).unwrap_or_default();
                        view! {
                            <p>
                                "Save it now as " <code>{file.clone()}</code> " (its key and certificate, one file): the console "
                                "never keeps the key, so it cannot show it again. Valid until " {expires}
                                "; issue a new one before then (New certificate)."
                            </p>
                            <p><a class="button" download=file href=pem_download(&pem) data-testid="new-kafka-certificate-download">"Download the certificate and key"</a></p>
                            <CopyBlock title="Certificate and key (PEM)" text=pem testid="new-kafka-certificate" />
                        }
                    })}
                    <p>
                        "Copy it now: the console keeps only what checks a login (SCRAM keys or a salted hash), "
                        "so it cannot show this password again. Rotate it if it is lost."
                    </p>
                    <dl>
                        <dt>"User"</dt>
                        <dd><code data-testid="new-kafka-username">{u.username.clone()}</code></dd>
                        <dt>"Mechanism"</dt>
                        <dd>{u.mechanism.clone()}</dd>
                        {(u.certificate_pem.is_none()).then(|| view! {
                            <dt>"Password"</dt>
                            <dd class="copy-line">
                                <code data-testid="new-kafka-password">{u.password.clone()}</code>
                                <CopyButton text=u.password.clone() testid="copy-kafka-password" />
                            </dd>
                        })}
                        <dt>"On the broker"</dt>
                        <dd data-testid="new-kafka-applied">{u.applied.clone()}</dd>
                    </dl>
                    <CopyBlock title="client.properties (with this user)" text=u.client_properties.clone() testid="new-user-properties" />
                    <button type="button" class="button" on:click=move |_| shown.set(None)>"I have copied it"</button>
                </section>
            }
        })
    }
}

#[component]
fn KafkaUsers(
    id: i64,
    users: Vec<KafkaUserView>,
    mechanisms: Vec<String>,
    can_change: bool,
    actions: Actions,
) -> impl IntoView {
    let create = actions.create_user;
    let result = create.value();
    let deleted = actions.delete_user.value();
    let rotated = actions.rotate_user.value();
    let rows = users
        .into_iter()
        .map(|u| {
            let changed = match u.certificate_expires_at {
                Some(expires) => format!("certificate valid until {}", utc(expires)),
                None => u.rotated_at.map(utc).unwrap_or_else(|| "—".into()),
            };
            let renew_label = if u.mechanism == "certificate" { "New certificate" } else { "New password" };
            let name = u.username.clone();
            let manage = (can_change && !u.internal).then(|| {
                let (n1, n2) = (name.clone(), name.clone());
                view! {
                    <ActionForm action=actions.rotate_user attr:class="inline" attr:data-testid="kafka-user-rotate">
                        <input type="hidden" name="id" value=id.to_string() />
                        <input type="hidden" name="username" value=n1 />
                        <button type="submit" class="button">{renew_label}</button>
                    </ActionForm>
                    <ActionForm action=actions.delete_user attr:class="inline" attr:data-testid="kafka-user-delete">
                        <input type="hidden" name="id" value=id.to_string() />
                        <input type="hidden" name="username" value=n2 />
                        <button type="submit" class="button button-danger">"Delete"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr data-testid="kafka-user-row" data-user=name.clone()>
                    <td><code>{name.clone()}</code>{u.internal.then(|| view! { <span class="muted">" (the console's own)"</span> })}</td>
                    <td>{u.mechanism.clone()}</td>
                    <td>{format!("{} by {}", utc(u.created_at), u.created_by)}</td>
                    <td>{changed}</td>
                    <td>{manage}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid="kafka-users">
            <h2>"Kafka users"</h2>
            <p class="muted">
                "Clients log in as one of these users: SASL/SCRAM or SASL/PLAIN with a password, mutual TLS "
                "with a certificate the console issues for this instance (valid 30 days; Kafka cannot revoke "
                "one, so deleting a user adds rules that deny its name everything until its last certificate "
                "expires, and the name cannot be given again before then). A new user can do nothing until "
                "given access rules (below). The console owns this list: a user added on the cluster "
                "behind its back is removed within seconds, and the audit log says so. Deleting a user "
                "or giving it a new password refuses new logins with the old one at once and ends open "
                "sessions at their next re-authentication, within 60 s. Deleting a user removes its "
                "rules."
            </p>
            <table class="table">
                <thead><tr><th>"User"</th><th>"Mechanism"</th><th>"Created"</th><th>"New password or certificate"</th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="form-error" role="alert" data-testid="kafka-user-manage-error">
                {move || general_error(&rotated.get()).or_else(|| general_error(&deleted.get()))
                    .or_else(|| field_error(&rotated.get(), "username")).or_else(|| field_error(&deleted.get(), "username"))}
            </p>
            {move || deleted.get().and_then(Result::ok).map(|done| view! {
                <p class="notice" data-testid="kafka-user-deleted">{format!("User deleted: {done}.")}</p>
            })}
            {can_change.then(|| view! {
                <ActionForm action=create attr:class="form inline-fields" attr:novalidate="" attr:data-testid="kafka-user-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <div class="field" class:has-error=move || field_error(&result.get(), "username").is_some()>
                        <label for="kafka-username">"New user"</label>
                        <input id="kafka-username" name="username" type="text" maxlength=USER_NAME_MAX.to_string() placeholder="orders-app" autocomplete="off" />
                        <p class="field-error" role="alert" data-testid="kafka-username-error">{move || field_error(&result.get(), "username")}</p>
                    </div>
                    <div class="field" class:has-error=move || field_error(&result.get(), "mechanism").is_some()>
                        <label for="kafka-mechanism">"Mechanism"</label>
                        <select id="kafka-mechanism" name="mechanism">
                            {mechanisms.iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                        </select>
                        <p class="field-error" role="alert">{move || field_error(&result.get(), "mechanism")}</p>
                    </div>
                    <button type="submit" class="button-primary" data-testid="kafka-user-submit" disabled=move || create.pending().get()>
                        "Create user"
                    </button>
                    <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
                </ActionForm>
                <p class="hint">{format!("The console generates the password and shows it once. {CONSOLE_USER} is the console's own user.")}</p>
            })}
        </section>
    }
}

/// A `data:` URL that downloads `pem` as a file (made in the browser from what the answer
/// carried: nothing is fetched again, and the console has no copy).
fn pem_download(pem: &str) -> String {
    let mut out = String::from("data:application/x-pem-file,");
    for c in pem.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '/' => out.push(c),
            other => {
                let mut buf = [0u8; 4];
                for b in other.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// A titled block of text to copy as it is.
#[component]
fn CopyBlock(title: &'static str, text: String, testid: &'static str) -> impl IntoView {
    view! {
        <h3>{title}</h3>
        <div class="copy-block">
            <pre data-testid=testid>{text.clone()}</pre>
            <CopyButton text />
        </div>
    }
}

#[component]
fn Topics(
    id: i64,
    topics: Vec<TopicInfo>,
    error: Option<String>,
    can_change: bool,
    create: ServerAction<CreateTopic>,
    delete: ServerAction<DeleteTopic>,
    retention: ServerAction<SetTopicRetention>,
) -> impl IntoView {
    let result = create.value();
    let deleted = delete.value();
    let retained = retention.value();
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let names_to_delete = names.clone();
    let rows = topics
        .iter()
        .map(|t| {
            let total: i64 = t.partitions.iter().map(|p| p.latest_offset).sum();
            let per_partition = t
                .partitions
                .iter()
                .map(|p| format!("{}: {}", p.partition, p.latest_offset))
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <tr data-testid="topic-row" data-topic=t.name.clone()>
                    <td><code>{t.name.clone()}</code></td>
                    <td class="num">{t.partitions.len()}</td>
                    <td class="num" data-testid="topic-offset">{total}</td>
                    <td class="muted">{per_partition}</td>
                    <td data-testid="topic-retention">{t.retention.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let empty = topics.is_empty();
    view! {
        <section class="card" data-testid="topics-panel">
            <h2>"Topics"</h2>
            {error.map(|e| view! { <p class="notice critical" data-testid="topics-error">{e}</p> })}
            {if empty {
                view! { <p class="muted" data-testid="no-topics">"No topics yet. The broker does not create topics on first use: create them here."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"Topic"</th><th class="num">"Partitions"</th><th class="num">"Latest offset (sum)"</th><th>"Per partition"</th><th>"Retention"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            }}
            {(can_change && !names.is_empty()).then(|| view! {
                <ActionForm action=retention attr:class="form inline-fields" attr:novalidate="" attr:data-testid="topic-retention-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <div class="field">
                        <label for="topic-retention-name">"Change retention of"</label>
                        <select id="topic-retention-name" name="topic">
                            {names.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field" class:has-error=move || field_error(&retained.get(), "retention_hours").is_some()>
                        <label for="topic-retention-hours">"Hours, or forever"</label>
                        <input id="topic-retention-hours" name="retention_hours" type="text" autocomplete="off" />
                        <p class="field-error" role="alert" data-testid="topic-retention-error">{move || field_error(&retained.get(), "retention_hours")}</p>
                    </div>
                    <button type="submit" class="button" data-testid="topic-retention-submit" disabled=move || retention.pending().get()>
                        "Set retention"
                    </button>
                    <p class="form-error" role="alert">{move || general_error(&retained.get())}</p>
                </ActionForm>
                <p class="hint">"The broker deletes messages older than a topic's retention every 10 minutes."</p>
            })}
            {(can_change && !names_to_delete.is_empty()).then(|| view! {
                <ActionForm action=delete attr:class="form inline-fields" attr:novalidate="" attr:data-testid="topic-delete-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <div class="field">
                        <label for="topic-delete-name">"Delete a topic"</label>
                        <select id="topic-delete-name" name="topic">
                            {names_to_delete.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field" class:has-error=move || field_error(&deleted.get(), "confirm").is_some()>
                        <label for="topic-delete-confirm">"Type its name to confirm"</label>
                        <input id="topic-delete-confirm" name="confirm" type="text" autocomplete="off" />
                        <p class="field-error" role="alert" data-testid="topic-delete-error">{move || field_error(&deleted.get(), "confirm").or_else(|| field_error(&deleted.get(), "topic"))}</p>
                    </div>
                    <button type="submit" class="button button-danger" data-testid="topic-delete-submit" disabled=move || delete.pending().get()>
                        "Delete topic and its messages"
                    </button>
                    <p class="form-error" role="alert">{move || general_error(&deleted.get())}</p>
                </ActionForm>
            })}
            {can_change.then(|| view! {
                <ActionForm action=create attr:class="form inline-fields" attr:novalidate="" attr:data-testid="topic-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <div class="field" class:has-error=move || field_error(&result.get(), "topic").is_some()>
                        <label for="topic-name">"New topic"</label>
                        <input id="topic-name" name="topic" type="text" maxlength="249" placeholder="orders" />
                        <p class="field-error" role="alert" data-testid="topic-error">{move || field_error(&result.get(), "topic")}</p>
                    </div>
                    <div class="field" class:has-error=move || field_error(&result.get(), "partitions").is_some()>
                        <label for="topic-partitions">"Partitions"</label>
                        <input id="topic-partitions" name="partitions" type="number" min="1" max=PARTITIONS_MAX.to_string() value="3" />
                        <p class="field-error" role="alert" data-testid="partitions-error">{move || field_error(&result.get(), "partitions")}</p>
                    </div>
                    <div class="field" class:has-error=move || field_error(&result.get(), "retention_hours").is_some()>
                        <label for="topic-retention">"Retention (hours)"</label>
                        <input id="topic-retention" name="retention_hours" type="text" inputmode="numeric" placeholder=DEFAULT_RETENTION_HOURS.to_string() />
                        <p class="field-error" role="alert" data-testid="retention-error">{move || field_error(&result.get(), "retention_hours")}</p>
                    </div>
                    <button type="submit" class="button-primary" data-testid="topic-submit" disabled=move || create.pending().get()>
                        "Create topic"
                    </button>
                    <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
                </ActionForm>
            })}
        </section>
    }
}
