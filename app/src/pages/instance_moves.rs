//! The instance page's moves (#34): moving a nisshi 0.8.1 storage file's topics, messages and
//! consumer offsets into this Kafka-cluster instance. Each move's state and progress (messages
//! and bytes copied of the file's total), refreshed while one runs; the SCRAM users of the
//! file, which cannot be carried and need a new password here; the form to start one.

use crate::api::error::{field_error, general_error};
use crate::api::moves::{moves, MoveView, StartMove};
use crate::components::page_data::page_data;
use crate::components::poll::poll_while;
use leptos::prelude::*;

fn share(done: i64, total: i64) -> String {
    match total {
        0 => "100 %".into(),
        t => format!("{:.1} %", done as f64 / t as f64 * 100.0),
    }
}

#[component]
pub fn InstanceMoves(id: i64, running: bool) -> impl IntoView {
    let start = ServerAction::<StartMove>::new();
    let started = start.value();
    let live = RwSignal::new(running);
    let tick = poll_while(live, 2_000);
    let list = page_data(
        move || (tick.get(), start.version().get()),
        move |_| moves(id),
    );
    view! {
        <section class="card" data-testid="moves-panel" id="moves">
            <h2>"Move data in (from nisshi)"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the moves…"</p> }>
                {move || Suspend::new(async move {
                    list.await.map(|all| view! { <MoveList all /> }.into_any())
                })}
            </Transition>
            <Show when=move || running>
                <ActionForm action=start attr:class="form inline-fields" attr:data-testid="move-start-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <label>"Storage file (inside the import directory)"
                        <input type="text" name="path" required placeholder="storage.db" />
                    </label>
                    <button type="submit" class="button" disabled=move || start.pending().get()>"Start the move"</button>
                    <p class="field-error" role="alert" data-testid="move-refused">
                        {move || field_error(&started.get(), "path").or_else(|| general_error(&started.get()))}
                    </p>
                </ActionForm>
                <p class="hint">"The file's topics must not exist here yet. SCRAM users cannot be carried (Kafka needs their password, which nisshi never kept): they are listed below to be created again with a new password."</p>
            </Show>
        </section>
    }
}

#[component]
fn MoveList(all: Vec<MoveView>) -> impl IntoView {
    if all.is_empty() {
        return view! { <p class="muted" data-testid="no-moves">"No data has been moved into this instance."</p> }.into_any();
    }
    let rows = all
        .into_iter()
        .map(|m| {
            let users = match m.scram_users.is_empty() {
                true => "none".to_string(),
                false => m.scram_users.replace(',', ", "),
            };
            view! {
                <tr data-testid="move-row" data-state=m.state.clone()>
                    <td><code>{m.source_path.clone()}</code></td>
                    <td data-testid="move-state">{m.state.clone()}</td>
                    <td class="num" data-testid="move-messages">
                        {format!("{} of {} ({})", m.messages_copied, m.messages_total, share(m.messages_copied, m.messages_total))}
                    </td>
                    <td class="num" data-testid="move-bytes">
                        {format!("{} of {} ({})", m.bytes_copied, m.bytes_total, share(m.bytes_copied, m.bytes_total))}
                    </td>
                    <td data-testid="move-scram-users">{users}</td>
                    <td class="muted">{m.last_error.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table">
            <caption class="muted">"Newest first. SCRAM users: give each a new password on this instance (Kafka users)."</caption>
            <thead><tr><th>"File"</th><th>"State"</th><th class="num">"Messages"</th><th class="num">"Bytes"</th><th>"SCRAM users to re-create"</th><th>"Last error"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
