//! Account: the signed-in user's own password. After an administrator set a temporary
//! password, every page leads here until a new one is chosen.

use crate::api::error::{field_error, general_error};
use crate::api::users::{account, ChangePassword};
use crate::components::field::Field;
use crate::components::format::utc;
use crate::components::page_data::page_data;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AccountPage() -> impl IntoView {
    let query = use_query_map();
    let change = ServerAction::<ChangePassword>::new();
    let result = change.value();
    let data = page_data(move || (query.get(), change.version().get()), |_| account());
    let err = move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));
    view! {
        <Title text="Account" />
        <h1>"Account"</h1>
        <Show when=move || query.read().get("changed").is_some()>
            <p class="notice success" data-testid="password-changed">
                "Your password is changed. Your other sessions have ended."
            </p>
        </Show>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await
                    .map(|a| {
                        view! {
                            {a.must_change_password.then(|| view! {
                                <p class="notice" data-testid="must-change">
                                    "Your password was set by an administrator. Choose your own password to continue."
                                </p>
                            })}
                            <section class="card">
                                <dl>
                                    <dt>"User"</dt>
                                    <dd>{a.username.clone()}</dd>
                                    <dt>"Role"</dt>
                                    <dd>{a.role.to_string()}</dd>
                                    <dt>"Last sign-in"</dt>
                                    <dd>{a.last_login_at.map(utc).unwrap_or_default()}</dd>
                                </dl>
                            </section>
                        }
                    })
            })}
        </Suspense>
        <section class="card">
            <h2>"Change password"</h2>
            <ActionForm action=change attr:class="form" attr:novalidate="" attr:data-testid="password-form">
                <Field label="Current password" name="current_password" input_type="password"
                    autocomplete="current-password" error=err("current_password") />
                <Field label="New password" name="new_password" input_type="password"
                    autocomplete="new-password" error=err("new_password") hint="At least 12 characters, not a common password." />
                <Field label="Repeat the new password" name="new_password_confirm" input_type="password"
                    autocomplete="new-password" error=err("new_password_confirm") />
                <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
                <button type="submit" class="button-primary" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
        </section>
    }
}
