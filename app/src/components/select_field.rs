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
    /// The choices that can be put in force (others are shown disabled); all when `None`.
    #[prop(optional)]
    allowed: Option<Vec<String>>,
) -> impl IntoView {
    let usable = move |id: &str| allowed.as_ref().is_none_or(|a| a.iter().any(|x| x == id));
    let first_usable = choices.iter().find(|c| usable(c.id)).map(|c| c.id);
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
                    .map(|c| {
                        let off = !usable(c.id);
                        let label = if off { format!("{} (not available on this host)", c.label) } else { c.label.to_string() };
                        view! { <option value=c.id disabled=off selected=Some(c.id) == first_usable>{label}</option> }
                    })
                    .collect_view()}
            </select>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <p class="field-error" id=error_id role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}
