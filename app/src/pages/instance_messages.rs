//! The instance page's message browser: a topic's newest messages, from a partition's
//! offset, or from a time; key, value (text, pretty JSON or hex), headers, timestamp,
//! partition and offset; filters by key or text within the page read. The read lives in the
//! URL (`?messages=TOPIC&partition=…&from=…&at=…&limit=…&format=…&key=…&text=…`, a GET form),
//! so it works without JavaScript and a page can be linked; with JavaScript the router reads
//! the next page without a reload. Operators and admins read, where browsing is on; admins
//! switch it.

use crate::api::error::{field_error, general_error, AppError};
use crate::api::messages::{
    message_browsing, topic_messages, BrowsingState, MessagePage, MessageView, SetMessageBrowsing,
    WriteTestMessage,
};
use crate::components::format::{link, utc_ms};
use crate::components::page_data::{page_data, PageData};
use crate::domain::message_browse::{
    Format, Shown, Start, LIMIT_DEFAULT, LIMIT_MAX, READ_BYTES_MAX, SHOWN_BYTES_MAX,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The read asked for in the URL, every field as typed.
#[derive(Debug, Clone, PartialEq, Default)]
struct Asked {
    topic: String,
    partition: String,
    from: String,
    at: String,
    limit: String,
    format: String,
    key: String,
    text: String,
}

impl Asked {
    /// The URL of this read with `from`/`at`/`partition` changed (older or next page).
    fn moved(&self, partition: i32, from: &str, at: i64) -> String {
        let pairs = [
            ("messages", self.topic.clone()),
            ("partition", partition.to_string()),
            ("from", from.to_string()),
            ("at", at.to_string()),
            ("limit", self.limit.clone()),
            ("format", self.format.clone()),
            ("key", self.key.clone()),
            ("text", self.text.clone()),
        ];
        let kept: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        format!("{}#messages", link("", &kept))
    }
}

/// The section's reads, made once for the page (the page's parts are drawn again as the
/// instance's data changes, and a read is audited: it must not run again with them).
#[derive(Clone, Copy)]
pub struct MessagesData {
    browsing: PageData<Result<BrowsingState, AppError>>,
    page: PageData<Option<Result<MessagePage, AppError>>>,
    switch: ServerAction<SetMessageBrowsing>,
}

/// The section's reads for the instance `id()`, following the page's URL.
pub fn messages_data(id: impl Fn() -> Option<i64> + Copy + Send + Sync + 'static) -> MessagesData {
    let query = use_query_map();
    let asked = move || asked_in(&query.read());
    let switch = ServerAction::<SetMessageBrowsing>::new();
    let browsing = page_data(
        move || (id(), switch.version().get()),
        move |(id, _)| async move {
            match id {
                Some(id) => message_browsing(id).await,
                None => Err(AppError::NotFound("There is no such instance.".into())),
            }
        },
    );
    let page = page_data(
        move || (id(), asked(), switch.version().get()),
        move |(id, asked, _)| async move {
            let (id, a) = (id?, asked?);
            Some(
                topic_messages(
                    id,
                    a.topic,
                    Some(a.partition),
                    Some(a.from),
                    Some(a.at),
                    Some(a.limit),
                    Some(a.format),
                    Some(a.key),
                    Some(a.text),
                )
                .await,
            )
        },
    );
    MessagesData {
        browsing,
        page,
        switch,
    }
}

/// The read asked for in a page's URL query.
fn asked_in(q: &leptos_router::params::ParamsMap) -> Option<Asked> {
    let topic = q.get("messages").filter(|t| !t.is_empty())?;
    let get = |k: &str| q.get(k).unwrap_or_default();
    Some(Asked {
        topic,
        partition: get("partition"),
        from: get("from"),
        at: get("at"),
        limit: get("limit"),
        format: get("format"),
        key: get("key"),
        text: get("text"),
    })
}

#[component]
pub fn InstanceMessages(id: i64, running: bool, data: MessagesData) -> impl IntoView {
    let MessagesData {
        browsing,
        page,
        switch,
    } = data;
    view! {
        <section class="card" data-testid="messages-panel" id="messages">
            <h2>"Messages"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let state = browsing.await;
                    let page = page.await;
                    let asked = asked_in(&use_query_map().read_untracked());
                    match state {
                        Err(e) => view! { <p class="notice critical">{e.to_string()}</p> }.into_any(),
                        Ok(state) => view! {
                            <Switch id state=state.clone() switch />
                            {(state.can_read && running).then(|| view! {
                                <ReadForm asked=asked.clone().unwrap_or_default() page=page.clone() />
                            })}
                            {(state.can_read && !running).then(|| view! {
                                <p class="muted">"Messages are read while the instance is running."</p>
                            })}
                            {page.zip(asked).map(|(page, asked)| view! { <Page page asked /> })}
                            {(state.can_write && running).then(|| view! { <WriteForm id /> })}
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Whether browsing is on, why, and (for admins) the switch.
#[component]
fn Switch(
    id: i64,
    state: BrowsingState,
    switch: ServerAction<SetMessageBrowsing>,
) -> impl IntoView {
    let word = if state.enabled { "on" } else { "off" };
    let note = "The console reads as a super user, past the instance's access rules; every page \
                read is recorded in the audit log (who, topic, range).";
    let form = state.can_switch.then(|| {
        let (label, value) = match state.enabled {
            true => ("Turn message browsing off", "false"),
            false => ("Turn message browsing on", "true"),
        };
        view! {
            <ActionForm action=switch attr:class="form inline-fields" attr:data-testid="browsing-switch">
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="enabled" value=value />
                <button type="submit" class="button secondary">{label}</button>
                <p class="form-error" role="alert">{move || general_error(&switch.value().get())}</p>
            </ActionForm>
        }
    });
    let who = (!state.can_read && state.enabled)
        .then(|| view! { <p class="muted">"Operators and admins read messages."</p> });
    view! {
        <p data-testid="browsing-state" data-enabled=state.enabled.to_string()>
            {format!("Message browsing is {word}. {}", state.reason)}
        </p>
        <p class="hint">{note}</p>
        {who}
        {form}
    }
}

#[component]
fn ReadForm(asked: Asked, page: Option<Result<MessagePage, AppError>>) -> impl IntoView {
    let error = move |field: &'static str| field_error(&page.clone().map(|p| p.map(|_| ())), field);
    let from = |value: &str| asked.from == value || (value == "newest" && asked.from.is_empty());
    let format =
        |f: Format| asked.format == f.as_str() || (f == Format::Text && asked.format.is_empty());
    let formats = Format::ALL
        .iter()
        .map(|f| view! { <option value=f.as_str() selected=format(*f)>{f.label()}</option> })
        .collect_view();
    let limit = if asked.limit.is_empty() {
        LIMIT_DEFAULT.to_string()
    } else {
        asked.limit.clone()
    };
    view! {
        <form method="get" action="#messages" class="form inline-fields" data-testid="messages-form">
            <div class="field">
                <label for="messages-topic">"Topic"</label>
                <input id="messages-topic" name="messages" type="text" required autocomplete="off" value=asked.topic.clone() />
                <p class="field-error" role="alert" data-testid="messages-topic-error">{error("topic")}</p>
            </div>
            <div class="field">
                <label for="messages-partition">"Partition"</label>
                <input id="messages-partition" name="partition" type="text" inputmode="numeric" autocomplete="off"
                    value=asked.partition.clone() placeholder="all" />
                <p class="field-error" role="alert" data-testid="messages-partition-error">{error("partition")}</p>
            </div>
            <div class="field">
                <label for="messages-from">"From"</label>
                <select id="messages-from" name="from">
                    <option value="newest" selected=from("newest")>"The newest"</option>
                    <option value="offset" selected=from("offset")>"An offset (one partition)"</option>
                    <option value="timestamp" selected=from("timestamp")>"A time"</option>
                </select>
            </div>
            <div class="field">
                <label for="messages-at">"Offset or time"</label>
                <input id="messages-at" name="at" type="text" autocomplete="off" value=asked.at.clone()
                    placeholder="42 or 2026-12-07T10:00:00Z" />
                <p class="field-error" role="alert" data-testid="messages-at-error">{error("at")}</p>
            </div>
            <div class="field">
                <label for="messages-limit">"How many"</label>
                <input id="messages-limit" name="limit" type="number" min="1" max=LIMIT_MAX value=limit />
                <p class="field-error" role="alert" data-testid="messages-limit-error">{error("limit")}</p>
            </div>
            <div class="field">
                <label for="messages-format">"Show values as"</label>
                <select id="messages-format" name="format">{formats}</select>
            </div>
            <div class="field">
                <label for="messages-key">"Key contains"</label>
                <input id="messages-key" name="key" type="text" autocomplete="off" value=asked.key.clone() />
            </div>
            <div class="field">
                <label for="messages-text">"Value contains"</label>
                <input id="messages-text" name="text" type="text" autocomplete="off" value=asked.text.clone() />
            </div>
            <button type="submit" class="button" data-testid="messages-read">"Read"</button>
        </form>
        <p class="hint">{format!(
            "At most {LIMIT_MAX} messages a page and {} KiB of the topic read; each key, value and header shown up to {} KiB. The filters apply within the page read.",
            READ_BYTES_MAX / 1024, SHOWN_BYTES_MAX / 1024
        )}</p>
    }
}

fn shown(s: &Shown) -> impl IntoView {
    let cut = s.cut.then(|| {
        view! { <span class="muted">{format!(" … ({} bytes in all; the first {} KiB shown)", s.bytes, SHOWN_BYTES_MAX / 1024)}</span> }
    });
    match s.shown_as.as_str() {
        "null" => view! { <span class="muted">"null"</span> }.into_any(),
        how => view! { <pre class="message-value" data-shown-as=how.to_string()>{s.text.clone()}{cut}</pre> }.into_any(),
    }
}

fn row(m: MessageView) -> impl IntoView {
    let headers = m
        .headers
        .iter()
        .map(|h| view! { <div><code>{h.name.clone()}</code>": "{shown(&h.value)}</div> })
        .collect_view();
    view! {
        <tr data-testid="message-row" data-partition=m.partition data-offset=m.offset>
            <td class="num">{m.partition}</td>
            <td class="num">{m.offset}</td>
            <td>{utc_ms(m.timestamp)}</td>
            <td data-testid="message-key">{shown(&m.key)}</td>
            <td data-testid="message-value">{shown(&m.value)}</td>
            <td>{headers}</td>
        </tr>
    }
}

#[component]
fn Page(page: Result<MessagePage, AppError>, asked: Asked) -> impl IntoView {
    let page = match page {
        Ok(page) => page,
        Err(AppError::Invalid { .. }) => return ().into_any(),
        Err(e) => {
            return view! { <p class="notice critical" role="alert" data-testid="messages-error">{e.to_string()}</p> }
                .into_any()
        }
    };
    let ranges: Vec<String> = page
        .partitions
        .iter()
        .map(|r| format!("{}: {} to {}", r.partition, r.earliest, r.end))
        .collect();
    let summary = format!(
        "{} message(s) of {}{}; partitions' offsets kept (first to next): {}.",
        page.messages.len(),
        page.browse.topic,
        match page.filtered_out {
            0 => String::new(),
            n => format!(", {n} more read but left out by the filters"),
        },
        ranges.join("; ")
    );
    // Older and next pages, for a read of one partition.
    let links = page.browse.partition.and_then(|p| {
        let first = page.messages.iter().map(|m| m.offset).min()?;
        let last = page.messages.iter().map(|m| m.offset).max()?;
        let kept = page.partitions.iter().find(|r| r.partition == p)?;
        let limit = i64::from(page.browse.limit);
        let older = (first > kept.earliest).then(|| {
            let at = (first - limit).max(kept.earliest);
            view! { <a href=asked.moved(p, "offset", at) data-testid="messages-older">"Older"</a> }
        });
        let next = (last + 1 < kept.end).then(|| {
            view! { <a href=asked.moved(p, "offset", last + 1) data-testid="messages-next">"Next"</a> }
        });
        Some(view! { <p class="pager">{older}" "{next}</p> })
    });
    let order = match page.browse.start {
        Start::Newest => "Newest first.",
        _ => "In order from where the read started.",
    };
    if page.messages.is_empty() {
        return view! {
            <p class="muted" data-testid="messages-none">{summary}</p>
            {links}
        }
        .into_any();
    }
    let rows = page.messages.into_iter().map(row).collect_view();
    view! {
        <p data-testid="messages-summary">{summary}</p>
        <div class="table-scroll">
            <table class="table" data-testid="messages-table">
                <caption class="muted">{order}</caption>
                <thead><tr><th class="num">"Partition"</th><th class="num">"Offset"</th><th>"Timestamp"</th><th>"Key"</th><th>"Value"</th><th>"Headers"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {links}
    }
    .into_any()
}

/// A test message: topic, partition, key, value, headers; the offset Kafka gave it, with a
/// link that reads it.
#[component]
fn WriteForm(id: i64) -> impl IntoView {
    let write = ServerAction::<WriteTestMessage>::new();
    let error = move |field: &'static str| move || field_error(&write.value().get(), field);
    let written = move || {
        write.value().get().and_then(|r| r.ok()).map(|w| {
            let (partition, offset) = (w.partition.to_string(), w.offset.to_string());
            let pairs = [
                ("messages", w.topic.as_str()),
                ("partition", partition.as_str()),
                ("from", "offset"),
                ("at", offset.as_str()),
            ];
            let href = format!("{}#messages", link("", &pairs));
            view! {
                <p class="notice" role="status" data-testid="test-message-written">
                    {format!("Written to {} partition {} at offset {}. ", w.topic, w.partition, w.offset)}
                    <a href=href>"Read it"</a>
                </p>
            }
        })
    };
    view! {
        <h3>"Write a test message"</h3>
        <ActionForm action=write attr:class="form" attr:data-testid="test-message-form">
            <input type="hidden" name="id" value=id />
            <div class="inline-fields">
                <div class="field">
                    <label for="test-topic">"Topic"</label>
                    <input id="test-topic" name="topic" type="text" required autocomplete="off" />
                    <p class="field-error" role="alert" data-testid="test-topic-error">{error("topic")}</p>
                </div>
                <div class="field">
                    <label for="test-partition">"Partition"</label>
                    <input id="test-partition" name="partition" type="text" inputmode="numeric" placeholder="0" autocomplete="off" />
                    <p class="field-error" role="alert" data-testid="test-partition-error">{error("partition")}</p>
                </div>
                <div class="field">
                    <label for="test-key">"Key"</label>
                    <input id="test-key" name="key" type="text" placeholder="none" autocomplete="off" />
                    <p class="field-error" role="alert">{error("key")}</p>
                </div>
            </div>
            <div class="field">
                <label for="test-value">"Value"</label>
                <textarea id="test-value" name="value" rows="3"></textarea>
                <p class="field-error" role="alert" data-testid="test-value-error">{error("value")}</p>
            </div>
            <div class="field">
                <label for="test-headers">"Headers, one name: value a line"</label>
                <textarea id="test-headers" name="headers" rows="2" placeholder="source: console"></textarea>
                <p class="field-error" role="alert" data-testid="test-headers-error">{error("headers")}</p>
            </div>
            <button type="submit" class="button" data-testid="test-message-submit">"Write"</button>
            <p class="form-error" role="alert">{move || general_error(&write.value().get())}</p>
        </ActionForm>
        {written}
        <p class="hint">"Written as the console's super user with acks=all, to the partition given (0 when blank); audited."</p>
    }
}
