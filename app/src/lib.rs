//! The BYOC environment console as a Leptos application: pure domain rules (`domain`), the
//! server functions that form its HTTP surface (`api`), the server-only services and storage
//! (`server`, feature `ssr`), and the pages and components the browser hydrates.

// The instance page's consumer-groups section is one deeply nested view type; the hydrate
// build's layout query needs more than the default 128 levels for it.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod format;
/// The pure rules live in their own crate, `byoc-domain`, so that nothing in them can reach for
/// the web framework or the database.
pub use byoc_domain as domain;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
pub mod wire;

pub use app::{shell, App};

/// Entry point of the WASM bundle: attaches the app to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Each page's code is a module of its own (lazy routes): hydration waits until the current
    // page's module has been fetched, so it runs as a task, as `leptos::mount::hydrate_lazy`
    // does, with the flag below set when it ends. (leptos' executor is set up inside.)
    wasm_bindgen_futures::spawn_local(async {
        // The app lives as long as the page.
        leptos::mount::hydrate_from_async(leptos::tachys::dom::body(), App)
            .await
            .forget();
        // A flag the browser tests wait for: after it, every handler on the page is live.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__BYOC_HYDRATED__".into(), &true.into());
        }
    });
}
