//! Users (admins only): the list with role and last sign-in (50 a page, admins first, a search
//! by name; the position in the URL); create a user with an initial password; change a role;
//! disable and enable; reset a password.

use crate::api::error::{field_error, general_error};
use crate::api::users::{
    list_users, CreateUser, ResetUserPassword, SetUserDisabled, SetUserRole, UserLine,
};
use crate::components::field::Field;
use crate::components::format::{link, utc};
use crate::components::page_data::page_data;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let data = page_data(
        move || {
            (
                query.get(),
                create.version().get(),
                set_role.version().get(),
                set_disabled.version().get(),
                reset.version().get(),
            )
        },
        move |_| {
            let q = query.read_untracked().get("q");
            let cursor = query.read_untracked().get("cursor");
            list_users(q, cursor)
        },
    );
    // The latest refusal of a row action (last admin, same role): shown above the table.
    let row_error = move || {
        [
            general_error(&set_role.value().get()),
            field_error(&set_role.value().get(), "role"),
            general_error(&set_disabled.value().get()),
            general_error(&reset.value().get()),
            field_error(&reset.value().get(), "password"),
            field_error(&reset.value().get(), "password_confirm"),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <Title text="Users" />
        <h1>"Users"</h1>
        <Show when=move || query.read().get("created").is_some()>
            <p class="notice success" data-testid="user-created">
                "The user is created. Give them the initial password; they choose their own at the first sign-in."
            </p>
        </Show>
        <Show when=move || query.read().get("reset").is_some()>
            <p class="notice success" data-testid="password-reset">
                "The password is reset. The user's sessions ended; they choose a new password at the next sign-in."
            </p>
        </Show>
        <p class="form-error" role="alert" data-testid="users-error">{row_error}</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                data.await
                    .map(|d| {
                        let searching = query.read_untracked().get("q").filter(|q| !q.is_empty());
                        let is_later_page = query.read_untracked().get("cursor").is_some();
                        let at = |cursor: Option<&str>| {
                            let mut pairs: Vec<(&str, &str)> = Vec::new();
                            pairs.extend(searching.as_deref().map(|q| ("q", q)));
                            pairs.extend(cursor.map(|c| ("cursor", c)));
                            link("/users", &pairs)
                        };
                        let first = is_later_page.then(|| at(None));
                        let next = d.next.as_deref().map(|c| at(Some(c)));
                        let none_found = d.users.is_empty().then_some("No user name contains this.");
                        view! {
                            // A plain GET form: the search is in the URL, with or without JavaScript.
                            <form class="search" method="get" action="/users" role="search" data-testid="user-search">
                                <label for="user-q">"Name contains"</label>
                                <input id="user-q" name="q" type="search" maxlength="64" value=searching.clone().unwrap_or_default() />
                                <button type="submit">"Search"</button>
                            </form>
                            <section class="card">
                                <p data-testid="no-users">{none_found}</p>
                                <table class="table" data-testid="user-table">
                                    <thead>
                                        <tr>
                                            <th>"User"</th>
                                            <th>"Role"</th>
                                            <th>"Status"</th>
                                            <th>"Last sign-in"</th>
                                            <th>"Actions"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {d.users
                                            .into_iter()
                                            .map(|u| view! { <UserRow u me=d.me set_role set_disabled reset /> })
                                            .collect_view()}
                                    </tbody>
                                </table>
                                <nav class="pager" aria-label="Pages">
                                    {first.map(|href| view! { <a href=href data-testid="first-page">"First page"</a> })}
                                    {next.map(|href| view! { <a href=href rel="next" data-testid="next-page">"Next page"</a> })}
                                </nav>
                            </section>
                        }
                    })
            })}
        </Suspense>
        <CreateUserForm create />
    }
}

#[component]
fn UserRow(
    u: UserLine,
    me: i64,
    set_role: ServerAction<SetUserRole>,
    set_disabled: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetUserPassword>,
) -> impl IntoView {
    let id = u.id.to_string();
    let (id_role, id_disable) = (id.clone(), id.clone());
    let role_label = format!("Role of {}", u.username);
    let reset_label = format!("Temporary password for {}", u.username);
    let reset_again_label = format!("Repeat the temporary password for {}", u.username);
    let role = u.role;
    let disabled = u.disabled;
    let status = match (u.disabled, u.must_change_password) {
        (true, _) => "disabled",
        (false, true) => "must change password",
        (false, false) => "active",
    };
    let you = (u.id == me).then_some(" (you)");
    view! {
        <tr data-testid="user-row" data-username=u.username.clone()>
            <td>{u.username.clone()}{you}</td>
            <td data-testid="user-role">{u.role.to_string()}</td>
            <td data-testid="user-status">{status}</td>
            <td>{u.last_login_at.map(utc).unwrap_or_else(|| "never".into())}</td>
            <td class="row-actions">
                <ActionForm action=set_role attr:class="inline-form">
                    <input type="hidden" name="id" value=id_role.clone() />
                    <select name="role" aria-label=role_label.clone()>
                        {["viewer", "operator", "admin"]
                            .into_iter()
                            .map(|r| view! { <option value=r selected=r == role.as_str()>{r}</option> })
                            .collect_view()}
                    </select>
                    <button type="submit" class="button-secondary">"Set role"</button>
                </ActionForm>
                <ActionForm action=set_disabled attr:class="inline-form">
                    <input type="hidden" name="id" value=id_disable.clone() />
                    <input type="hidden" name="disabled" value=(!disabled).to_string() />
                    <button type="submit" class="button-secondary">
                        {if disabled { "Enable" } else { "Disable" }}
                    </button>
                </ActionForm>
                <details class="reset">
                    <summary>"Reset password"</summary>
                    <ActionForm action=reset attr:class="inline-form">
                        <input type="hidden" name="id" value=id.clone() />
                        <input type="password" name="password" autocomplete="new-password"
                            placeholder="Temporary password" aria-label=reset_label.clone() />
                        <input type="password" name="password_confirm" autocomplete="new-password"
                            placeholder="Again" aria-label=reset_again_label.clone() />
                        <button type="submit" class="button-secondary">"Reset"</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}

#[component]
fn CreateUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let result = create.value();
    let err = move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));
    view! {
        <section class="card">
            <h2>"Add a user"</h2>
            <ActionForm action=create attr:class="form" attr:novalidate="" attr:data-testid="create-user-form">
                <Field label="User name" name="username" error=err("username") />
                <div class="field" class:has-error=move || err("role").get().is_some()>
                    <label for="role">"Role"</label>
                    <select id="role" name="role">
                        <option value="viewer">"viewer: reads everything, changes nothing"</option>
                        <option value="operator">"operator: creates, scales and deletes instances"</option>
                        <option value="admin">"admin: also users, license and audit log"</option>
                    </select>
                    <p class="field-error" role="alert">{move || err("role").get()}</p>
                </div>
                <Field label="Initial password" name="password" input_type="password" autocomplete="new-password"
                    error=err("password") hint="At least 12 characters; the user must change it at the first sign-in." />
                <Field label="Repeat the initial password" name="password_confirm" input_type="password"
                    autocomplete="new-password" error=err("password_confirm") />
                <p class="form-error" role="alert">{move || general_error(&result.get())}</p>
                <button type="submit" class="button-primary" disabled=move || create.pending().get()>
                    "Add user"
                </button>
            </ActionForm>
        </section>
    }
}
