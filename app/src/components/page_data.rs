//! The pages' server data as resources, read back on hydration with the same JSON reader as
//! the server functions' answers.
//!
//! A server function's answer is decoded with `serde_json::from_slice`. A resource's copy in
//! the server-rendered page would be decoded with `serde_json::from_str` (leptos' default
//! codec). Each reader compiles its own deserializer for every wire type, so the browser
//! build carried two of each: about 150 KB of the 2.7 MB WASM (twiggy, 2026-12-01). Here one
//! reader serves both.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON in the page, read as bytes (`from_slice`), like a server function's answer.
pub struct SliceJson;

impl<T: Serialize> Encoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A page's data: loaded by `fetcher` on the server and sent in the page, reloaded in the
/// browser whenever `source` changes.
pub type PageData<T> = Resource<T, SliceJson>;

/// A [`PageData`], like `Resource::new` but with the one JSON reader.
#[track_caller]
pub fn page_data<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageData<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
