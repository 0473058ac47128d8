//! Response hardening that needs the request's render: the page's Content-Security-Policy,
//! with the nonce leptos puts on its hydration scripts.

use leptos::prelude::use_context;

/// The policy of every page: scripts only with this response's nonce (and what they load),
/// WebAssembly compiled from the app's own module, styles from the app's stylesheet (plus
/// `style` attributes, which the quota bar's width uses), connections to the console itself,
/// no framing, no plugins, forms posting back to the console only.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of everything that is not a page (server functions, files, errors).
pub const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Sets the page's policy on the response being rendered. Called from the document shell.
pub fn set_page_policy() {
    let nonce = leptos::nonce::use_nonce();
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (nonce, response) {
        if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}
