//! Sign-in.

use crate::api::auth::Login;
use crate::api::error::{field_error, general_error};
use crate::components::field::Field;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let result = action.value();
    let query = use_query_map();
    let just_set_up = move || query.read().get("setup").as_deref() == Some("done");
    let username = query.read_untracked().get("username").unwrap_or_default();
    view! {
        <Title text="Sign in" />
        <section class="centered-card">
            <h1>"Sign in"</h1>
            <Show when=just_set_up>
                <p class="notice success" data-testid="setup-done">
                    "The environment is set up. Sign in with the administrator you created."
                </p>
            </Show>
            <ActionForm action=action attr:class="form" attr:novalidate="">
                <Field
                    label="User name"
                    name="username"
                    autocomplete="username"
                    autofocus=true
                    value=username
                    error=Signal::derive(move || field_error(&result.get(), "username"))
                />
                <Field
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    error=Signal::derive(move || field_error(&result.get(), "password"))
                />
                <p class="form-error" role="alert" data-testid="form-error">
                    {move || general_error(&result.get())}
                </p>
                <button type="submit" class="button-primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </section>
    }
}
