//! Used / licensed AKU as a bar.

use leptos::prelude::*;

#[component]
pub fn QuotaBar(used: u32, quota: Option<u32>) -> impl IntoView {
    let (percent, label) = match quota {
        Some(q) if q > 0 => {
            let percent = (u64::from(used) * 100 / u64::from(q)).min(100);
            (percent, format!("{used} / {q} AKU used"))
        }
        _ => (0, format!("{used} AKU used (no cap)")),
    };
    let over = quota.is_some_and(|q| used > q);
    view! {
        <div class="quota" data-testid="quota-bar">
            <div
                class="quota-track"
                role="meter"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=percent.to_string()
                aria-label="AKU quota used"
            >
                <div class="quota-fill" class:over=over style=format!("width: {percent}%")></div>
            </div>
            <span class="quota-label">{label}</span>
        </div>
    }
}
