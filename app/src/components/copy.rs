//! A "Copy" button for a value shown next to it (works once the page is hydrated; without
//! JavaScript the value is plain selectable text).

use leptos::prelude::*;

#[component]
pub fn CopyButton(text: String, #[prop(optional)] testid: &'static str) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
        set_copied.set(true);
    };
    view! {
        <button type="button" class="button-secondary" on:click=copy data-testid=testid>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}
