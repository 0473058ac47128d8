//! The benchmark's reference (`scripts/bench.sh`): a bare axum server that answers every GET
//! with a page of a given size and nothing else (no session, no database, no rendering), built
//! in release mode like the console, so that the console's figures can be read as a share of
//! what axum itself does on this machine.
//!
//!     bare-axum 127.0.0.1:18190 36000   (address, body bytes)

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:18190".into());
    let bytes: usize = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    // An HTML page of exactly `bytes` bytes.
    let (head, tail) = ("<!DOCTYPE html><html><body>", "</body></html>");
    let fill = bytes.saturating_sub(head.len() + tail.len());
    let body = Bytes::from(format!("{head}{}{tail}", "x".repeat(fill)));
    let page = move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response() }
    };
    let app = Router::new()
        .route("/", get(page.clone()))
        .route("/{*path}", get(page));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
