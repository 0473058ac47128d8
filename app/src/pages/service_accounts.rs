//! Service accounts (admins only): automation's identities for the REST API (`/api/v1`). The
//! list shows each one's role, status, expiry and last use; an account is created with a role
//! and an optional expiry, its token shown once; rotating gives a new token (the old one stops
//! working), revoking ends it.

use crate::api::error::{field_error, general_error};
use crate::api::service_accounts::{
    list_service_accounts, CreateServiceAccount, NewToken, RevokeServiceAccount,
    RotateServiceAccount, ServiceAccountLine,
};
use crate::components::copy::CopyButton;
use crate::components::field::Field;
use crate::components::format::{utc, utc_date};
use crate::components::page_data::page_data;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ServiceAccountsPage() -> impl IntoView {
    let create = ServerAction::<CreateServiceAccount>::new();
    let rotate = ServerAction::<RotateServiceAccount>::new();
    let revoke = ServerAction::<RevokeServiceAccount>::new();
    let data = page_data(
        move || {
            (
                create.version().get(),
                rotate.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_service_accounts(),
    );
    let row_error = move || {
        general_error(&rotate.value().get()).or_else(|| general_error(&revoke.value().get()))
    };
    view! {
        <Title text="Service accounts" />
        <h1>"Service accounts"</h1>
        <p class="lead">
            "Identities for automation (scripts, Terraform) that call the REST API under "
            <code>"/api/v1"</code> " with " <code>"Authorization: Bearer <token>"</code>
            ". Each has a role like a user's; what it changes is in the audit log under its name."
        </p>
        <NewTokenNotice create rotate revoke />
        <p class="form-error" role="alert" data-testid="service-accounts-error">{row_error}</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await.map(|accounts| {
                    view! {
                        <section class="card">
                            <table class="table" data-testid="service-account-table">
                                <thead>
                                    <tr>
                                        <th>"Name"</th>
                                        <th>"Role"</th>
                                        <th>"Status"</th>
                                        <th>"Expires"</th>
                                        <th>"Last used"</th>
                                        <th>"Actions"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {accounts
                                        .into_iter()
                                        .map(|a| view! { <AccountRow a rotate revoke /> })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }
                })
            })}
        </Suspense>
        <CreateForm create />
    }
}

/// A token just made: shown this once.
#[component]
fn NewTokenNotice(
    create: ServerAction<CreateServiceAccount>,
    rotate: ServerAction<RotateServiceAccount>,
    revoke: ServerAction<RevokeServiceAccount>,
) -> impl IntoView {
    let shown = RwSignal::new(None::<NewToken>);
    Effect::new(move |_| {
        if let Some(Ok(token)) = create.value().get() {
            shown.set(Some(token));
        }
    });
    // A rotate that failed, or any revoke, leaves no token on screen that may no longer work.
    Effect::new(move |_| match rotate.value().get() {
        Some(Ok(token)) => shown.set(Some(token)),
        Some(Err(_)) => shown.set(None),
        None => {}
    });
    Effect::new(move |_| {
        if revoke.value().get().is_some() {
            shown.set(None);
        }
    });
    move || {
        shown.get().map(|t| {
            view! {
                <section class="card notice" data-testid="new-token">
                    <h2>{format!("Token of {}", t.name)}</h2>
                    <p>
                        "Copy it now: the console keeps only its hash and cannot show it again. "
                        "Rotate the account if it is lost."
                    </p>
                    <p class="copy-line">
                        <code data-testid="new-token-value">{t.token.clone()}</code>
                        <CopyButton text=t.token.clone() testid="copy-token" />
                    </p>
                    <button type="button" class="button" on:click=move |_| shown.set(None)>
                        "I have copied it"
                    </button>
                </section>
            }
        })
    }
}

#[component]
fn AccountRow(
    a: ServiceAccountLine,
    rotate: ServerAction<RotateServiceAccount>,
    revoke: ServerAction<RevokeServiceAccount>,
) -> impl IntoView {
    let (account_id, id_revoke) = (a.id, a.id.to_string());
    let revoked = a.status == "revoked";
    let script = script_runs();
    let last_used = match (a.last_used_at, &a.last_used_from) {
        (Some(at), Some(from)) => format!("{} from {from}", utc(at)),
        (Some(at), None) => utc(at),
        _ => "never".into(),
    };
    view! {
        <tr data-testid="service-account-row" data-name=a.name.clone()>
            <td>{a.name.clone()}</td>
            <td data-testid="service-account-role">{a.role.to_string()}</td>
            <td data-testid="service-account-status">{a.status.clone()}</td>
            <td>{a.expires_at.map(|t| utc_date(t - 1)).unwrap_or_else(|| "never".into())}</td>
            <td data-testid="service-account-last-used">{last_used}</td>
            <td class="row-actions">
                {(!revoked)
                    .then(|| {
                        view! {
                            <Show when=move || script.get()>
                                <ActionForm action=rotate attr:class="inline-form">
                                    <input type="hidden" name="id" value=account_id.to_string() />
                                    <button type="submit" class="button-secondary">"Rotate"</button>
                                </ActionForm>
                            </Show>
                            <ActionForm action=revoke attr:class="inline-form">
                                <input type="hidden" name="id" value=id_revoke />
                                <button type="submit" class="button-secondary">"Revoke"</button>
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}

/// Whether the page's script runs: a token is shown from the action's answer, so creating
/// and rotating are offered only then (without it, a new token would be lost unseen).
fn script_runs() -> ReadSignal<bool> {
    let (runs, set_runs) = signal(false);
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| set_runs.set(true));
    runs
}

#[component]
fn CreateForm(create: ServerAction<CreateServiceAccount>) -> impl IntoView {
    let script = script_runs();
    view! {
        <Show
            when=move || script.get()
            fallback=|| {
                view! {
                    <section class="card notice" data-testid="needs-javascript">
                        <h2>"Add a service account"</h2>
                        <p>
                            "Adding a service account or rotating its token needs JavaScript: "
                            "the token is shown once, by the page's script. Turn JavaScript on, "
                            "or use the REST API (" <code>"POST /api/v1/service-accounts"</code> ")."
                        </p>
                    </section>
                }
            }
        >
            <CreateFormFields create />
        </Show>
    }
}

#[component]
fn CreateFormFields(create: ServerAction<CreateServiceAccount>) -> impl IntoView {
    let result = create.value();
    let err = move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));
    view! {
        <section class="card">
            <h2>"Add a service account"</h2>
            <ActionForm action=create attr:class="form" attr:novalidate="" attr:data-testid="create-service-account-form">
                <Field label="Name" name="name" error=err("name")
                    hint="3 to 32 lowercase letters, digits, '.', '_' or '-', e.g. terraform-ci." />
                <div class="field" class:has-error=move || err("role").get().is_some()>
                    <label for="sa-role">"Role"</label>
                    <select id="sa-role" name="role">
                        <option value="viewer">"viewer: reads everything, changes nothing"</option>
                        <option value="operator">"operator: creates, scales and deletes instances"</option>
                        <option value="admin">"admin: also the license, the audit log and service accounts"</option>
                    </select>
                    <p class="field-error" role="alert">{move || err("role").get()}</p>
                </div>
                <Field label="Expires (optional)" name="expires" input_type="date" error=err("expires")
                    hint="The last day it works (UTC); empty: no expiry." />
                <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
                <button type="submit" class="button-primary" disabled=move || create.pending().get()>
                    "Add service account"
                </button>
            </ActionForm>
        </section>
    }
}
