//! Marketplace billing against the marketplace emulator (its own signature checks, the
//! documented rules, billed records kept): linking and its refusals, a month of hours billed
//! exactly as the ledger says, outages and throttling, a subscription that ends and is
//! renewed. The console runs in process with a settable clock; the emulator's usage clock is
//! kept on the console's.

mod common;

use app::domain::license::{BillingModel, DimensionPrice, Listing, PriceTier, Pricing};
use app::domain::Decimal;
use app::server::marketplace::{client::Endpoints, reporter, MarketplaceSettings};
use common::*;
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use time::macros::datetime;
use time::OffsetDateTime;

const AWS_KEY: &str = "AKIDMARKETPLACETEST1";
const AWS_SECRET: &str = "marketplace/test/secret/0000000000000001";
/// The host's role's session token: AWS meters from the buyer's host only with its role.
const AWS_SESSION: &str = "marketplace-test-session-token-0001";
/// Set in the child process that checks a long-term key (no session token) at the link.
const LONG_TERM_CHILD: &str = "MARKETPLACE_TEST_LONG_TERM_KEY";
const PRODUCT: &str = "prod-byoc-test-01";
const ALIBABA_KEY: &str = "LTAImarketplaceTest1";
const ALIBABA_SECRET: &str = "marketplaceTestSecret00000001";
const SERVICE_INSTANCE: &str = "si-test0000000001";
/// The Compute Nest service (the listing on Alibaba) and its key (the provider's secret).
const SERVICE_ID: &str = "svc-kafka";
const SERVICE_KEY: &str = "compute-nest-service-key-test-0001";

/// The host's credentials, the standard way (every test of this binary sets the same): a
/// role's temporary credentials, with a session token, except in the child process that
/// checks a long-term key.
fn host_credentials() {
    std::env::set_var("AWS_ACCESS_KEY_ID", AWS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
    if std::env::var_os(LONG_TERM_CHILD).is_some() {
        std::env::remove_var("AWS_SESSION_TOKEN");
    } else {
        std::env::set_var("AWS_SESSION_TOKEN", AWS_SESSION);
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("ALIBABA_CLOUD_ACCESS_KEY_ID", ALIBABA_KEY);
    std::env::set_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ALIBABA_SECRET);
}

struct Emulator {
    base: String,
    http: Client,
}

impl Emulator {
    async fn start(authorized: bool) -> Emulator {
        let mut aws = marketplace_emulator::AwsAccount::new(AWS_KEY, AWS_SECRET);
        aws.authorized = authorized;
        aws.session_token = Some(AWS_SESSION.into());
        let config = marketplace_emulator::Config {
            aws: vec![aws],
            aws_product_code: PRODUCT.into(),
            aws_dimensions: AWS_DIMENSIONS.iter().map(|d| d.to_string()).collect(),
            alibaba: vec![marketplace_emulator::AlibabaAccount::new(
                ALIBABA_KEY,
                ALIBABA_SECRET,
            )],
            alibaba_service_instance_id: SERVICE_INSTANCE.into(),
            alibaba_service_id: SERVICE_ID.into(),
            alibaba_service_key: SERVICE_KEY.into(),
            alibaba_push_interval_s: 0,
            ..marketplace_emulator::Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(marketplace_emulator::serve(listener, config));
        Emulator {
            base,
            http: Client::new(),
        }
    }

    async fn control(&self, what: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/_emulator/{what}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "emulator {what}");
    }

    async fn billed(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/billed", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn settings(&self) -> MarketplaceSettings {
        self.settings_via(&self.base)
    }

    /// The settings with AWS reached at `aws` (a gate in front of the emulator).
    fn settings_via(&self, aws: &str) -> MarketplaceSettings {
        MarketplaceSettings {
            endpoints: Endpoints {
                aws: Some(aws.to_string()),
                aws_region: Some("us-east-1".into()),
                alibaba: Some(format!("{}/alibaba", self.base)),
            },
            // The background reporter stays out of the way: passes are run by the tests.
            report_every: std::time::Duration::from_secs(3600),
            alibaba_push_interval: std::time::Duration::ZERO,
            ..MarketplaceSettings::default()
        }
    }
}

async fn console(emulator: &Emulator) -> TestApp {
    console_with(emulator.settings()).await
}

async fn console_with(marketplace: MarketplaceSettings) -> TestApp {
    host_credentials();
    spawn_app_with(app::server::Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
        marketplace,
        ..app::server::Config::default()
    })
    .await
}

/// AKU-hours at 0.10 USD (the prices do not matter here: the marketplace prices the units).
fn prices() -> Option<Pricing> {
    Some(Pricing {
        currency: "USD".into(),
        dimensions: vec![DimensionPrice {
            dimension: "aku_hours".into(),
            tiers: vec![PriceTier {
                from_quantity: 0,
                unit_price: Decimal::from_str("0.10").unwrap(),
            }],
        }],
    })
}

fn payg_key(app: &TestApp, listing: Option<&str>) -> String {
    product_key(app, |p| {
        p.billing = BillingModel::Payg;
        p.aku_quota = Some(200);
        p.pricing = prices();
        p.listing = listing.map(|l| Listing::parse(l).unwrap());
    })
}

/// Signed in again at `t` (sessions end when the clock jumps).
async fn at(app: &TestApp, emulator: &Emulator, t: OffsetDateTime) -> Client {
    app.clock.set(t);
    emulator
        .control("clock", json!({ "now": t.unix_timestamp() }))
        .await;
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    client
}

/// Moves both clocks to `t` without signing in.
async fn set_clock(app: &TestApp, emulator: &Emulator, t: OffsetDateTime) {
    app.clock.set(t);
    emulator
        .control("clock", json!({ "now": t.unix_timestamp() }))
        .await;
}

async fn instance_state(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn settle(app: &TestApp, id: i64, state: &str) {
    for _ in 0..500 {
        if instance_state(app, id).await == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("instance {id} never {state}");
}

async fn create(app: &TestApp, client: &Client, name: &str, size: u32) -> reqwest::Response {
    client
        .post(app.url("/api/instance_create"))
        .form(&instance_form(name, size, &[]))
        .send()
        .await
        .unwrap()
}

/// A created instance's id (the creation must be accepted).
async fn created(app: &TestApp, client: &Client, name: &str, size: u32) -> i64 {
    let response = create(app, client, name, size).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn link(app: &TestApp, client: &Client, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post_form(client, "/api/marketplace_link", fields).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

/// A pay-as-you-go console linked to the emulator's AWS listing on 2026-12-01 00:00, with one
/// running instance "alpha" of `size` AKU: where most tests here start.
async fn linked_with_instance(emulator: &Emulator, size: u32) -> (TestApp, i64) {
    let app = console(emulator).await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let client = at(&app, emulator, datetime!(2026-12-01 00:00 UTC)).await;
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200);
    let a = created(&app, &client, "alpha", size).await;
    settle(&app, a, "running").await;
    (app, a)
}

/// Meters and reports every hour up to `until`, an hour at a time.
async fn run_hours(
    app: &TestApp,
    emulator: &Emulator,
    from: OffsetDateTime,
    until: OffsetDateTime,
) {
    let mut t = from;
    while t <= until {
        set_clock(app, emulator, t).await;
        app::server::metering::run_due(&app.state).await.unwrap();
        reporter::run_once(&app.state).await.unwrap();
        t += time::Duration::hours(1);
    }
}

/// The ledger's total per dimension over `[from, to)`, in the marketplace's units, rounded
/// half up (the conversion rule's month total).
async fn ledger_in_market_units(app: &TestApp, from: i64, to: i64) -> BTreeMap<String, u64> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT dimension, quantity FROM usage_ledger WHERE hour_start >= ? AND hour_start < ?",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for (dimension, quantity) in rows {
        *sums.entry(dimension).or_default() += Decimal::from_str(&quantity).unwrap();
    }
    AWS_LISTING
        .iter()
        .map(|(ledger, key, per)| {
            let exact = sums.get(*ledger).copied().unwrap_or_default() * Decimal::from(*per);
            let rounded = exact
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            (key.to_string(), rounded.to_string().parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_month_of_hours_is_billed_exactly_as_the_ledger_says() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    let key = payg_key(&app, Some(&format!("aws:{PRODUCT}")));
    assert_eq!(app.apply_key(&admin, &key).await.status(), 200);

    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200, "{}", linked.text().await.unwrap());
    // Sizes that make fractions: 3 AKU for 50 minutes an hour would not, so scale mid-hour.
    let a: i64 = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    let client = at(&app, &emulator, datetime!(2026-12-09 07:20 UTC)).await;
    let scaled = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &a.to_string()), ("size_aku", "12")],
        )
        .await;
    assert_eq!(scaled.status(), 200);
    settle(&app, a, "running").await;
    let b: i64 = created(&app, &client, "beta", 3).await;
    settle(&app, b, "running").await;

    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2027-01-01 01:00 UTC),
    )
    .await;

    let december = (
        datetime!(2026-12-01 00:00 UTC).unix_timestamp(),
        datetime!(2027-01-01 00:00 UTC).unix_timestamp(),
    );
    let billed = emulator.billed().await;
    let december_billed: Vec<&Value> = billed["aws"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let t = r["timestamp"].as_f64().unwrap() as i64;
            t >= december.0 && t < december.1
        })
        .collect();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for record in &december_billed {
        *totals
            .entry(record["dimension"].as_str().unwrap().to_string())
            .or_default() += record["quantity"].as_u64().unwrap();
    }
    let expected = ledger_in_market_units(&app, december.0, december.1).await;
    assert!(expected["AkuMinutes"] > 0);
    // Every dimension, every hour (zero hours too): 744 hours of December.
    assert_eq!(december_billed.len(), 744 * expected.len());
    for (key, want) in &expected {
        assert_eq!(totals.get(key).copied().unwrap_or(0), *want, "{key}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state NOT IN ('accepted')"
        )
        .await,
        0
    );
    // The usage page's month: ledger and accepted side by side.
    let usage: Value = app
        .post_form(
            &client_at(&app).await,
            "/api/usage",
            &[("month", "2026-12")],
        )
        .await
        .json()
        .await
        .unwrap();
    let totals_shown = usage["marketplace"]["totals"].as_array().unwrap();
    let aku = totals_shown
        .iter()
        .find(|t| t["key"] == "AkuMinutes")
        .unwrap();
    assert_eq!(aku["accepted"].as_u64().unwrap(), expected["AkuMinutes"]);
    assert_eq!(aku["late"], 0);
}

#[tokio::test]
async fn every_refused_link_says_why_and_changes_nothing() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let admin = app.activated_admin_client().await; // prepaid
    let links = "SELECT COUNT(*) FROM marketplace_links";

    let refused = link(
        &app,
        &admin,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let body = error_body(refused).await;
    assert!(body.to_string().contains("not pay-as-you-go"), "{body}");
    assert_eq!(count(&app, links).await, 0);

    let key = product_key(&app, |p| {
        p.billing = BillingModel::Payg;
        p.pricing = prices();
        p.license_id = "LIC-TEST-2".into();
        p.issued_at = datetime!(2026-11-21 00:00 UTC);
        p.listing = Some(Listing::parse("aws:another-product").unwrap());
    });
    let applied = app.apply_key(&admin, &key).await;
    assert_eq!(applied.status(), 200, "{}", applied.text().await.unwrap());
    let refused = link(
        &app,
        &admin,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let body = error_body(refused).await.to_string();
    assert!(
        body.contains("listing") && body.contains("aws:another-product"),
        "{body}"
    );
    assert_eq!(count(&app, links).await, 0);

    // A key without a listing: the check with the marketplace decides (a service instance
    // that does not exist).
    let key = product_key(&app, |p| {
        p.billing = BillingModel::Payg;
        p.pricing = prices();
        p.license_id = "LIC-TEST-3".into();
        p.issued_at = datetime!(2026-11-22 00:00 UTC);
    });
    let applied = app.apply_key(&admin, &key).await;
    assert_eq!(applied.status(), 200, "{}", applied.text().await.unwrap());
    // (A DryRun proves the permission only, as AWS documents it: a product code that does
    // not exist shows in the first hour's report, rejected.)
    let refused = link(
        &app,
        &admin,
        &[("marketplace", "gcp"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(error_body(refused)
        .await
        .to_string()
        .contains("marketplace"));
    write_service_key(&app, SERVICE_KEY).await;
    let refused = link(
        &app,
        &admin,
        &[
            ("marketplace", "alibaba"),
            ("listing", SERVICE_ID),
            ("subscription", "si-nope"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(error_body(refused)
        .await
        .to_string()
        .contains("not si-nope"));
    assert_eq!(count(&app, links).await, 0);
    // Refusals by a rule are in the audit log.
    assert!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_link' AND outcome = 'refused'"
        )
        .await
            >= 3
    );

    // An operator may not link.
    let operator = app.user_client("olga", "operator").await;
    let forbidden = link(
        &app,
        &operator,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(forbidden.status(), 403);

    let linked = link(
        &app,
        &admin,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200);
    let again = link(
        &app,
        &admin,
        &[
            ("marketplace", "alibaba"),
            ("listing", "svc-1"),
            ("subscription", SERVICE_INSTANCE),
        ],
    )
    .await;
    assert_eq!(again.status(), 409);
    assert!(error_body(again)
        .await
        .to_string()
        .contains("unlink it first"));
    assert_eq!(count(&app, links).await, 1);
}

#[tokio::test]
async fn credentials_without_the_permission_are_refused() {
    let emulator = Emulator::start(false).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let refused = link(
        &app,
        &admin,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let body = error_body(refused).await.to_string();
    assert!(body.contains("UnauthorizedException"), "{body}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM marketplace_links").await,
        0
    );
}

#[tokio::test]
async fn an_outage_and_a_throttling_storm_catch_up_and_hours_past_the_window_are_late() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 6).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 03:00 UTC),
    )
    .await;
    let dims = AWS_DIMENSIONS.len() as i64;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'"
        )
        .await,
        3 * dims
    );

    // Twelve hours of outage: the hours wait, then catch up; those older than six hours are
    // late, listed and exported.
    emulator.control("faults", json!({ "outage": true })).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 04:00 UTC),
        datetime!(2026-12-01 15:00 UTC),
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'"
        )
        .await,
        3 * dims
    );
    emulator.control("faults", json!({ "outage": false })).await;
    // Past every back-off.
    set_clock(&app, &emulator, datetime!(2026-12-01 15:20 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    let late = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'late'",
    )
    .await;
    let accepted = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'",
    )
    .await;
    // Hours 03:00..14:00 closed during the outage; at 15:20 the hours from 10:00 on are
    // within the window (09:00's timestamp is 6 h 20 min back): 7 late, 5 sent.
    assert_eq!(late, 7 * dims, "late");
    assert_eq!(accepted, (3 + 5) * dims, "accepted");
    let billed = emulator.billed().await;
    assert_eq!(billed["aws"].as_array().unwrap().len() as i64, accepted);
    let csv = client_at(&app)
        .await
        .get(app.url("/usage/marketplace-late.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count() as i64, 1 + 7 * dims, "{csv}");
    assert!(
        csv.contains("2026-12-01 03:00 UTC,aku_hours,AkuMinutes,6,360,"),
        "{csv}"
    );

    // A throttling storm: every answer throttled for a while; nothing is lost or doubled.
    emulator.control("faults", json!({ "throttle": 25 })).await;
    let mut t = datetime!(2026-12-01 16:00 UTC);
    for _ in 0..40 {
        set_clock(&app, &emulator, t).await;
        app::server::metering::run_due(&app.state).await.unwrap();
        reporter::run_once(&app.state).await.unwrap();
        t += time::Duration::minutes(10);
    }
    let open = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE state IN ('pending', 'sending')",
    )
    .await;
    assert_eq!(open, 0);
    let accepted = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'",
    )
    .await;
    let billed = emulator.billed().await;
    assert_eq!(billed["aws"].as_array().unwrap().len() as i64, accepted);
    assert!(billed["calls"]["ThrottlingException"].as_i64().unwrap() >= 25);
}

/// A client signed in at the app's current time.
async fn client_at(app: &TestApp) -> Client {
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    client
}

#[tokio::test]
async fn an_ended_subscription_stops_growth_then_suspends_and_a_renewed_one_resumes() {
    let emulator = Emulator::start(true).await;
    let (app, a) = linked_with_instance(&emulator, 6).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 02:00 UTC),
    )
    .await;

    emulator
        .control("entitlement", json!({ "entitled": false }))
        .await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 03:00 UTC),
        datetime!(2026-12-01 03:00 UTC),
    )
    .await;
    let ended = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_links WHERE entitlement = 'ended'",
    )
    .await;
    assert_eq!(ended, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_subscription_ended'"
        )
        .await,
        1
    );
    // The banner, on every page (the session answers it).
    let client = client_at(&app).await;
    let session: Value = app
        .post_form(&client, "/api/session", &[])
        .await
        .json()
        .await
        .unwrap();
    let hold = &session["license"]["subscription"]["NoGrowth"];
    let since = datetime!(2026-12-01 03:00 UTC).unix_timestamp();
    assert_eq!(hold["since"], since);
    assert_eq!(hold["suspend_at"], since + 72 * 3600);
    let page = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-testid=\"subscription-banner\""),
        "banner missing"
    );
    // No growth: create and scale up are refused; scale down is not.
    let refused = create(&app, &client, "beta", 3).await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("subscription has ended"));
    let up = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &a.to_string()), ("size_aku", "12")],
        )
        .await;
    assert_eq!(up.status(), 409);
    let down = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &a.to_string()), ("size_aku", "5")],
        )
        .await;
    assert_eq!(down.status(), 200);
    settle(&app, a, "running").await;

    // Still running just before the grace period ends; suspended after it, data kept.
    set_clock(&app, &emulator, datetime!(2026-12-04 02:59 UTC)).await;
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    assert_eq!(instance_state(&app, a).await, "running");
    set_clock(&app, &emulator, datetime!(2026-12-04 03:00 UTC)).await;
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    settle(&app, a, "suspended").await;
    let reason: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'instance_suspend' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reason, "marketplace subscription ended");

    // A check resumes the instance, but AWS's dry run proves the permission only: while the
    // marketplace still refuses reports, the next one ends the subscription again, counted
    // from the first end, so the grace period is not restarted by checking.
    let client = client_at(&app).await;
    let checked = app.post_form(&client, "/api/marketplace_check", &[]).await;
    assert_eq!(checked.status(), 200);
    settle(&app, a, "running").await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_links WHERE entitlement = 'renewed'"
        )
        .await,
        1
    );
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-04 04:00 UTC),
        datetime!(2026-12-04 04:00 UTC),
    )
    .await;
    let since: i64 = sqlx::query_scalar("SELECT ended_since FROM marketplace_links")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(since, datetime!(2026-12-01 03:00 UTC).unix_timestamp());
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    settle(&app, a, "suspended").await;

    // Renewed for real: a check resumes the instance and the next report confirms it.
    emulator
        .control("entitlement", json!({ "entitled": true }))
        .await;
    let client = client_at(&app).await;
    let checked = app.post_form(&client, "/api/marketplace_check", &[]).await;
    assert_eq!(checked.status(), 200);
    settle(&app, a, "running").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-04 05:00 UTC),
        datetime!(2026-12-04 05:00 UTC),
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_links WHERE entitlement = 'entitled'"
        )
        .await,
        1
    );
    // Ended, renewed by a check, ended again, renewed by a check, confirmed by a report.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_subscription_renewed'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_subscription_ended'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_lapsed_license_keeps_instances_suspended_when_the_subscription_is_renewed() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    let key = product_key(&app, |p| {
        p.billing = BillingModel::Payg;
        p.pricing = prices();
        p.expires_at = datetime!(2026-12-02 00:00 UTC);
        p.grace_days = 1;
    });
    assert_eq!(app.apply_key(&admin, &key).await.status(), 200);
    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    assert_eq!(
        link(
            &app,
            &client,
            &[("marketplace", "aws"), ("listing", PRODUCT)]
        )
        .await
        .status(),
        200
    );
    let a: i64 = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    emulator
        .control("entitlement", json!({ "entitled": false }))
        .await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    // Past both: the license lapsed (expiry + 1 grace day) and the subscription's grace.
    set_clock(&app, &emulator, datetime!(2026-12-05 00:00 UTC)).await;
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    settle(&app, a, "suspended").await;
    let reason: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'instance_suspend' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reason, "license lapsed, marketplace subscription ended");
    emulator
        .control("entitlement", json!({ "entitled": true }))
        .await;
    let client = client_at(&app).await;
    assert_eq!(
        app.post_form(&client, "/api/marketplace_check", &[])
            .await
            .status(),
        200
    );
    // Operations are recorded before `follow_license` returns: none resumes the instance.
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM operations WHERE kind = 'resume'"
        )
        .await,
        0
    );
    assert_eq!(instance_state(&app, a).await, "suspended");
}

/// Writes the Compute Nest service key where the console reads it (owner-only).
async fn write_service_key(app: &TestApp, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let dir = std::path::Path::new(&file)
        .parent()
        .unwrap()
        .join("marketplace");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alibaba-service-key");
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Alibaba as documented: the link is checked with CheckOutLicense from the host (service
/// key, no access key), each hour is one PushMeteringData entry of `Period` in AKU-seconds
/// with its Token, and the emulator verifies every token and value. Refusals: no key, not a
/// Compute Nest host, another service id, expired, in arrears. A wrong key is a permission
/// failure (the link grace starts). A console that stopped between a push and its record
/// leaves the hour unknown, never pushed twice.
#[tokio::test]
async fn alibaba_hours_are_pushed_whole_and_an_unknown_outcome_waits_for_the_admin() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(
            &admin,
            &payg_key(&app, Some(&format!("alibaba:{SERVICE_ID}")))
        )
        .await
        .status(),
        200
    );
    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    let alibaba = [("marketplace", "alibaba"), ("listing", SERVICE_ID)];
    // No service key on the host: refused, naming the file.
    let refused = link(&app, &client, &alibaba).await;
    assert_eq!(refused.status(), 422);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("alibaba-service-key"));
    write_service_key(&app, SERVICE_KEY).await;
    // Not a host Compute Nest created; an expired or unpaid subscription: refused with why.
    emulator
        .control("alibaba", json!({ "compute_nest_host": false }))
        .await;
    let refused = link(&app, &client, &alibaba).await;
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("not one Compute Nest created"));
    emulator
        .control(
            "alibaba",
            json!({ "compute_nest_host": true, "arrears": true }),
        )
        .await;
    let refused = link(&app, &client, &alibaba).await;
    assert!(refused.text().await.unwrap().contains("InstanceArrears"));
    emulator
        .control("alibaba", json!({ "arrears": false }))
        .await;
    emulator
        .control("entitlement", json!({ "entitled": false }))
        .await;
    let refused = link(&app, &client, &alibaba).await;
    assert!(refused.text().await.unwrap().contains("LicenseExpired"));
    emulator
        .control("entitlement", json!({ "entitled": true }))
        .await;
    let linked = link(&app, &client, &alibaba).await;
    assert_eq!(linked.status(), 200, "{}", linked.text().await.unwrap());
    let account: String = sqlx::query_scalar("SELECT account FROM marketplace_links")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(account, format!("service instance {SERVICE_INSTANCE}"));

    let a: i64 = created(&app, &client, "alpha", 4).await;
    settle(&app, a, "running").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 05:00 UTC),
    )
    .await;
    let billed = emulator.billed().await;
    let entries = billed["alibaba"].as_array().unwrap();
    // Seed 001: Alibaba bills AKU; one key, Period, per hour (hours 00:00 to 04:00).
    assert_eq!(entries.len(), 5, "{entries:?}");
    assert_eq!(billed["double_billed"], 0);
    for entry in entries {
        assert_eq!(entry["key"], "Period");
        assert_eq!(
            entry["end_time"].as_i64().unwrap() - entry["start_time"].as_i64().unwrap(),
            3600
        );
    }
    let period: u64 = entries.iter().map(|e| e["value"].as_u64().unwrap()).sum();
    // 4 AKU for 5 hours, in AKU-seconds (Period is seconds): 4 x 5 x 3600.
    let ledger = ledger_aku_hours(&app).await;
    eprintln!("alibaba: billed {period} AKU-seconds, ledger {ledger} AKU-hours");
    assert_eq!(period, 4 * 5 * 3600);
    assert_eq!(Decimal::from(period), ledger * Decimal::from(3600));

    // A key that is not the service's: Compute Nest refuses the token; the hour waits and
    // the link grace starts (audited).
    write_service_key(&app, "not-the-service-key").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 06:00 UTC),
        datetime!(2026-12-01 06:00 UTC),
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_permission_denied'"
        )
        .await,
        1
    );
    assert_eq!(emulator.billed().await["calls"]["InvalidToken"], 1);
    write_service_key(&app, SERVICE_KEY).await;
    set_clock(&app, &emulator, datetime!(2026-12-01 06:30 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_permission_restored'"
        )
        .await,
        1
    );

    // A console that stopped between a push and its record: the outcome is unknown, shown,
    // and not pushed again until an admin decides.
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 07:00 UTC),
        datetime!(2026-12-01 07:00 UTC),
    )
    .await;
    sqlx::query("UPDATE marketplace_reports SET state = 'sending' WHERE hour_start = ?")
        .bind(datetime!(2026-12-01 06:00 UTC).unix_timestamp())
        .execute(&app.pool)
        .await
        .unwrap();
    reporter::run_once(&app.state).await.unwrap();
    let unknown: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM marketplace_reports WHERE state = 'unknown'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(unknown.len(), 1);
    let before = emulator.billed().await["alibaba"].as_array().unwrap().len();
    reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        emulator.billed().await["alibaba"].as_array().unwrap().len(),
        before
    );
    // The bill shows it: settled as accepted, audited.
    let settled = app
        .post_form(
            &client_at(&app).await,
            "/api/marketplace_report",
            &[("id", &unknown[0].to_string()), ("decision", "billed")],
        )
        .await;
    assert_eq!(settled.status(), 200);
    let retry_accepted = app
        .post_form(
            &client_at(&app).await,
            "/api/marketplace_report",
            &[("id", &unknown[0].to_string()), ("decision", "retry")],
        )
        .await;
    assert_eq!(retry_accepted.status(), 409);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_report_settled'"
        )
        .await,
        1
    );
}

/// The ledger's AKU-hours over 2026-12-01 00:00 to 05:00.
async fn ledger_aku_hours(app: &TestApp) -> Decimal {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT quantity FROM usage_ledger WHERE dimension = 'aku_hours' AND hour_start >= ? AND hour_start < ?",
    )
    .bind(datetime!(2026-12-01 00:00 UTC).unix_timestamp())
    .bind(datetime!(2026-12-01 05:00 UTC).unix_timestamp())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.iter().map(|q| Decimal::from_str(q).unwrap()).sum()
}

/// A console process killed with SIGKILL while a report is `sending` (the emulator has billed
/// it and waits before answering), again and again: afterwards every hour of every dimension
/// is billed exactly once, with the quantity the outbox says, and nothing is missing.
#[tokio::test]
async fn sigkill_between_a_send_and_its_record_bills_nothing_twice_and_loses_nothing() {
    use common::console_process::activated_with;
    host_credentials();
    let emulator = Emulator::start(true).await;
    let flags: Vec<String> = [
        "--provisioner",
        "simulated",
        "--marketplace-aws-endpoint",
        &emulator.base,
        "--marketplace-aws-region",
        "us-east-1",
        "--marketplace-report-seconds",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let listing = format!("aws:{PRODUCT}");
    let key = [
        "--billing",
        "payg",
        "--aku",
        "100",
        "--months",
        "12",
        "--price",
        "aku_hours:0=0.10",
        "--listing",
        &listing,
    ];
    let mut console = activated_with(&flags, &key).await;
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        console.data.join("console.db").display()
    ))
    .await
    .unwrap();
    let created = console
        .client
        .post(format!("{}/api/instance_create", console.base))
        .form(&instance_form("alpha", 6, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let instance: i64 = created.json().await.unwrap();

    // Five closed hours in the ledger (what the metering task writes for them), 6 AKU each
    // and some traffic, and the mark that says they are metered.
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let current = now - now.rem_euclid(3600);
    let license_id: String = sqlx::query_scalar("SELECT license_id FROM license_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    for k in 1..=5 {
        let hour = current - k * 3600;
        for (dimension, quantity) in [
            ("aku_hours", "6"),
            ("data_in_gib", "0.123457"),
            ("uptime_hours_pro", "0.5"),
        ] {
            sqlx::query(
                "INSERT INTO usage_ledger (record_id, instance_id, hour_start, dimension, quantity, license_id, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(format!("seed-{hour}-{dimension}"))
            .bind(instance)
            .bind(hour)
            .bind(dimension)
            .bind(quantity)
            .bind(&license_id)
            .bind(now)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    sqlx::query("INSERT OR REPLACE INTO metering_progress (id, metered_until) VALUES (1, ?)")
        .bind(current)
        .execute(&pool)
        .await
        .unwrap();
    // Every answer waits after the emulator has billed the call.
    emulator.control("faults", json!({ "delay_ms": 400 })).await;
    let linked = console
        .client
        .post(format!("{}/api/marketplace_link", console.base))
        .form(&[("marketplace", "aws"), ("listing", PRODUCT)])
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200, "{}", linked.text().await.unwrap());

    let seeded = current - 5 * 3600;
    let sending = "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'sending'";
    let billed_calls = |billed: &Value| billed["calls"]["accepted"].as_i64().unwrap_or(0);
    let mut kills_after_billing = 0;
    for round in 0..6 {
        let started = std::time::Instant::now();
        let before = billed_calls(&emulator.billed().await);
        loop {
            // Even rounds: the moment the emulator has billed a call (it then waits 400 ms
            // before answering). Odd rounds: the moment a report is recorded as sending
            // (its call may not have left yet).
            let due = if round % 2 == 0 {
                billed_calls(&emulator.billed().await) > before
            } else {
                sqlx::query_scalar::<_, i64>(sending)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    > 0
            };
            if due {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "no report was ever being sent"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        console.kill();
        if round % 2 == 0 {
            kills_after_billing += 1;
        }
        console.restart(&flags).await;
    }
    emulator.control("faults", json!({ "delay_ms": 0 })).await;
    let open = "SELECT COUNT(*) FROM marketplace_reports WHERE state IN ('pending', 'sending')";
    let started = std::time::Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(open).fetch_one(&pool).await.unwrap();
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM marketplace_reports")
            .fetch_one(&pool)
            .await
            .unwrap();
        if n == 0 && queued > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "reports still open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    console.kill();

    let reports: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
        "SELECT hour_start, market_key, quantity, client_token, state FROM marketplace_reports
         WHERE hour_start >= ? AND hour_start < ?",
    )
    .bind(seeded)
    .bind(current)
    .fetch_all(&pool)
    .await
    .unwrap();
    let dims = AWS_DIMENSIONS.len();
    assert_eq!(reports.len(), 5 * dims);
    let billed = emulator.billed().await;
    let records = billed["aws"].as_array().unwrap();
    for (hour, key, quantity, token, state) in &reports {
        assert_eq!(state, "accepted", "{key} at {hour}");
        let matching: Vec<&Value> = records
            .iter()
            .filter(|r| {
                r["dimension"] == key.as_str() && r["timestamp"].as_f64().unwrap() as i64 == *hour
            })
            .collect();
        assert_eq!(matching.len(), 1, "{key} at {hour} billed once");
        assert_eq!(matching[0]["quantity"].as_i64().unwrap(), *quantity);
        assert_eq!(matching[0]["client_token"], token.as_str());
    }
    // The ledger in the marketplace's units: 6 AKU × 60 × 5 hours; 0.5 h × 60 × 5.
    let total = |key: &str| -> i64 { reports.iter().filter(|r| r.1 == key).map(|r| r.2).sum() };
    assert_eq!(total("AkuMinutes"), 1800);
    assert_eq!(total("UptimeMinutesPro"), 150);
    // 0.123457 GiB × 1024 = 126.419968 MiB an hour: 632.1 over five hours, carried, 632
    // sent. When a month ends among the five hours (the test runs in the first hours of a
    // month), its last hour reports its own total rounded half up and carries nothing on.
    let month = |t: i64| {
        let d = OffsetDateTime::from_unix_timestamp(t).unwrap();
        (d.year(), d.month())
    };
    let hours_before_the_turn = (1..=5)
        .map(|k| current - k * 3600)
        .filter(|&hour| month(hour) != month(current - 3600))
        .count() as i64;
    let per_hour_micro: i64 = 126_419_968;
    let rounded_half_up = |micro: i64| (micro + 500_000) / 1_000_000;
    let expected = if hours_before_the_turn == 0 {
        5 * per_hour_micro / 1_000_000
    } else {
        rounded_half_up(hours_before_the_turn * per_hour_micro)
            + (5 - hours_before_the_turn) * per_hour_micro / 1_000_000
    };
    assert_eq!(
        total("DataInMiB"),
        expected,
        "{hours_before_the_turn} hours before a month's turn"
    );
    println!(
        "emulator calls after {kills_after_billing} kills after billing and 3 while sending: {}",
        billed["calls"]
    );
    // Every kill landed after the emulator billed a call and before the console recorded
    // it: the resend under the same ClientToken was answered without billing again.
    assert!(
        billed["calls"]["replayed"].as_i64().unwrap_or(0) >= kills_after_billing,
        "{}",
        billed["calls"]
    );
}

#[tokio::test]
async fn unlinking_keeps_unsent_reports_and_a_new_link_reports_from_where_the_old_one_stopped() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 3).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 02:00 UTC),
    )
    .await;
    // The next hour cannot be sent: it waits, then the link is removed.
    emulator.control("faults", json!({ "outage": true })).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 03:00 UTC),
        datetime!(2026-12-01 03:00 UTC),
    )
    .await;
    let client = client_at(&app).await;
    let unconfirmed = app
        .post_form(&client, "/api/marketplace_unlink", &[("confirm", "yes")])
        .await;
    assert_eq!(unconfirmed.status(), 422);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_links WHERE unlinked_at IS NULL"
        )
        .await,
        1
    );
    let unlinked = app
        .post_form(&client, "/api/marketplace_unlink", &[("confirm", "unlink")])
        .await;
    assert_eq!(unlinked.status(), 200);
    let dims = AWS_DIMENSIONS.len() as i64;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'unsent'"
        )
        .await,
        dims
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_unlink'"
        )
        .await,
        1
    );
    // Shown, never dropped: the Marketplace page lists them.
    let page: Value = app
        .post_form(&client, "/api/marketplace", &[])
        .await
        .json()
        .await
        .unwrap();
    let unsent = page["attention"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "unsent")
        .count() as i64;
    assert_eq!(unsent, dims);
    assert_eq!(page["active"], Value::Null);
    assert_eq!(page["history"].as_array().unwrap().len(), 1);

    // Linked again an hour later: the new link sends the hour the old one did not, and the
    // hours since the old link's last queued hour.
    emulator.control("faults", json!({ "outage": false })).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 04:00 UTC),
        datetime!(2026-12-01 04:00 UTC),
    )
    .await;
    let client = client_at(&app).await;
    assert_eq!(
        link(
            &app,
            &client,
            &[("marketplace", "aws"), ("listing", PRODUCT)]
        )
        .await
        .status(),
        200
    );
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 05:00 UTC),
        datetime!(2026-12-01 05:00 UTC),
    )
    .await;
    let new_link: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT hour_start FROM marketplace_reports WHERE link_id = 2 ORDER BY hour_start",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let hours: Vec<i64> = new_link.into_iter().map(|(h,)| h).collect();
    // The old link queued hours up to 02:00 (sent: 00:00, 01:00; unsent: 02:00, taken over by
    // the new link); 03:00 closed while unlinked and 04:00 after the new link.
    assert_eq!(
        hours,
        vec![
            datetime!(2026-12-01 02:00 UTC).unix_timestamp(),
            datetime!(2026-12-01 03:00 UTC).unix_timestamp(),
            datetime!(2026-12-01 04:00 UTC).unix_timestamp(),
        ]
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE link_id = 2 AND state = 'accepted'"
        )
        .await,
        3 * dims
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state <> 'accepted'"
        )
        .await,
        0,
        "no hour is left unsent"
    );
    // Every hour from 00:00 to 04:00 billed once per dimension.
    let billed = emulator.billed().await;
    let mut slots: Vec<(String, i64)> = billed["aws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimension"].as_str().unwrap().to_string(),
                r["timestamp"].as_f64().unwrap() as i64 / 3600,
            )
        })
        .collect();
    let all = slots.len();
    slots.sort();
    slots.dedup();
    assert_eq!((all, slots.len()), (5 * dims as usize, 5 * dims as usize));
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'marketplace_link' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        detail.contains(&format!("{dims} reports an earlier link")),
        "{detail}"
    );
}

#[tokio::test]
async fn admins_retry_rejected_hours() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    // A dry run proves the permission only: a product code the marketplace does not know
    // links, and its reports are rejected with the marketplace's reason.
    assert_eq!(
        link(
            &app,
            &client,
            &[("marketplace", "aws"), ("listing", "prod-typo")]
        )
        .await
        .status(),
        200
    );
    let a = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    let rejected: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, reason FROM marketplace_reports WHERE state = 'rejected' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let dims = AWS_DIMENSIONS.len();
    assert_eq!(rejected.len(), dims);
    assert!(
        rejected[0].1.contains("InvalidProductCodeException"),
        "{}",
        rejected[0].1
    );

    // An operator cannot retry; an admin can, and the report is sent again.
    let operator = app.user_client("olga", "operator").await;
    let id = rejected[0].0.to_string();
    let forbidden = app
        .post_form(
            &operator,
            "/api/marketplace_report",
            &[("id", id.as_str()), ("decision", "retry")],
        )
        .await;
    assert_eq!(forbidden.status(), 403);
    let calls_before = emulator.billed().await["calls"]["InvalidProductCodeException"]
        .as_i64()
        .unwrap();
    let client = client_at(&app).await;
    let retried = app
        .post_form(
            &client,
            "/api/marketplace_report",
            &[("id", id.as_str()), ("decision", "retry")],
        )
        .await;
    assert_eq!(retried.status(), 200);
    reporter::run_once(&app.state).await.unwrap();
    let calls_after = emulator.billed().await["calls"]["InvalidProductCodeException"]
        .as_i64()
        .unwrap();
    assert_eq!(calls_after, calls_before + 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_report_retry'"
        )
        .await,
        1
    );
    // An accepted or late report cannot be retried.
    let bad = app
        .post_form(
            &client,
            "/api/marketplace_report",
            &[("id", id.as_str()), ("decision", "resend")],
        )
        .await;
    assert_eq!(bad.status(), 409);
}

/// A server error leaves it open whether the marketplace took the report: AWS gets it again
/// under the same ClientToken, and once past the window it is `unknown` (it may be billed),
/// never `late` (which says: bill it another way).
#[tokio::test]
async fn a_report_that_may_have_been_taken_is_unknown_past_the_window_not_late() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 3).await;
    emulator
        .control("faults", json!({ "server_errors": 1 }))
        .await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    let uncertain = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE uncertain = 1 AND state = 'pending'",
    )
    .await;
    assert_eq!(uncertain, 1);
    // Nothing is answered for seven hours; then the report is past AWS's window.
    emulator.control("faults", json!({ "outage": true })).await;
    set_clock(&app, &emulator, datetime!(2026-12-01 07:30 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, uncertain FROM marketplace_reports WHERE hour_start = ? ORDER BY id",
    )
    .bind(datetime!(2026-12-01 00:00 UTC).unix_timestamp())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let unknown = states.iter().filter(|(s, _)| s == "unknown").count();
    let late = states.iter().filter(|(s, _)| s == "late").count();
    assert_eq!((unknown, late), (1, states.len() - 1), "{states:?}");
}

/// A TCP gate in front of the emulator: open, it forwards; closed, nothing listens on its
/// port (a connection that cannot be made) and the connections it forwarded are cut.
struct Gate {
    addr: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Gate {
    async fn new(emulator: &Emulator) -> Gate {
        let upstream = emulator.base.trim_start_matches("http://").parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gate = Gate {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Default::default(),
        };
        gate.serve(listener);
        gate
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }

    async fn close(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        // The client sees its pooled connection end before the next call.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            std::net::TcpStream::connect(self.addr).is_err(),
            "still open"
        );
    }

    async fn open(&self) {
        for _ in 0..100 {
            if let Ok(listener) = tokio::net::TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the gate's port could not be bound again");
    }
}

/// A connection that cannot be made reached nothing: the report stays pending (not uncertain)
/// and is retried, and past the window it is late (bill it another way), never unknown.
#[tokio::test]
async fn a_connection_that_cannot_be_made_leaves_the_report_pending_and_retried() {
    let emulator = Emulator::start(true).await;
    let gate = Gate::new(&emulator).await;
    let app = console_with(emulator.settings_via(&gate.url())).await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200);
    let a = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    let dims = AWS_DIMENSIONS.len() as i64;

    gate.close().await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    let tried: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT state, attempts, uncertain FROM marketplace_reports WHERE attempts > 0",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(tried, vec![("pending".to_string(), 1, 0)]);

    // Retried once the connection can be made: every report of the hour accepted.
    gate.open().await;
    set_clock(&app, &emulator, datetime!(2026-12-01 01:05 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'"
        )
        .await,
        dims
    );

    // Closed for longer than the window: the hour is late, not unknown.
    gate.close().await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 02:00 UTC),
        datetime!(2026-12-01 02:00 UTC),
    )
    .await;
    set_clock(&app, &emulator, datetime!(2026-12-01 07:30 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    let hour = datetime!(2026-12-01 01:00 UTC).unix_timestamp();
    let states: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT state FROM marketplace_reports WHERE hour_start = ?")
            .bind(hour)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(states, vec![("late".to_string(),)]);
    assert_eq!(
        emulator.billed().await["aws"].as_array().unwrap().len() as i64,
        dims
    );
}

/// An attempt that may have been billed, then AWS says the timestamp is out of bounds (its
/// clock is ahead of the console's): unknown (it may be billed), never late.
#[tokio::test]
async fn out_of_bounds_after_an_uncertain_attempt_is_unknown_not_late() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 3).await;
    emulator
        .control("faults", json!({ "server_errors": 1 }))
        .await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE uncertain = 1 AND state = 'pending'"
        )
        .await,
        1
    );
    // The console's clock says 05:59 (within the window); AWS's says 06:30.
    app.clock.set(datetime!(2026-12-01 05:59 UTC));
    emulator
        .control(
            "clock",
            json!({ "now": datetime!(2026-12-01 06:30 UTC).unix_timestamp() }),
        )
        .await;
    reporter::run_once(&app.state).await.unwrap();
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, uncertain FROM marketplace_reports WHERE hour_start = ? ORDER BY id",
    )
    .bind(datetime!(2026-12-01 00:00 UTC).unix_timestamp())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let unknown: Vec<_> = states.iter().filter(|(s, _)| s == "unknown").collect();
    assert_eq!(unknown, vec![&("unknown".to_string(), 1)], "{states:?}");
    assert_eq!(
        states.iter().filter(|(s, _)| s == "late").count(),
        states.len() - 1,
        "{states:?}"
    );
    let calls = emulator.billed().await["calls_by_marketplace"]["aws"]
        ["TimestampOutOfBoundsException"]
        .clone();
    assert_eq!(calls.as_i64(), Some(states.len() as i64), "{calls}");
}

/// The console first ran at 00:20: the 00:00 hour's records are dated 00:20, which AWS takes
/// (the emulator refuses usage dated before the software started).
#[tokio::test]
async fn no_record_is_dated_before_the_console_first_ran() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    let started = datetime!(2026-12-01 00:20 UTC).unix_timestamp();
    // The installation record is written at the first start: the console first ran at 00:20.
    sqlx::query("UPDATE installation SET created_at = ?")
        .bind(started)
        .execute(&app.pool)
        .await
        .unwrap();
    emulator
        .control("software", json!({ "started": started }))
        .await;
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let client = at(&app, &emulator, datetime!(2026-12-01 00:20 UTC)).await;
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200);
    let a = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 02:00 UTC),
    )
    .await;
    let dims = AWS_DIMENSIONS.len();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'"
        )
        .await,
        2 * dims as i64
    );
    let billed = emulator.billed().await;
    let mut stamps: Vec<i64> = billed["aws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_f64().unwrap() as i64)
        .collect();
    stamps.sort();
    stamps.dedup();
    assert_eq!(
        stamps,
        vec![started, datetime!(2026-12-01 01:00 UTC).unix_timestamp()]
    );
}

/// The database moved to another host after an attempt that may have been billed: the
/// ClientToken does not cover a resend from another host, so the report is unknown; reports
/// never sent go out from the new host, which each report records.
#[tokio::test]
async fn a_report_that_may_have_been_billed_from_another_host_is_unknown_not_resent() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 3).await;
    app.state
        .marketplace
        .host
        .set("EC2 instance i-0aaaaaaaaaaaaaaaa");
    emulator
        .control("faults", json!({ "server_errors": 1 }))
        .await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    let first: (i64, String, i64) = sqlx::query_as(
        "SELECT id, sent_from, uncertain FROM marketplace_reports WHERE attempts > 0",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(first.1, "EC2 instance i-0aaaaaaaaaaaaaaaa");
    assert_eq!(first.2, 1);

    app.state
        .marketplace
        .host
        .set("EC2 instance i-0bbbbbbbbbbbbbbbb");
    let calls_before = emulator.billed().await["calls_by_marketplace"]["aws"].clone();
    set_clock(&app, &emulator, datetime!(2026-12-01 01:10 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM marketplace_reports WHERE id = ?")
        .bind(first.0)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "unknown");
    let dims = AWS_DIMENSIONS.len() as i64;
    let others: Vec<(String, String)> = sqlx::query_as(
        "SELECT state, sent_from FROM marketplace_reports WHERE id <> ? ORDER BY id",
    )
    .bind(first.0)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(others.len() as i64, dims - 1);
    for (state, host) in &others {
        assert_eq!(
            (state.as_str(), host.as_str()),
            ("accepted", "EC2 instance i-0bbbbbbbbbbbbbbbb")
        );
    }
    // The unknown one was not sent again: only the others were called.
    let calls_after = emulator.billed().await["calls_by_marketplace"]["aws"].clone();
    let accepted = |c: &Value| c["accepted"].as_i64().unwrap_or(0);
    assert_eq!(accepted(&calls_after) - accepted(&calls_before), dims - 1);
    let total = |c: &Value| {
        c.as_object()
            .map_or(0, |o| o.values().filter_map(Value::as_i64).sum::<i64>())
    };
    assert_eq!(total(&calls_after) - total(&calls_before), dims - 1);
}

async fn late_export(app: &TestApp) -> String {
    client_at(app)
        .await
        .get(app.url("/usage/marketplace-late.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Hours an unlinked AWS link never sent, with no new link within the window, are late and
/// exported with the late ones; until then the export lists them as unsent.
#[tokio::test]
async fn unsent_hours_no_link_sends_are_exported() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 3).await;
    emulator.control("faults", json!({ "outage": true })).await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2026-12-01 01:00 UTC),
    )
    .await;
    let client = client_at(&app).await;
    let unlinked = app
        .post_form(&client, "/api/marketplace_unlink", &[("confirm", "unlink")])
        .await;
    assert_eq!(unlinked.status(), 200);
    let dims = AWS_DIMENSIONS.len();
    let listed = late_export(&app).await;
    assert_eq!(listed.lines().count(), 1 + dims, "{listed}");
    assert!(
        listed.lines().skip(1).all(|l| l.ends_with(",unsent")),
        "{listed}"
    );
    // Past the window, no link can send them: late.
    set_clock(&app, &emulator, datetime!(2026-12-01 06:30 UTC)).await;
    reporter::run_once(&app.state).await.unwrap();
    let listed = late_export(&app).await;
    assert_eq!(listed.lines().count(), 1 + dims, "{listed}");
    assert!(
        listed.lines().skip(1).all(|l| l.ends_with(",late")),
        "{listed}"
    );
    assert!(
        listed.contains("2026-12-01 00:00 UTC,aku_hours,AkuMinutes,3,180,"),
        "{listed}"
    );
}

/// Long-term access keys are refused at the link, with the reason. The credentials come from
/// the process's environment, so the check runs in a child process of this test binary that
/// has no session token.
#[tokio::test]
async fn long_term_access_keys_are_refused_at_the_link() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "long_term_key_link_in_child",
            "--ignored",
            "--nocapture",
        ])
        .env(LONG_TERM_CHILD, "1")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
#[ignore = "run by long_term_access_keys_are_refused_at_the_link in a process of its own"]
async fn long_term_key_link_in_child() {
    if std::env::var_os(LONG_TERM_CHILD).is_none() {
        return;
    }
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    assert!(std::env::var_os("AWS_SESSION_TOKEN").is_none());
    let admin = app.admin_client().await;
    assert_eq!(
        app.apply_key(&admin, &payg_key(&app, None)).await.status(),
        200
    );
    let refused = link(
        &app,
        &admin,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let body = error_body(refused).await.to_string();
    assert!(body.contains("long-term access key"), "{body}");
    assert!(body.contains("role"), "{body}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM marketplace_links").await,
        0
    );
    assert_eq!(
        emulator.billed().await["calls_by_marketplace"]["aws"],
        Value::Null,
        "refused before any call"
    );
}

/// Seven AWS dimensions, named as the listing defines them (seed 002's billing items: data
/// in, out and retained, uptime by tier, beside AKU), written here rather than read from the
/// code's table.
const AWS_DIMENSIONS: [&str; 7] = [
    "AkuMinutes",
    "DataInMiB",
    "DataOutMiB",
    "DataRetainedMiBHours",
    "UptimeMinutesDev",
    "UptimeMinutesPro",
    "UptimeMinutesEnterprise",
];

/// The AWS listing as this test suite defines it, independently of the code's table: each
/// ledger dimension, the listing's dimension, and how many listing units one ledger unit is
/// (AKU-hours in AKU-minutes, GiB in MiB, hours in minutes).
const AWS_LISTING: [(&str, &str, u64); 7] = [
    ("aku_hours", "AkuMinutes", 60),
    ("data_in_gib", "DataInMiB", 1024),
    ("data_out_gib", "DataOutMiB", 1024),
    ("data_retained_gib_hours", "DataRetainedMiBHours", 1024),
    ("uptime_hours_dev", "UptimeMinutesDev", 60),
    ("uptime_hours_pro", "UptimeMinutesPro", 60),
    ("uptime_hours_enterprise", "UptimeMinutesEnterprise", 60),
];

/// The quantity billed per dimension for records dated in `[from, to)`.
async fn billed_between(emulator: &Emulator, from: i64, to: i64) -> BTreeMap<String, u64> {
    let billed = emulator.billed().await;
    let mut totals = BTreeMap::new();
    for record in billed["aws"].as_array().unwrap() {
        let t = record["timestamp"].as_f64().unwrap() as i64;
        if t >= from && t < to {
            *totals
                .entry(record["dimension"].as_str().unwrap().to_string())
                .or_default() += record["quantity"].as_u64().unwrap();
        }
    }
    totals
}

/// A cancellation notice (CustomerNotEntitled) does not stop the pass: every closed hour
/// still allowed goes out at once, a report waiting out a back-off too, and those the
/// marketplace refuses stay open (late past the window). The emulator's subscription ends
/// at 01:30: usage dated before it is still taken.
#[tokio::test]
async fn a_cancellation_notice_sends_every_closed_hour_still_allowed_at_once() {
    let emulator = Emulator::start(true).await;
    let (app, _) = linked_with_instance(&emulator, 6).await;
    let end = datetime!(2026-12-01 01:30 UTC).unix_timestamp();
    emulator
        .control(
            "entitlement",
            json!({ "entitled": false, "usage_until": end }),
        )
        .await;
    set_clock(&app, &emulator, datetime!(2026-12-01 03:00 UTC)).await;
    app::server::metering::run_due(&app.state).await.unwrap();
    // One throttled answer: hour 00:00's first report waits out a back-off.
    emulator.control("faults", json!({ "throttle": 1 })).await;
    reporter::run_once(&app.state).await.unwrap();
    let waiting = count(
        &app,
        "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'pending' AND not_before > 0",
    )
    .await;
    assert_eq!(waiting, 1);
    // The next pass, same minute: 00:00's other dimensions and 01:00 are taken; 02:00 (after
    // the end) brings the notice, and the report under back-off is sent at once too.
    let pass = reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'accepted'"
        )
        .await,
        2 * 7,
        "{pass:?}"
    );
    // 02:00's seven reports were each tried once and wait (late past the window).
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'pending' AND hour_start = 1796090400 AND attempts = 1"
        )
        .await,
        7
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_links WHERE entitlement = 'ended'"
        )
        .await,
        1
    );
    // Billed = ledger for the hours before the end: 6 AKU for two whole hours is
    // 6 x 60 x 2 = 720 AKU-minutes (the listing's unit is the minute), and a 6-AKU cluster
    // is in the Dev tier (up to 6 AKU): uptime 2 x 60 minutes there.
    let from = datetime!(2026-12-01 00:00 UTC).unix_timestamp();
    let billed = billed_between(&emulator, from, from + 2 * 3600).await;
    assert_eq!(billed.len(), 7, "{billed:?}");
    for dimension in AWS_DIMENSIONS {
        assert!(billed.contains_key(dimension), "{dimension}: {billed:?}");
    }
    assert_eq!(billed["AkuMinutes"], 720);
    assert_eq!(billed["UptimeMinutesDev"], 120);
    assert_eq!(billed["UptimeMinutesPro"], 0);
    let ledger = ledger_in_market_units(&app, from, from + 2 * 3600).await;
    eprintln!("cancellation: billed {billed:?}, ledger {ledger:?}");
    for (key, want) in ledger {
        assert_eq!(billed[&key], want, "{key}");
    }
    assert_eq!(emulator.billed().await["double_billed"], 0);
}

/// A session's subscription hold (the banner's), as JSON.
async fn banner_hold(app: &TestApp, client: &Client) -> Value {
    let session: Value = app
        .post_form(client, "/api/session", &[])
        .await
        .json()
        .await
        .unwrap();
    session["license"]["subscription"].clone()
}

/// The link grace: a pay-as-you-go key naming a listing must be linked within 72 hours of
/// activation; a banner says so until then; after it creating and scaling up are refused
/// (scaling down is not) and the end is audited once; a link allows growth again. Unlinking
/// starts the grace again, and so do reports refused for lack of permission, until an
/// accepted report. Every transition has its audit entry.
#[tokio::test]
async fn a_listing_bound_license_must_be_linked_within_the_grace() {
    let emulator = Emulator::start(true).await;
    let app = console(&emulator).await;
    app.admin_client().await;
    let t0 = datetime!(2026-12-01 00:00 UTC);
    let grace = 72 * 3600;
    let client = at(&app, &emulator, t0).await;
    let key = payg_key(&app, Some(&format!("aws:{PRODUCT}")));
    assert_eq!(app.apply_key(&client, &key).await.status(), 200);
    let applied: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'license_applied' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        applied.contains("link grace runs (not linked)"),
        "{applied}"
    );

    // Within the grace: a banner, growth allowed.
    let client = at(&app, &emulator, t0 + time::Duration::hours(1)).await;
    let hold = banner_hold(&app, &client).await;
    assert_eq!(hold["LinkDue"]["reason"], "NotLinked", "{hold}");
    assert_eq!(hold["LinkDue"]["deadline"], t0.unix_timestamp() + grace);
    let a = created(&app, &client, "alpha", 6).await;
    settle(&app, a, "running").await;
    let page = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"subscription-banner\""));
    assert!(
        page.contains("link it on the Marketplace page before"),
        "banner text"
    );

    // One minute before the end: still allowed. At the end: refused, with the reason.
    let client = at(&app, &emulator, t0 + time::Duration::seconds(grace - 60)).await;
    let b = created(&app, &client, "beta", 6).await;
    settle(&app, b, "running").await;
    let client = at(&app, &emulator, t0 + time::Duration::seconds(grace)).await;
    let refused = create(&app, &client, "gamma", 3).await;
    assert_eq!(refused.status(), 409);
    let why = refused.text().await.unwrap();
    assert!(why.contains("has not been linked"), "{why}");
    let up = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &a.to_string()), ("size_aku", "12")],
        )
        .await;
    assert_eq!(up.status(), 409);
    let down = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &b.to_string()), ("size_aku", "5")],
        )
        .await;
    assert_eq!(down.status(), 200);
    settle(&app, b, "running").await;
    assert_eq!(
        banner_hold(&app, &client).await["LinkOverdue"]["reason"],
        "NotLinked"
    );
    // The end is audited once, however often the watcher looks; instances keep running.
    for _ in 0..2 {
        app::server::instances::follow_license(&app.state)
            .await
            .unwrap();
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_link_grace_ended'"
        )
        .await,
        1
    );
    assert_eq!(instance_state(&app, a).await, "running");

    // Linked: growth allowed again, the banner gone.
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200);
    let linked_detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'marketplace_link' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        linked_detail.contains("this ends the link grace"),
        "{linked_detail}"
    );
    assert_eq!(banner_hold(&app, &client).await, Value::Null);
    let c = created(&app, &client, "gamma", 3).await;
    settle(&app, c, "running").await;

    // Unlinking starts the grace again, from the unlink.
    let t1 = t0 + time::Duration::hours(100);
    let client = at(&app, &emulator, t1).await;
    let unlinked = app
        .post_form(&client, "/api/marketplace_unlink", &[("confirm", "unlink")])
        .await;
    assert_eq!(unlinked.status(), 200, "{}", unlinked.text().await.unwrap());
    let unlink_detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'marketplace_unlink' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        unlink_detail.contains("link grace runs (unlinked)"),
        "{unlink_detail}"
    );
    let hold = banner_hold(&app, &client).await;
    assert_eq!(hold["LinkDue"]["reason"], "Unlinked", "{hold}");
    assert_eq!(hold["LinkDue"]["deadline"], t1.unix_timestamp() + grace);
    let d = created(&app, &client, "delta", 3).await;
    settle(&app, d, "running").await;
    let client = at(&app, &emulator, t1 + time::Duration::seconds(grace)).await;
    let refused = create(&app, &client, "epsilon", 3).await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("link to it was removed"));
    let relinked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(relinked.status(), 200);
    let e = created(&app, &client, "epsilon", 3).await;
    settle(&app, e, "running").await;

    // The host's role loses MeterUsage: the first refused report starts the grace (audited);
    // after it growth is refused; an accepted report ends it (audited).
    let t2 = t1 + time::Duration::seconds(grace) + time::Duration::hours(1);
    emulator
        .control("permission", json!({ "granted": false }))
        .await;
    set_clock(&app, &emulator, t2).await;
    app::server::metering::run_due(&app.state).await.unwrap();
    reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_permission_denied'"
        )
        .await,
        1
    );
    let client = at(&app, &emulator, t2 + time::Duration::hours(1)).await;
    assert_eq!(
        banner_hold(&app, &client).await["LinkDue"]["reason"],
        "PermissionDenied"
    );
    let z = created(&app, &client, "zeta", 3).await;
    settle(&app, z, "running").await;
    let client = at(&app, &emulator, t2 + time::Duration::seconds(grace)).await;
    let refused = create(&app, &client, "eta", 3).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("lack of permission"));
    emulator
        .control("permission", json!({ "granted": true }))
        .await;
    // Reports are sent again (those past AWS's window are late) and one is accepted.
    let t3 = t2 + time::Duration::seconds(grace) + time::Duration::hours(1);
    set_clock(&app, &emulator, t3).await;
    app::server::metering::run_due(&app.state).await.unwrap();
    reporter::run_once(&app.state).await.unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace_permission_restored'"
        )
        .await,
        1
    );
    let client = at(&app, &emulator, t3).await;
    assert_eq!(banner_hold(&app, &client).await, Value::Null);
    let h = created(&app, &client, "eta", 3).await;
    settle(&app, h, "running").await;
}

/// An emulator whose AWS listing has exactly `dimensions` (written in the test).
async fn emulator_with_dimensions(dimensions: &[&str]) -> Emulator {
    let mut aws = marketplace_emulator::AwsAccount::new(AWS_KEY, AWS_SECRET);
    aws.session_token = Some(AWS_SESSION.into());
    let config = marketplace_emulator::Config {
        aws: vec![aws],
        aws_product_code: PRODUCT.into(),
        aws_dimensions: dimensions.iter().map(|d| d.to_string()).collect(),
        ..marketplace_emulator::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(marketplace_emulator::serve(listener, config));
    Emulator {
        base,
        http: Client::new(),
    }
}

/// Seed 002's automatic tiered pricing on data in, out and retention, as a key states it
/// (ledger units: GiB, GiB-hours, AKU-hours; `from` is the month's cumulative quantity).
const TEST_TIERS: &[(&str, &[(u64, &str)])] = &[
    ("aku_hours", &[(0, "0.10")]),
    ("data_in_gib", &[(0, "0.08"), (500, "0.05"), (2000, "0.03")]),
    ("data_out_gib", &[(0, "0.05"), (1000, "0.02")]),
    (
        "data_retained_gib_hours",
        &[(0, "0.0002"), (100_000, "0.0001")],
    ),
];

/// The listing's units per ledger unit, from the listing's definition (minutes, MiB).
fn units_per_ledger_unit(ledger: &str) -> Decimal {
    match ledger {
        "aku_hours" => Decimal::from(60),
        "data_in_gib" | "data_out_gib" | "data_retained_gib_hours" => Decimal::from(1024),
        other => panic!("{other} is not priced in this test"),
    }
}

/// Tiers the marketplace can bill (AWS): a month whose data in, out and retained cross tier
/// bounds is reported as one dimension per tier, and at the listing's flat price per tier
/// dimension (the tier's price over the unit factor) the marketplace's amount equals the
/// console's estimate to the cent. Everything expected is computed here from the tiers
/// above and the units, not from the code's tables.
#[tokio::test]
async fn a_month_with_tier_crossings_bills_on_aws_what_the_console_estimates() {
    let dimensions = [
        "AkuMinutes",
        "DataInMiBTier1",
        "DataInMiBTier2",
        "DataInMiBTier3",
        "DataOutMiBTier1",
        "DataOutMiBTier2",
        "DataRetainedMiBHoursTier1",
        "DataRetainedMiBHoursTier2",
        "UptimeMinutesDev",
        "UptimeMinutesPro",
        "UptimeMinutesEnterprise",
    ];
    let emulator = emulator_with_dimensions(&dimensions).await;
    let app = console(&emulator).await;
    let admin = app.admin_client().await;
    let pricing = Pricing {
        currency: "USD".into(),
        dimensions: TEST_TIERS
            .iter()
            .map(|(dimension, tiers)| DimensionPrice {
                dimension: dimension.to_string(),
                tiers: tiers
                    .iter()
                    .map(|(from, price)| PriceTier {
                        from_quantity: *from,
                        unit_price: Decimal::from_str(price).unwrap(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let key = product_key(&app, |p| {
        p.billing = BillingModel::Payg;
        p.aku_quota = Some(200);
        p.pricing = Some(pricing.clone());
        p.listing = Some(Listing::parse(&format!("aws:{PRODUCT}")).unwrap());
    });
    assert_eq!(app.apply_key(&admin, &key).await.status(), 200);
    let client = at(&app, &emulator, datetime!(2026-12-01 00:00 UTC)).await;
    let linked = link(
        &app,
        &client,
        &[("marketplace", "aws"), ("listing", PRODUCT)],
    )
    .await;
    assert_eq!(linked.status(), 200, "{}", linked.text().await.unwrap());
    let a = created(&app, &client, "alpha", 3).await;
    settle(&app, a, "running").await;
    run_hours(
        &app,
        &emulator,
        datetime!(2026-12-01 01:00 UTC),
        datetime!(2027-01-01 01:00 UTC),
    )
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM marketplace_reports WHERE state <> 'accepted'"
        )
        .await,
        0
    );

    // The ledger's month totals per ledger dimension.
    let december = (
        datetime!(2026-12-01 00:00 UTC).unix_timestamp(),
        datetime!(2027-01-01 00:00 UTC).unix_timestamp(),
    );
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT dimension, quantity FROM usage_ledger WHERE hour_start >= ? AND hour_start < ?",
    )
    .bind(december.0)
    .bind(december.1)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
    for (dimension, quantity) in rows {
        *ledger.entry(dimension).or_default() += Decimal::from_str(&quantity).unwrap();
    }
    let billed = billed_between(&emulator, december.0, december.1).await;
    let half_up = |d: Decimal| {
        d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    let cents = |d: Decimal| {
        d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    let base_keys = [
        ("aku_hours", "AkuMinutes"),
        ("data_in_gib", "DataInMiB"),
        ("data_out_gib", "DataOutMiB"),
        ("data_retained_gib_hours", "DataRetainedMiBHours"),
    ];
    let mut console_estimate = Decimal::ZERO;
    let mut marketplace_amount = Decimal::ZERO;
    let mut crossings = 0;
    for (ledger_dim, tiers) in TEST_TIERS {
        let total = ledger.get(*ledger_dim).copied().unwrap_or_default();
        let factor = units_per_ledger_unit(ledger_dim);
        let base = base_keys.iter().find(|(l, _)| l == ledger_dim).unwrap().1;
        let mut estimate = Decimal::ZERO;
        let mut amount = Decimal::ZERO;
        for (i, (from, price)) in tiers.iter().enumerate() {
            let price = Decimal::from_str(price).unwrap();
            let low = Decimal::from(*from);
            let high = tiers.get(i + 1).map(|(f, _)| Decimal::from(*f));
            let in_tier = (high.map_or(total, |h| total.min(h)) - low).max(Decimal::ZERO);
            if in_tier > Decimal::ZERO && i > 0 {
                crossings += 1;
            }
            estimate += in_tier * price;
            let key = if tiers.len() == 1 {
                base.to_string()
            } else {
                format!("{base}Tier{}", i + 1)
            };
            let want_units = half_up(in_tier * factor);
            let got = Decimal::from(billed.get(&key).copied().unwrap_or(0));
            eprintln!(
                "tiers: {key}: billed {got}, ledger {in_tier} x {factor} = {}",
                in_tier * factor
            );
            assert_eq!(got, want_units, "{key}");
            amount += got * price / factor;
        }
        console_estimate += cents(estimate);
        marketplace_amount += cents(amount);
    }
    assert!(crossings >= 3, "the month must cross tiers ({crossings})");
    eprintln!(
        "tiers: marketplace amount {marketplace_amount}, console estimate {console_estimate}"
    );
    assert_eq!(marketplace_amount, console_estimate);

    // The usage page shows both, equal.
    let client = client_at(&app).await;
    let usage: Value = app
        .post_form(&client, "/api/usage", &[("month", "2026-12")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        Decimal::from_str(usage["total_charge"].as_str().unwrap()).unwrap(),
        console_estimate,
        "{}",
        usage["charges"]
    );
    assert_eq!(
        Decimal::from_str(usage["marketplace"]["amount"].as_str().unwrap()).unwrap(),
        marketplace_amount
    );
    let page = client
        .get(app.url("/usage?month=2026-12"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-testid=\"marketplace-amount\""),
        "amount not shown"
    );
    // The Marketplace page lists each tier dimension with the flat price the listing must
    // set: the tier's price over 1024 MiB per GiB (0.05 / 1024 for data in's second tier).
    let data: Value = app
        .post_form(&client, "/api/marketplace", &[])
        .await
        .json()
        .await
        .unwrap();
    let tier2 = data["aws_mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "DataInMiBTier2")
        .unwrap()
        .clone();
    assert_eq!(
        Decimal::from_str(tier2["listing_price"].as_str().unwrap()).unwrap(),
        Decimal::from_str("0.05").unwrap() / Decimal::from(1024)
    );
}

/// Alibaba has no idempotency key: a console killed with SIGKILL while Compute Nest holds the
/// answer to a push it has already billed leaves those hours `unknown` after the restart, and
/// they are never pushed again on its own; every hour is billed exactly once, none lost.
#[tokio::test]
async fn alibaba_sigkill_mid_push_leaves_the_hours_unknown_never_pushed_twice() {
    use common::console_process::activated_with;
    use std::os::unix::fs::PermissionsExt;
    host_credentials();
    let emulator = Emulator::start(true).await;
    let alibaba = format!("{}/alibaba", emulator.base);
    let flags: Vec<String> = [
        "--provisioner",
        "simulated",
        "--marketplace-alibaba-endpoint",
        &alibaba,
        "--marketplace-alibaba-push-seconds",
        "0",
        "--marketplace-report-seconds",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let listing = format!("alibaba:{SERVICE_ID}");
    let key = [
        "--billing",
        "payg",
        "--aku",
        "100",
        "--months",
        "12",
        "--price",
        "aku_hours:0=0.10",
        "--listing",
        &listing,
    ];
    let mut console = activated_with(&flags, &key).await;
    let dir = console.data.join("marketplace");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alibaba-service-key"), SERVICE_KEY).unwrap();
    std::fs::set_permissions(
        dir.join("alibaba-service-key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        console.data.join("console.db").display()
    ))
    .await
    .unwrap();
    let created = console
        .client
        .post(format!("{}/api/instance_create", console.base))
        .form(&instance_form("alpha", 6, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let instance: i64 = created.json().await.unwrap();
    // Three closed hours of 6 AKU in the ledger, and the mark that says they are metered.
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let current = now - now.rem_euclid(3600);
    let license_id: String = sqlx::query_scalar("SELECT license_id FROM license_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    for k in 1..=3 {
        let hour = current - k * 3600;
        sqlx::query(
            "INSERT INTO usage_ledger (record_id, instance_id, hour_start, dimension, quantity, license_id, recorded_at)
             VALUES (?, ?, ?, 'aku_hours', '6', ?, ?)",
        )
        .bind(format!("seed-{hour}"))
        .bind(instance)
        .bind(hour)
        .bind(&license_id)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT OR REPLACE INTO metering_progress (id, metered_until) VALUES (1, ?)")
        .bind(current)
        .execute(&pool)
        .await
        .unwrap();
    // Compute Nest bills the push, then holds its answer.
    emulator
        .control("faults", json!({ "delay_ms": 2000 }))
        .await;
    let linked = console
        .client
        .post(format!("{}/api/marketplace_link", console.base))
        .form(&[("marketplace", "alibaba"), ("listing", SERVICE_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200, "{}", linked.text().await.unwrap());
    let started = std::time::Instant::now();
    while emulator.billed().await["alibaba"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "never pushed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    console.kill();
    emulator.control("faults", json!({ "delay_ms": 0 })).await;
    console.restart(&flags).await;
    let seeded = current - 3 * 3600;
    let unknown = format!(
        "SELECT COUNT(*) FROM marketplace_reports WHERE state = 'unknown' AND hour_start >= {seeded} AND hour_start < {current}"
    );
    let started = std::time::Instant::now();
    while sqlx::query_scalar::<_, i64>(&unknown)
        .fetch_one(&pool)
        .await
        .unwrap()
        < 3
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "not unknown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Several more passes: nothing is pushed again.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    console.kill();
    let billed = emulator.billed().await;
    let entries: Vec<&Value> = billed["alibaba"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let t = e["start_time"].as_i64().unwrap();
            t >= seeded && t < current
        })
        .collect();
    // Each hour billed once: 6 AKU x 3600 AKU-seconds.
    assert_eq!(entries.len(), 3, "{billed}");
    for entry in &entries {
        assert_eq!(entry["value"].as_u64().unwrap(), 6 * 3600);
    }
    assert_eq!(billed["double_billed"], 0);
    println!("alibaba after a SIGKILL mid-push: {}", billed["calls"]);
}
