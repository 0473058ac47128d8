//! The test harness: a real console (router, middleware, SQLite file in a fresh temporary
//! directory) on a free loopback port, with a settable clock and a cookie-keeping client.

#![allow(dead_code)]

use app::server::{clock::ManualClock, Config};
use byoc_console::{leptos_options, Console};
use reqwest::{redirect::Policy, Client, Response};
use std::{net::SocketAddr, sync::Arc};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "Quiet-Harbor-Lamp-42";

pub struct TestApp {
    pub addr: SocketAddr,
    pub clock: ManualClock,
    pub pool: sqlx::SqlitePool,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        ..Config::default()
    })
    .await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(time::macros::datetime!(2026-11-22 12:00 UTC));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let console = Console::open(
        &dir.path().join("data"),
        config,
        Arc::new(clock.clone()),
        leptos_options(addr),
    )
    .await
    .expect("console opens");
    let pool = console.state.pool.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = console
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        addr,
        clock,
        pool,
        dir,
        shutdown: Some(tx),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client")
    }

    pub async fn post_form(
        &self,
        client: &Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(endpoint))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn setup(&self, client: &Client) -> Response {
        self.post_form(
            client,
            "/api/setup",
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
                ("environment_name", "Production"),
                ("cloud_provider", "aws"),
                ("region", "eu-central-1"),
            ],
        )
        .await
    }

    pub async fn login(&self, client: &Client, username: &str, password: &str) -> Response {
        self.post_form(
            client,
            "/api/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Setup done and the admin signed in on the returned client.
    pub async fn admin_client(&self) -> Client {
        let client = self.client();
        assert_eq!(self.setup(&client).await.status(), 200);
        assert_eq!(
            self.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
            200
        );
        client
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }
}

/// The JSON error body of a refused server-function call.
pub async fn error_body(response: Response) -> serde_json::Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not a JSON error: {text}"))
}
