//! The test harness: a real console (router, middleware, SQLite file in a fresh temporary
//! directory) on a free loopback port, with a settable clock and a cookie-keeping client.

#![allow(dead_code)]

pub mod console_process;
pub mod kafka;

use app::domain::license::TrustedKey;
use app::server::{clock::ManualClock, Config};
use byoc_console::{leptos_options, Console};
use reqwest::{redirect::Policy, Client, Response};
use std::{net::SocketAddr, sync::Arc};

pub const ADMIN: &str = "admin";
/// The first-run setup form every test uses: admin `ADMIN`, environment "Production" on AWS.
pub const SETUP_FORM: [(&str, &str); 6] = [
    ("username", ADMIN),
    ("password", ADMIN_PASSWORD),
    ("password_confirm", ADMIN_PASSWORD),
    ("environment_name", "Production"),
    ("cloud_provider", "aws"),
    ("region", "eu-central-1"),
];

pub const VENDOR_KEY_ID: &str = "test-vendor";

/// The signing key of the test vendor, trusted at run time by every test console.
pub fn vendor_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42; 32])
}
pub const ADMIN_PASSWORD: &str = "Quiet-Harbor-Lamp-42";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: app::server::AppState,
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
        // Brokers outlive the console, as they should in production: end this test's own.
        let root = std::fs::canonicalize(self.dir.path().join("data").join("brokers"));
        // And its Kafka clusters' nodes (data/kafka/instance-ID/node-N).
        let clusters = std::fs::canonicalize(self.dir.path().join("data").join("kafka"));
        for (cwd, pid) in console_process::processes() {
            let broker = root.as_deref().is_ok_and(|root| cwd.parent() == Some(root));
            let node = clusters.as_deref().is_ok_and(|c| cwd.starts_with(c));
            if broker || node {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
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
    let trusted = TrustedKey {
        key_id: VENDOR_KEY_ID.into(),
        public_key: vendor_key().verifying_key(),
        added_at_run_time: true,
    };
    let console = Console::open(
        &dir.path().join("data"),
        config,
        Arc::new(clock.clone()),
        leptos_options(addr),
        vec![trusted],
    )
    .await
    .expect("console opens");
    let pool = console.state.pool.clone();
    let state = console.state.clone();
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
        state,
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
        self.post(client, endpoint, form).await
    }

    /// [`TestApp::post_form`] for any form shape (owned values, a struct).
    pub async fn post<V: serde::Serialize + ?Sized>(
        &self,
        client: &Client,
        endpoint: &str,
        form: &V,
    ) -> Response {
        client
            .post(self.url(endpoint))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn setup(&self, client: &Client) -> Response {
        self.post_form(client, "/api/setup", &SETUP_FORM).await
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

/// A prepaid 100 AKU license for this installation, issued 2026-11-20, valid 2026-11-01 to
/// 2027-11-01 with 14 grace days; `change` adjusts it before signing.
pub fn product_key(
    app: &TestApp,
    change: impl FnOnce(&mut app::domain::license::LicensePayload),
) -> String {
    use app::domain::license::{issue, BillingModel, LicensePayload};
    use time::macros::datetime;
    let mut payload = LicensePayload {
        format: 1,
        key_id: VENDOR_KEY_ID.into(),
        license_id: "LIC-TEST-1".into(),
        customer: "Acme".into(),
        installation_id: app.state.installation_id.clone(),
        billing: BillingModel::Prepaid,
        aku_quota: Some(100),
        max_aku_per_instance: 500,
        issued_at: datetime!(2026-11-20 00:00 UTC),
        starts_at: datetime!(2026-11-01 00:00 UTC),
        expires_at: datetime!(2027-11-01 00:00 UTC),
        grace_days: 14,
        pricing: None,
        listing: None,
    };
    change(&mut payload);
    issue(&payload, &vendor_key()).expect("valid test key")
}

impl TestApp {
    pub async fn apply_key(&self, client: &Client, key: &str) -> Response {
        self.post_form(client, "/api/license_apply", &[("key", key)])
            .await
    }

    pub async fn preview_key(&self, client: &Client, key: &str) -> Response {
        self.post_form(client, "/api/license_preview", &[("key", key)])
            .await
    }

    /// Setup done, the admin signed in, and the default license applied.
    pub async fn activated_admin_client(&self) -> Client {
        let client = self.admin_client().await;
        let key = product_key(self, |_| {});
        assert_eq!(self.apply_key(&client, &key).await.status(), 200);
        client
    }

    /// A user of `role` added straight to the database (user management is another feature),
    /// signed in on the returned client.
    pub async fn user_client(&self, username: &str, role: &str) -> Client {
        let hash = self
            .state
            .hasher
            .hash(ADMIN_PASSWORD.into())
            .await
            .expect("hash");
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, 0)",
        )
        .bind(username)
        .bind(hash)
        .bind(role)
        .execute(&self.pool)
        .await
        .expect("insert user");
        let client = self.client();
        assert_eq!(
            self.login(&client, username, ADMIN_PASSWORD).await.status(),
            200
        );
        client
    }
}

/// Each of `paths` answers with a redirect to `to`.
pub async fn assert_redirects(app: &TestApp, client: &Client, paths: &[&str], to: &str) {
    for path in paths {
        let response = client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], to, "{path}");
    }
}

/// A valid create form for an AWS environment; `changes` override fields.
pub fn instance_form(
    name: &str,
    size: u32,
    changes: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = vec![
        ("name", name.into()),
        ("description", "Order events".into()),
        ("kafka_version", "3.9.0".into()),
        ("deployment", "three_zones".into()),
        ("vpc_id", "vpc-0a1b2c3d".into()),
        ("subnet_1", "subnet-0000aaaa".into()),
        ("subnet_2", "subnet-0000bbbb".into()),
        ("subnet_3", "subnet-0000cccc".into()),
        ("data_bucket", "acme-kafka-data".into()),
        ("wal_mode", "object_storage".into()),
        ("client_auth", "sasl_scram".into()),
        ("transit_encryption", "tls".into()),
        ("endpoint_exposure", "vpc".into()),
        ("tags", "team=payments".into()),
        ("size_aku", size.to_string()),
    ];
    for (key, value) in changes {
        // A typo in a test's override must fail the test, not pass the default silently.
        let field = fields
            .iter_mut()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("instance_form has no field {key:?}"));
        field.1 = value.to_string();
    }
    fields
}
