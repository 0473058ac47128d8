//! Pay-as-you-go metering through the real console: a controllable clock runs a month of hours
//! with a scale and a delete in between; the ledger totals equal hand-computed figures, the
//! charge follows the key's tiers, the exports parse back to the same totals, and metering an
//! hour twice (or after the console was down) adds nothing twice and misses nothing.

use crate::common::*;
use app::domain::license::{BillingModel, DimensionPrice, PriceTier, Pricing};
use app::domain::Decimal;
use reqwest::Client;
use serde_json::Value;
use std::collections::HashMap;
use time::macros::datetime;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn tiers(spec: &[(u64, &str)]) -> Vec<PriceTier> {
    spec.iter()
        .map(|(from, price)| PriceTier {
            from_quantity: *from,
            unit_price: d(price),
        })
        .collect()
}

/// A payg key, capped at 200 AKU: AKU-hours 0.10 up to 5000 then 0.08; data in 0.01/GiB.
fn payg_key(app: &TestApp) -> String {
    product_key(app, |p| {
        p.billing = BillingModel::Payg;
        p.aku_quota = Some(200);
        p.pricing = Some(Pricing {
            currency: "USD".into(),
            dimensions: vec![
                DimensionPrice {
                    dimension: "aku_hours".into(),
                    tiers: tiers(&[(0, "0.10"), (5000, "0.08")]),
                },
                DimensionPrice {
                    dimension: "data_in_gib".into(),
                    tiers: tiers(&[(0, "0.01")]),
                },
            ],
        });
    })
}

async fn at(app: &TestApp, t: time::OffsetDateTime) -> Client {
    app.clock.set(t);
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    client
}

async fn settle(app: &TestApp, client: &Client, id: i64, state: &str) {
    for _ in 0..200 {
        let d: Value = app
            .post_form(client, "/api/instance", &[("id", &id.to_string())])
            .await
            .json()
            .await
            .unwrap();
        if d["summary"]["state"] == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("instance {id} never {state}");
}

async fn create(app: &TestApp, client: &Client, name: &str, size: u32) -> i64 {
    let response = client
        .post(app.url("/api/instance_create"))
        .form(&instance_form(name, size, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json().await.unwrap();
    settle(app, client, id, "running").await;
    id
}

/// Sums of the ledger per dimension.
async fn ledger_totals(app: &TestApp) -> HashMap<String, Decimal> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT dimension, quantity FROM usage_ledger")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut totals = HashMap::new();
    for (dimension, quantity) in rows {
        *totals.entry(dimension).or_insert(Decimal::ZERO) += d(&quantity);
    }
    totals
}

#[tokio::test]
async fn a_month_of_hours_with_a_scale_and_a_delete() {
    let app = spawn_app().await;
    let admin = app.admin_client().await;
    assert_eq!(app.apply_key(&admin, &payg_key(&app)).await.status(), 200);

    let client = at(&app, datetime!(2026-12-01 00:00 UTC)).await;
    let a = create(&app, &client, "alpha", 6).await;
    let b = create(&app, &client, "beta", 3).await;
    let client = at(&app, datetime!(2026-12-10 08:20 UTC)).await;
    let scaled = app
        .post_form(
            &client,
            "/api/instance_scale",
            &[("id", &a.to_string()), ("size_aku", "12")],
        )
        .await;
    assert_eq!(scaled.status(), 200);
    settle(&app, &client, a, "running").await;
    let client = at(&app, datetime!(2026-12-20 16:30 UTC)).await;
    let deleted = app
        .post_form(
            &client,
            "/api/instance_delete",
            &[("id", &a.to_string()), ("confirm_name", "alpha")],
        )
        .await;
    assert_eq!(deleted.status(), 200);
    settle(&app, &client, a, "deleted").await;

    let client = at(&app, datetime!(2027-01-01 00:00 UTC)).await;
    let report = app::server::metering::run_due(&app.state).await.unwrap();
    assert_eq!(
        report.hours,
        31 * 24,
        "every hour of December, from the first instance on"
    );

    // By hand: alpha 6 AKU for 224 h 20 min, then 12 AKU for 248 h 10 min; beta 3 AKU all
    // 744 hours of December.
    let alpha = d("6") * (d("224") + d("20") / d("60")) + d("12") * (d("248") + d("10") / d("60"));
    assert_eq!(alpha, d("4324"));
    let beta = d("3") * d("744");
    let totals = ledger_totals(&app).await;
    assert_eq!(totals["aku_hours"], alpha + beta);
    assert_eq!(totals["uptime_hours_dev"].round_dp(4), d("968.3333"));
    assert_eq!(totals["uptime_hours_pro"].round_dp(4), d("248.1667"));
    // Data in: the simulated load of each hour, for the billed part of it.
    let mut expected_in = Decimal::ZERO;
    let gib = Decimal::from(1u64 << 30);
    for hour in (datetime!(2026-12-01 00:00 UTC).unix_timestamp()
        ..datetime!(2027-01-01 00:00 UTC).unix_timestamp())
        .step_by(3600)
    {
        let beta_in = app::server::provisioner::simulated_traffic(b, 3, hour).bytes_in;
        expected_in += Decimal::from(beta_in) / gib;
        let alpha_size = if hour < datetime!(2026-12-10 08:00 UTC).unix_timestamp() {
            Some((6, d("1")))
        } else if hour < datetime!(2026-12-20 16:00 UTC).unix_timestamp() {
            // From the hour of the scale (08:00, all 60 minutes billed) on: the larger size.
            Some((12, d("1")))
        } else if hour == datetime!(2026-12-20 16:00 UTC).unix_timestamp() {
            Some((12, d("0.5"))) // deleted at :30
        } else {
            None
        };
        if let Some((size, part)) = alpha_size {
            let alpha_in = app::server::provisioner::simulated_traffic(a, size, hour).bytes_in;
            expected_in += Decimal::from(alpha_in) / gib * part;
        }
    }
    assert_eq!(totals["data_in_gib"], expected_in);

    // Metering the same hours again adds nothing.
    let records = app.count("SELECT COUNT(*) FROM usage_ledger").await;
    assert_eq!(
        app::server::metering::run_due(&app.state)
            .await
            .unwrap()
            .records,
        0
    );
    sqlx::query("DELETE FROM metering_progress")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = app::server::metering::run_due(&app.state).await.unwrap();
    assert_eq!(again.records, 0, "every hour metered again, nothing added");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_ledger").await,
        records
    );

    // The page: totals and the tiered charge.
    let usage: Value = app
        .post_form(&client, "/api/usage", &[("month", "2026-12")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["totals"]["aku_hours"], "6556.00");
    assert_eq!(usage["includes_current_hour"], false);
    // Retained: beta 300 GiB for 744 h; alpha 600 GiB for 224 h, then 1200 GiB for 248.5 h
    // (the hour of the scale counts at the larger size): 655,800 GiB-hours over 744 hours.
    assert_eq!(usage["totals"]["data_retained_gib_avg"], "881.45");
    let aku_charge = usage["charges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dimension"] == "aku_hours")
        .unwrap()
        .clone();
    // 5000 at 0.10 + 1556 at 0.08.
    assert_eq!(aku_charge["amount"], "624.48");
    assert_eq!(aku_charge["tiers"].as_array().unwrap().len(), 2);
    let in_charge = (expected_in * d("0.01"))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let total = d("624.48") + in_charge;
    assert_eq!(usage["total_charge"], format!("{total:.2}"));
    assert_eq!(usage["daily_aku_hours"].as_array().unwrap().len(), 31);
    assert_eq!(usage["daily_aku_hours"][0][1], 216.0, "day 1: (6 + 3) × 24");

    // The CSV export parses back to the same totals, one record per instance, hour and
    // dimension, with stable ids.
    let csv = client
        .get(app.url("/usage.csv?month=2026-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut from_csv: HashMap<String, Decimal> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let mut n = 0;
    for record in reader.deserialize::<HashMap<String, String>>() {
        let record = record.unwrap();
        *from_csv
            .entry(record["dimension"].clone())
            .or_insert(Decimal::ZERO) += d(&record["quantity"]);
        assert!(
            ids.insert(record["record_id"].clone()),
            "record ids are unique"
        );
        assert_eq!(record["license_id"], "LIC-TEST-1");
        assert_eq!(record["customer"], "Acme");
        assert!(record["hour_start"].starts_with("2026-12-"));
        n += 1;
    }
    assert_eq!(n, records);
    assert_eq!(from_csv, totals);
    let json: Value = client
        .get(app.url("/usage.json?month=2026-12"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["records"].as_array().unwrap().len() as i64, records);
    let again = client
        .get(app.url("/usage.csv?month=2026-12"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again, text, "the same export twice: the same ids");
    // Bad month, and signed out.
    let bad = app
        .post_form(&client, "/api/usage", &[("month", "2026-13")])
        .await;
    assert_eq!(error_body(bad).await["Invalid"]["field"], "month");
    assert_eq!(
        app.client()
            .get(app.url("/usage.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn hours_missed_while_the_console_was_down_are_back_filled_once() {
    let app = spawn_app().await;
    let admin = app.admin_client().await;
    assert_eq!(app.apply_key(&admin, &payg_key(&app)).await.status(), 200);
    let client = at(&app, datetime!(2026-11-23 10:00 UTC)).await;
    let id = create(&app, &client, "orders", 4).await;

    app.clock.set(datetime!(2026-11-23 13:30 UTC));
    assert_eq!(
        app::server::metering::run_due(&app.state)
            .await
            .unwrap()
            .hours,
        3
    );
    // Down for two days (no metering runs), then up again.
    app.clock.set(datetime!(2026-11-25 13:59 UTC));
    let report = app::server::metering::run_due(&app.state).await.unwrap();
    assert_eq!(report.hours, 48);
    let totals = ledger_totals(&app).await;
    assert_eq!(totals["aku_hours"], d("4") * d("51"));
    let per_hour = app
        .count("SELECT COUNT(*) FROM (SELECT hour_start FROM usage_ledger WHERE dimension = 'aku_hours' GROUP BY hour_start HAVING COUNT(*) = 1)")
        .await;
    assert_eq!(per_hour, 51, "each hour exactly once");

    // The page adds the hour under way (13:00 to 13:59 so far), not yet in the ledger.
    let client = at(&app, datetime!(2026-11-25 13:59 UTC)).await;
    let usage: Value = app
        .post_form(&client, "/api/usage", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["month"], "2026-11");
    assert_eq!(usage["includes_current_hour"], true);
    // 51 hours + 59 minutes of 4 AKU.
    assert_eq!(usage["totals"]["aku_hours"], "207.93");
    let _ = id;
}

#[tokio::test]
async fn prepaid_shows_usage_against_the_quota_without_charges() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await; // prepaid, 100 AKU
    let _ = create(&app, &admin, "orders", 10).await;
    app.clock.set(datetime!(2026-11-22 22:00 UTC));
    app::server::metering::run_due(&app.state).await.unwrap();
    let client = at(&app, datetime!(2026-11-22 22:00 UTC)).await;
    let usage: Value = app
        .post_form(&client, "/api/usage", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["total_charge"], Value::Null);
    assert!(usage["charges"].as_array().unwrap().is_empty());
    assert_eq!(usage["totals"]["aku_hours"], "100.00");
    assert_eq!(usage["licensed_aku"], 100);
}

/// The usage page shows its rows (day and instance) a page at a time, with the position in
/// the URL; the totals still cover the whole month, and a position the console did not write
/// is refused by name.
#[tokio::test]
async fn the_usage_rows_come_a_page_at_a_time_and_the_totals_cover_the_month() {
    let app = spawn_app().await;
    let admin = app.admin_client().await;
    assert_eq!(app.apply_key(&admin, &payg_key(&app)).await.status(), 200);
    let client = at(&app, datetime!(2027-01-05 00:00 UTC)).await;
    for i in 0..10 {
        create(&app, &client, &format!("inst-{i:02}"), 3).await;
    }
    // One AKU-hour per instance and day of December: 10 × 31 = 310 rows of the page.
    sqlx::query(
        "WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 30)
         INSERT INTO usage_ledger (record_id, instance_id, hour_start, dimension, quantity,
                                   license_id, recorded_at)
         SELECT 'r-' || i.id || '-' || day.n, i.id, 1796083200 + day.n * 86400, 'aku_hours', '1',
                NULL, 0
         FROM instances i, day",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let page = |rows_after: String| {
        let (app, client) = (&app, &client);
        async move {
            let response = app
                .post_form(
                    client,
                    "/api/usage",
                    &[("month", "2026-12"), ("rows_after", &rows_after)],
                )
                .await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let first = page(String::new()).await;
    assert_eq!(first["rows"].as_array().unwrap().len(), 200);
    assert_eq!(first["rows_total"], 310);
    assert_eq!(
        first["totals"]["aku_hours"], "310.00",
        "the totals cover every row"
    );
    assert_eq!(first["rows_after"], Value::Null);
    let next = first["next_rows"].as_str().unwrap().to_string();
    let second = page(next.clone()).await;
    assert_eq!(second["rows"].as_array().unwrap().len(), 110);
    assert_eq!(second["next_rows"], Value::Null, "the last page");
    assert_eq!(second["rows_after"], next);
    let key = |r: &Value| {
        (
            r["day"].as_str().unwrap().to_string(),
            r["instance"].as_str().unwrap().to_string(),
        )
    };
    let all: Vec<(String, String)> = first["rows"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["rows"].as_array().unwrap())
        .map(key)
        .collect();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "in (day, instance) order, none twice"
    );
    assert_eq!(all.len(), 310);
    assert_eq!(all[0], ("2026-12-01".to_string(), "inst-00".to_string()));

    for bad in ["yesterday", "86400", "123.inst-00", ".inst-00"] {
        let refused = app
            .post_form(
                &client,
                "/api/usage",
                &[("month", "2026-12"), ("rows_after", bad)],
            )
            .await;
        assert_eq!(
            error_body(refused).await["Invalid"]["field"],
            "rows_after",
            "{bad}"
        );
    }
}
