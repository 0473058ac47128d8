//! Activation: the Installation ID, how to get a product key, and the field to paste it.

use crate::api::error::{field_error, general_error};
use crate::api::license::{activation_info, ApplyKey};
use crate::components::copy::CopyButton;
use crate::components::page_data::page_data;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ActivatePage() -> impl IntoView {
    let info = page_data(|| (), |_| activation_info());
    view! {
        <Title text="Activate" />
        <h1>"Activate this environment"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                info.await
                    .map(|info| {
                        view! {
                            <section class="card">
                                <h2>"Installation ID"</h2>
                                <InstallationId id=info.installation_id.clone() />
                            </section>
                            {if info.can_activate {
                                Either::Left(view! { <ActivationForm /> })
                            } else {
                                Either::Right(
                                    view! {
                                        <p class="notice" data-testid="awaits-admin">
                                            "This environment awaits activation by an administrator. Ask an administrator of this console to apply the product key."
                                        </p>
                                    },
                                )
                            }}
                        }
                    })
            })}
        </Suspense>
    }
}

/// The ID in a code box with a copy button (the button works once the page is hydrated;
/// without JavaScript the ID is plain selectable text).
#[component]
pub fn InstallationId(id: String) -> impl IntoView {
    view! {
        <div class="copy-line">
            <code class="big-code" data-testid="installation-id">{id.clone()}</code>
            <CopyButton text=id />
        </div>
    }
}

#[component]
fn ActivationForm() -> impl IntoView {
    let apply = ServerAction::<ApplyKey>::new();
    let result = apply.value();
    view! {
        <section class="card">
            <h2>"Get a product key"</h2>
            <ol class="steps">
                <li>
                    "Buy the license (prepaid, pay-as-you-go or trial) in your cloud marketplace. The order gives you an authorization code."
                </li>
                <li>
                    "Send the Installation ID above and the authorization code to the vendor. The vendor sends back a product key bound to this installation."
                </li>
                <li>"Paste the product key below and activate."</li>
            </ol>
            <ActionForm action=apply attr:class="form" attr:novalidate="">
                <KeyField error=Signal::derive(move || field_error(&result.get(), "key")) />
                <p class="form-error" role="alert">
                    {move || general_error(&result.get())}
                </p>
                <button type="submit" class="button-primary" disabled=move || apply.pending().get()>
                    {move || if apply.pending().get() { "Activating…" } else { "Activate" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// The product key textarea with its error.
#[component]
pub fn KeyField(
    error: Signal<Option<String>>,
    #[prop(optional, into)] value: Option<String>,
) -> impl IntoView {
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for="key">"Product key"</label>
            <textarea
                id="key"
                name="key"
                rows="5"
                spellcheck="false"
                autocomplete="off"
                placeholder="BYOC1.…"
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby="key-error"
            >
                {value}
            </textarea>
            <p class="hint">"One line starting with BYOC1. Line breaks added by mail programs are fine."</p>
            <p class="field-error" id="key-error" role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}
