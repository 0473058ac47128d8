//! First-run setup: the first administrator and the environment's name and location.

use crate::api::auth::Setup;
use crate::api::error::{field_error, general_error};
use crate::components::field::Field;
use crate::domain::{environment::PROVIDERS, password};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<Setup>::new();
    let result = action.value();
    let error_for =
        move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));

    // Live feedback once hydrated; without the WASM none of it exists and the server decides.
    let (password_value, set_password_value) = signal(String::new());
    let (confirm_value, set_confirm_value) = signal(None::<String>);
    let (provider, set_provider) = signal(String::new());
    let match_state = move || {
        confirm_value.get().map(|confirm| {
            if confirm == password_value.get() {
                ("match ok", "Passwords match")
            } else {
                ("match bad", "Passwords do not match")
            }
        })
    };
    let length_hint = move || {
        let n = password_value.get().chars().count();
        (n > 0 && n < password::MIN_CHARS)
            .then(|| format!("{n} of at least {} characters", password::MIN_CHARS))
    };

    view! {
        <Title text="Set up" />
        <section class="centered-card wide">
            <h1>"Set up this environment"</h1>
            <p class="lead">
                "Create the first administrator and name the environment. This page is shown once."
            </p>
            <ActionForm action=action attr:class="form" attr:novalidate="">
                <fieldset>
                    <legend>"Administrator"</legend>
                    <Field
                        label="User name"
                        name="username"
                        autocomplete="username"
                        autofocus=true
                        hint="3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter."
                        error=error_for("username")
                    />
                    <Field
                        label="Password"
                        name="password"
                        input_type="password"
                        autocomplete="new-password"
                        hint="12 to 128 characters. Any characters; a few words make a good password."
                        error=error_for("password")
                        on_input=Callback::new(move |v| set_password_value.set(v))
                    />
                    <p class="live-hint" data-testid="password-length">
                        {length_hint}
                    </p>
                    <Field
                        label="Password again"
                        name="password_confirm"
                        input_type="password"
                        autocomplete="new-password"
                        error=error_for("password_confirm")
                        on_input=Callback::new(move |v| set_confirm_value.set(Some(v)))
                    />
                    <p class="live-hint" data-testid="password-match">
                        {move || {
                            match_state()
                                .map(|(class, text)| view! { <span class=class>{text}</span> })
                        }}
                    </p>
                </fieldset>
                <fieldset>
                    <legend>"Environment"</legend>
                    <Field
                        label="Environment name"
                        name="environment_name"
                        hint="How this console names itself, e.g. \"Production (eu-central-1)\"."
                        error=error_for("environment_name")
                    />
                    <div class="field">
                        <label for="cloud_provider">"Cloud provider"</label>
                        <select
                            id="cloud_provider"
                            name="cloud_provider"
                            on:change=move |ev| set_provider.set(event_target_value(&ev))
                        >
                            <option value="">"Choose…"</option>
                            {PROVIDERS
                                .iter()
                                .map(|p| view! { <option value=p.id>{p.label}</option> })
                                .collect_view()}
                        </select>
                        <p class="field-error" role="alert">
                            {move || error_for("cloud_provider").get()}
                        </p>
                    </div>
                    <div class="field">
                        <label for="region">"Region"</label>
                        <select id="region" name="region">
                            <option value="">"Choose…"</option>
                            {PROVIDERS
                                .iter()
                                .map(|p| {
                                    // All groups without JavaScript; only the chosen provider's with it.
                                    let id = p.id;
                                    view! {
                                        <optgroup
                                            label=p.label
                                            disabled=move || {
                                                let chosen = provider.get();
                                                !chosen.is_empty() && chosen != id
                                            }
                                        >
                                            {p
                                                .regions
                                                .iter()
                                                .map(|r| {
                                                    view! {
                                                        <option value=r.id>{format!("{} ({})", r.label, r.id)}</option>
                                                    }
                                                })
                                                .collect_view()}
                                        </optgroup>
                                    }
                                })
                                .collect_view()}
                        </select>
                        <p class="field-error" role="alert">
                            {move || error_for("region").get()}
                        </p>
                    </div>
                </fieldset>
                <p class="form-error" role="alert">
                    {move || general_error(&result.get())}
                </p>
                <button type="submit" class="button-primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Setting up…" } else { "Set up" }}
                </button>
            </ActionForm>
        </section>
    }
}
