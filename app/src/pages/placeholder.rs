use leptos::prelude::*;
use leptos_meta::Title;

/// A page of the navigation whose feature this version of the console does not have yet. It
/// says so plainly instead of showing made-up content.
#[component]
pub fn NotYetAvailable(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <h1>{title}</h1>
        <p class="notice" data-testid="not-yet-available">
            "This part of the console is not available in this version yet."
        </p>
    }
}
