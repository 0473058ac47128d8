//! A labelled form field with its error beside it.

use leptos::prelude::*;

/// `<label>` + `<input>` + the error for this field, if any. The input's `name` is the server
/// function's argument name, so the form posts without JavaScript.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(default = false)] autofocus: bool,
    /// The message to show under the field.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// Called with the value on every keystroke (after hydration).
    #[prop(optional)]
    on_input: Option<Callback<String>>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let described_by = error_id.clone();
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type=input_type
                autocomplete=autocomplete
                value=value
                autofocus=autofocus
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=described_by
                on:input=move |ev| {
                    if let Some(cb) = on_input {
                        cb.run(event_target_value(&ev));
                    }
                }
            />
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <p class="field-error" id=error_id role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}
