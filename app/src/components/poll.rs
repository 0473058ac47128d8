//! Refreshing a page while something on it is in progress.

use leptos::prelude::*;

/// A counter that goes up every `millis` while `busy` is true, in the browser only (the
/// server renders once). Make a resource depend on it to refetch while work is in flight.
pub fn poll_while(busy: RwSignal<bool>, millis: u64) -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                if busy.get_untracked() {
                    tick.update(|t| *t = t.wrapping_add(1));
                }
            },
            std::time::Duration::from_millis(millis),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}
