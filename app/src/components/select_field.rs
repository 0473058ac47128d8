//! A labelled `<select>` over one of the domain's catalogs, with its error beside it.

use crate::domain::instance_spec::Choice;
use leptos::prelude::*;

#[component]
pub fn SelectField(
    label: &'static str,
    name: &'static str,
    choices: &'static [Choice],
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
    /// Called with the chosen id (after hydration).
    #[prop(optional)]
    on_change: Option<Callback<String>>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let described_by = error_id.clone();
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=name>{label}</label>
            <select
                id=name
                name=name
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=described_by
                on:change=move |ev| {
                    if let Some(cb) = on_change {
                        cb.run(event_target_value(&ev));
                    }
                }
            >
                {choices
                    .iter()
                    .map(|c| view! { <option value=c.id>{c.label}</option> })
                    .collect_view()}
            </select>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <p class="field-error" id=error_id role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}
