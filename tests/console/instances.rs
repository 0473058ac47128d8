//! Kafka instances through HTTP on a real SQLite file: create, scale, delete, retry, every
//! validation error, the quota rule (also under a race of concurrent creates), the license
//! states, and roles.

use crate::common::*;
use reqwest::{Client, Response};
use serde_json::Value;
use std::time::Duration;

async fn create(app: &TestApp, client: &Client, fields: &[(&'static str, String)]) -> Response {
    client
        .post(app.url("/api/instance_create"))
        .form(fields)
        .send()
        .await
        .expect("request")
}

/// Creates an instance and returns its id (asserting success).
async fn create_ok(app: &TestApp, client: &Client, name: &str, size: u32) -> i64 {
    let response = create(app, client, &instance_form(name, size, &[])).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn detail(app: &TestApp, client: &Client, id: i64) -> Value {
    let response = app
        .post_form(client, "/api/instance", &[("id", &id.to_string())])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls the instance until it is in `state` (the simulated steps take 5 ms here).
async fn wait_for(app: &TestApp, client: &Client, id: i64, state: &str) -> Value {
    for _ in 0..400 {
        let d = detail(app, client, id).await;
        if d["summary"]["state"] == state {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "instance {id} never became {state}: {}",
        detail(app, client, id).await
    );
}

async fn list(app: &TestApp, client: &Client) -> Value {
    let response = app.post_form(client, "/api/instances", &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn scale(app: &TestApp, client: &Client, id: i64, size: u32) -> Response {
    app.post_form(
        client,
        "/api/instance_scale",
        &[("id", &id.to_string()), ("size_aku", &size.to_string())],
    )
    .await
}

async fn delete(app: &TestApp, client: &Client, id: i64, confirm: &str) -> Response {
    app.post_form(
        client,
        "/api/instance_delete",
        &[("id", &id.to_string()), ("confirm_name", confirm)],
    )
    .await
}

async fn invalid(response: Response) -> (String, String) {
    assert_eq!(response.status(), 422);
    let body = error_body(response).await;
    (
        body["Invalid"]["field"].as_str().unwrap().to_string(),
        body["Invalid"]["message"].as_str().unwrap().to_string(),
    )
}

async fn conflict(response: Response) -> String {
    assert_eq!(response.status(), 409);
    error_body(response).await["Conflict"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn create_runs_every_step_and_publishes_a_bootstrap_address() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let id = create_ok(&app, &client, "orders", 6).await;

    let d = wait_for(&app, &client, id, "running").await;
    assert_eq!(d["summary"]["size_aku"], 6);
    assert_eq!(
        d["summary"]["zones"],
        serde_json::json!(["eu-central-1a", "eu-central-1b", "eu-central-1c"])
    );
    assert_eq!(
        d["summary"]["bootstrap"],
        "orders.vpc-0a1b2c3d.kafka.internal:9093"
    );
    assert_eq!(d["capacity"], serde_json::json!([180, 360]));
    assert_eq!(d["tags"], serde_json::json!([["team", "payments"]]));
    let ops = d["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["kind"], "create");
    assert_eq!(ops[0]["status"], "succeeded");
    assert_eq!(ops[0]["requested_by"], ADMIN);
    let steps = d["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    assert!(steps
        .iter()
        .all(|s| s["status"] == "done" && s["attempts"] == 1));

    let listed = list(&app, &client).await;
    assert_eq!(listed["quota"]["used_aku"], 6);
    assert_eq!(listed["quota"]["quota"], 100);
    assert_eq!(listed["instances"][0]["name"], "orders");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'instance_create' AND outcome = 'success' AND target = 'orders'")
            .await,
        1
    );
    // The state history metering will read: created, then running.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM instance_history WHERE instance_id = 1")
            .await,
        2
    );
}

#[tokio::test]
async fn every_invalid_field_is_refused_by_name_and_nothing_is_created() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let cases: &[(&str, &str, &str)] = &[
        ("name", "Orders", "lowercase"),
        ("name", "ab", "3 to 64"),
        ("description", &"x".repeat(300), "at most 256"),
        ("kafka_version", "2.8.0", "Kafka version"),
        ("deployment", "two_zones", "deployment"),
        ("vpc_id", "my vpc", "vpc-"),
        ("subnet_1", "", "required"),
        ("subnet_3", "subnet-0000aaaa", "own subnet"),
        ("data_bucket", "Bad_Bucket", "Data bucket"),
        ("wal_mode", "tape", "write-ahead-log"),
        ("client_auth", "kerberos", "client authentication"),
        ("transit_encryption", "ssl", "transit encryption"),
        ("endpoint_exposure", "moon", "endpoint exposure"),
        ("tags", "no-equals-sign", "key=value"),
        ("size_aku", "2", "at least 3"),
        ("size_aku", "501", "at most 500"),
        ("size_aku", "many", "whole number"),
    ];
    for (field, value, words) in cases {
        let response = create(
            &app,
            &client,
            &instance_form("orders", 6, &[(field, value)]),
        )
        .await;
        let (named, message) = invalid(response).await;
        assert_eq!(&named, field, "{field}={value}: {message}");
        assert!(message.contains(words), "{field}={value}: {message}");
    }
    // Combinations that cannot work are refused too.
    let response = create(
        &app,
        &client,
        &instance_form(
            "orders",
            6,
            &[
                ("endpoint_exposure", "internet"),
                ("client_auth", "anonymous"),
            ],
        ),
    )
    .await;
    assert_eq!(invalid(response).await.0, "client_auth");
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM operations").await, 0);

    // A name in use is refused; the license's per-instance maximum applies.
    create_ok(&app, &client, "orders", 6).await;
    let (field, message) =
        invalid(create(&app, &client, &instance_form("orders", 6, &[])).await).await;
    assert_eq!(field, "name");
    assert!(message.contains("exists already"), "{message}");
}

#[tokio::test]
async fn the_license_per_instance_maximum_bounds_the_size() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    let key = product_key(&app, |p| p.max_aku_per_instance = 32);
    assert_eq!(app.apply_key(&client, &key).await.status(), 200);
    let (field, message) =
        invalid(create(&app, &client, &instance_form("big", 40, &[])).await).await;
    assert_eq!(field, "size_aku");
    assert!(message.contains("at most 32 AKU"), "{message}");
}

#[tokio::test]
async fn over_the_quota_is_refused_with_the_exact_shortfall() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await; // 100 AKU
    create_ok(&app, &client, "first", 60).await;
    let (field, message) =
        invalid(create(&app, &client, &instance_form("second", 50, &[])).await).await;
    assert_eq!(field, "size_aku");
    assert!(
        message.contains("needs 50 AKU, 40 left of 100"),
        "{message}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'instance_create' AND outcome = 'refused'")
            .await,
        1
    );
    // Exactly what is left still fits.
    create_ok(&app, &client, "second", 40).await;
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 100);
}

#[tokio::test]
async fn scale_up_within_the_quota_down_always_and_never_while_busy() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let a = create_ok(&app, &client, "alpha", 30).await;
    let b = create_ok(&app, &client, "beta", 30).await;
    wait_for(&app, &client, a, "running").await;
    wait_for(&app, &client, b, "running").await;

    assert_eq!(scale(&app, &client, a, 60).await.status(), 200);
    let d = wait_for(&app, &client, a, "running").await;
    assert_eq!(d["summary"]["size_aku"], 60);
    assert_eq!(d["summary"]["target_aku"], Value::Null);
    assert_eq!(d["operations"][0]["kind"], "scale");
    assert_eq!(d["operations"][0]["from_aku"], 30);
    assert_eq!(d["operations"][0]["to_aku"], 60);

    // 90 used of 100: growing beta by 12 needs 12, 10 left.
    let (field, message) = invalid(scale(&app, &client, b, 42).await).await;
    assert_eq!(field, "size_aku");
    assert!(
        message.contains("needs 12 AKU, 10 left of 100"),
        "{message}"
    );
    let (field, message) = invalid(scale(&app, &client, b, 30).await).await;
    assert_eq!(field, "size_aku");
    assert!(message.contains("already 30 AKU"), "{message}");

    assert_eq!(scale(&app, &client, a, 3).await.status(), 200);
    wait_for(&app, &client, a, "running").await;
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 33);

    // A new instance is creating: no change is accepted until it runs.
    let slow = spawn_app_with(app::server::Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let client = slow.activated_admin_client().await;
    let id = create_ok(&slow, &client, "gamma", 6).await;
    let message = conflict(scale(&slow, &client, id, 9).await).await;
    assert!(message.contains("gamma is creating"), "{message}");
    let message = conflict(delete(&slow, &client, id, "gamma").await).await;
    assert!(message.contains("gamma is creating"), "{message}");
    // While scaling, the instance holds the larger of both sizes.
    wait_for(&slow, &client, id, "running").await;
    assert_eq!(scale(&slow, &client, id, 20).await.status(), 200);
    let listed = list(&slow, &client).await;
    assert_eq!(listed["instances"][0]["state"], "changing");
    assert_eq!(listed["quota"]["used_aku"], 20);
    assert!(listed["instances"][0]["progress"]
        .as_str()
        .unwrap()
        .starts_with("step "));
}

#[tokio::test]
async fn a_race_of_concurrent_creates_never_exceeds_the_quota() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await; // 100 AKU
                                                     // 50 creates of 7 AKU: 350 asked, 14 fit (98 AKU).
    let attempts = (0..50).map(|i| {
        let (app, client) = (&app, &client);
        async move {
            let response = create(app, client, &instance_form(&format!("race-{i}"), 7, &[])).await;
            response.status().as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!(accepted, 14, "{statuses:?}");
    assert_eq!(refused, 36, "{statuses:?}");
    let total = app
        .count("SELECT COALESCE(SUM(size_aku), 0) FROM instances WHERE state <> 'deleted'")
        .await;
    assert_eq!(total, 98);
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 98);
}

#[tokio::test]
async fn delete_needs_the_typed_name_and_keeps_the_history() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let id = create_ok(&app, &client, "orders", 10).await;
    wait_for(&app, &client, id, "running").await;

    let (field, message) = invalid(delete(&app, &client, id, "order").await).await;
    assert_eq!(field, "confirm_name");
    assert!(
        message.contains("Type the instance name, orders"),
        "{message}"
    );
    assert_eq!(
        detail(&app, &client, id).await["summary"]["state"],
        "running"
    );

    assert_eq!(delete(&app, &client, id, "orders").await.status(), 200);
    let d = wait_for(&app, &client, id, "deleted").await;
    let kinds: Vec<_> = d["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["delete", "create"]);
    let listed = list(&app, &client).await;
    assert_eq!(listed["instances"].as_array().unwrap().len(), 0);
    assert_eq!(listed["quota"]["used_aku"], 0);
    // The name is free again; a deleted instance takes no change.
    create_ok(&app, &client, "orders", 10).await;
    assert_eq!(delete(&app, &client, id, "orders").await.status(), 404);
}

#[tokio::test]
async fn a_failed_step_makes_the_instance_abnormal_and_retry_finishes_it() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let fields = instance_form("flaky", 6, &[("tags", "simulate-failure=start-brokers")]);
    let response = create(&app, &client, &fields).await;
    assert_eq!(response.status(), 200);
    let id: i64 = response.json().await.unwrap();
    let d = wait_for(&app, &client, id, "abnormal").await;
    assert!(
        d["summary"]["state_reason"]
            .as_str()
            .unwrap()
            .contains("Start the brokers failed"),
        "{d}"
    );
    assert_eq!(d["operations"][0]["status"], "failed");
    let statuses: Vec<_> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["done", "done", "done", "failed", "waiting"]);
    // An abnormal instance still holds its size of the quota.
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 6);

    let response = app
        .post_form(&client, "/api/instance_retry", &[("id", &id.to_string())])
        .await;
    assert_eq!(response.status(), 200);
    let d = wait_for(&app, &client, id, "running").await;
    assert_eq!(d["operations"][0]["kind"], "create");
    assert_eq!(d["operations"][0]["from_state"], "abnormal");
    assert_eq!(d["operations"][0]["status"], "succeeded");
    assert!(!d["summary"]["bootstrap"].as_str().unwrap().is_empty());
    // Retrying a running instance is refused.
    let again = app
        .post_form(&client, "/api/instance_retry", &[("id", &id.to_string())])
        .await;
    assert!(conflict(again).await.contains("Only an abnormal instance"));
}

#[tokio::test]
async fn expired_license_refuses_growth_but_allows_scaling_down() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await; // expires 2027-11-01, 14 days grace
    let id = create_ok(&app, &client, "orders", 10).await;
    wait_for(&app, &client, id, "running").await;

    app.clock.set(time::macros::datetime!(2027-11-03 00:00 UTC));
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    let message = conflict(create(&app, &client, &instance_form("more", 3, &[])).await).await;
    assert!(message.contains("expired"), "{message}");
    let message = conflict(scale(&app, &client, id, 12).await).await;
    assert!(message.contains("expired"), "{message}");
    assert!(list(&app, &client).await["quota"]["growth_blocked"]
        .as_str()
        .unwrap()
        .contains("expired"));
    assert_eq!(scale(&app, &client, id, 5).await.status(), 200);
    let d = wait_for(&app, &client, id, "running").await;
    assert_eq!(d["summary"]["size_aku"], 5);
}

#[tokio::test]
async fn a_lapsed_license_suspends_instances_and_a_new_key_resumes_them() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let a = create_ok(&app, &client, "alpha", 10).await;
    let b = create_ok(&app, &client, "beta", 10).await;
    wait_for(&app, &client, a, "running").await;
    wait_for(&app, &client, b, "running").await;

    // Past expiry and the 14 grace days.
    app.clock.set(time::macros::datetime!(2027-11-20 00:00 UTC));
    app::server::instances::follow_license(&app.state)
        .await
        .unwrap();
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    wait_for(&app, &client, a, "suspended").await;
    wait_for(&app, &client, b, "suspended").await;
    // Suspended instances keep their data and their place in the quota; they can be deleted
    // but not scaled.
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 20);
    assert!(conflict(scale(&app, &client, a, 3).await)
        .await
        .contains("Only a running instance"));

    let renewal = product_key(&app, |p| {
        p.license_id = "LIC-TEST-2".into();
        p.issued_at = time::macros::datetime!(2027-11-19 00:00 UTC);
        p.starts_at = time::macros::datetime!(2027-11-19 00:00 UTC);
        p.expires_at = time::macros::datetime!(2028-11-19 00:00 UTC);
    });
    assert_eq!(app.apply_key(&client, &renewal).await.status(), 200);
    let d = wait_for(&app, &client, a, "running").await;
    assert_eq!(d["operations"][0]["kind"], "resume");
    assert_eq!(d["operations"][1]["kind"], "suspend");
    assert_eq!(d["operations"][1]["requested_by"], "system");
    wait_for(&app, &client, b, "running").await;
}

#[tokio::test]
async fn viewers_read_but_change_nothing() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let id = create_ok(&app, &admin, "orders", 6).await;
    wait_for(&app, &admin, id, "running").await;
    let viewer = app.user_client("vera", "viewer").await;

    let listed = list(&app, &viewer).await;
    assert_eq!(listed["can_change"], false);
    assert_eq!(listed["instances"][0]["name"], "orders");
    assert_eq!(detail(&app, &viewer, id).await["can_change"], false);
    let id_text = id.to_string();
    let refused = [
        create(&app, &viewer, &instance_form("sneaky", 3, &[])).await,
        scale(&app, &viewer, id, 9).await,
        delete(&app, &viewer, id, "orders").await,
        app.post_form(&viewer, "/api/instance_retry", &[("id", &id_text)])
            .await,
    ];
    for response in refused {
        assert_eq!(response.status(), 403);
        let body = error_body(response).await;
        assert!(body["Forbidden"]
            .as_str()
            .unwrap()
            .contains("needs the operator role"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM operations").await, 1);

    // An operator may.
    let operator = app.user_client("otto", "operator").await;
    assert_eq!(scale(&app, &operator, id, 9).await.status(), 200);
    // Signed out: 401.
    let anonymous = app.client();
    assert_eq!(
        app.post_form(&anonymous, "/api/instances", &[])
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn list_filters_by_state_and_refuses_an_unknown_state() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let a = create_ok(&app, &client, "alpha", 3).await;
    let b = create_ok(&app, &client, "beta", 3).await;
    wait_for(&app, &client, a, "running").await;
    wait_for(&app, &client, b, "running").await;
    assert_eq!(scale(&app, &client, b, 4).await.status(), 200);
    wait_for(&app, &client, b, "running").await;
    assert_eq!(delete(&app, &client, a, "alpha").await.status(), 200);
    wait_for(&app, &client, a, "deleted").await;

    let running = app
        .post_form(&client, "/api/instances", &[("state_filter", "running")])
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(running["instances"].as_array().unwrap().len(), 1);
    assert_eq!(running["counts"], serde_json::json!([["running", 1]]));
    let (field, _) = invalid(
        app.post_form(&client, "/api/instances", &[("state_filter", "melted")])
            .await,
    )
    .await;
    assert_eq!(field, "state_filter");
}

#[tokio::test]
async fn over_quota_after_a_downgrade_names_the_largest_instances() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await; // 100 AKU
    for (name, size) in [("small", 10), ("large", 50), ("medium", 30)] {
        let id = create_ok(&app, &client, name, size).await;
        wait_for(&app, &client, id, "running").await;
    }
    let smaller = product_key(&app, |p| {
        p.license_id = "LIC-TEST-2".into();
        p.aku_quota = Some(60);
        p.issued_at = time::macros::datetime!(2026-11-21 00:00 UTC);
    });
    assert_eq!(app.apply_key(&client, &smaller).await.status(), 200);
    let license: Value = client
        .post(app.url("/api/license"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(license["banner"]["over_quota_by"], 30);
    assert_eq!(
        license["largest_instances"],
        serde_json::json!([[2, "large", 50], [3, "medium", 30], [1, "small", 10]])
    );
    // Over quota: no growth, even by 3 AKU; scaling down is allowed and clears it.
    let message = conflict(create(&app, &client, &instance_form("more", 3, &[])).await).await;
    assert!(message.contains("30 AKU more are in use"), "{message}");
    assert_eq!(scale(&app, &client, 2, 17).await.status(), 200);
    wait_for(&app, &client, 2, "running").await;
    create_ok(&app, &client, "more", 3).await;
}

/// The totals every page shows (counts per state, AKU in use) are kept in memory between
/// reads; a change of an instance's state or size made outside the console's services (here by
/// hand, as a person with sqlite3 would) is seen by the next read, and a change of anything
/// else keeps the totals.
#[tokio::test]
async fn totals_follow_every_change_of_state_or_size_even_by_hand() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let a = create_ok(&app, &client, "alpha", 3).await;
    let b = create_ok(&app, &client, "beta", 5).await;
    wait_for(&app, &client, a, "running").await;
    wait_for(&app, &client, b, "running").await;
    let listed = list(&app, &client).await;
    assert_eq!(listed["counts"], serde_json::json!([["running", 2]]));
    assert_eq!(listed["quota"]["used_aku"], 8);
    let version = || async {
        app.count("SELECT version FROM instance_totals_version")
            .await
    };
    let before = version().await;

    sqlx::query("UPDATE instances SET state = 'suspended' WHERE id = ?")
        .bind(a)
        .execute(&app.pool)
        .await
        .unwrap();
    let listed = list(&app, &client).await;
    assert_eq!(
        listed["counts"],
        serde_json::json!([["running", 1], ["suspended", 1]])
    );
    sqlx::query("UPDATE instances SET size_aku = 7 WHERE id = ?")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 10);
    sqlx::query("UPDATE instances SET target_aku = 9 WHERE id = ?")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 12);
    assert_eq!(version().await, before + 3, "one step per change");

    // A column the totals do not depend on leaves the version (and the kept totals) alone.
    sqlx::query("UPDATE instances SET description = 'edited' WHERE id = ?")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(version().await, before + 3);
    // A rolled-back change leaves nothing behind: the totals are read from what is committed.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE instances SET size_aku = 50 WHERE id = ?")
        .bind(a)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(list(&app, &client).await["quota"]["used_aku"], 12);
    // Marked deleted by hand: out of the totals.
    sqlx::query("UPDATE instances SET state = 'deleted' WHERE id = ?")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    let listed = list(&app, &client).await;
    assert_eq!(listed["counts"], serde_json::json!([["suspended", 1]]));
    assert_eq!(listed["quota"]["used_aku"], 3);
}

/// An instance's operation history comes 20 at a time, newest first, each page going on from
/// the last one's end; the latest operation's steps stay on every page.
#[tokio::test]
async fn the_operation_history_comes_a_page_at_a_time() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let a = create_ok(&app, &client, "alpha", 3).await;
    wait_for(&app, &client, a, "running").await;
    // 44 finished scales after the create, written as the operations task leaves them.
    for k in 0..44 {
        sqlx::query(
            "INSERT INTO operations (instance_id, kind, from_state, to_state, from_aku, to_aku,
                 requested_by, requested_at, status, steps_done, step_count, finished_at)
             VALUES (?, 'scale', 'running', 'running', 3, 6, 'admin', ?, 'succeeded', 2, 2, ?)",
        )
        .bind(a)
        .bind(1_790_000_000 + k)
        .bind(1_790_000_001 + k)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let page = |cursor: Option<String>| {
        let (app, client) = (&app, &client);
        async move {
            let mut form = vec![("id", a.to_string())];
            form.extend(cursor.map(|c| ("operations_cursor", c)));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = app.post_form(client, "/api/instance", &form).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    let latest_steps = page(None).await["steps"].clone();
    loop {
        let d = page(cursor).await;
        let ops = d["operations"].as_array().unwrap();
        sizes.push(ops.len());
        seen.extend(ops.iter().map(|o| o["id"].as_i64().unwrap()));
        assert_eq!(
            d["steps"], latest_steps,
            "the latest operation's steps on every page"
        );
        cursor = d["operations_next"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(sizes, vec![20, 20, 5]);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
    let all: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM operations WHERE instance_id = ? ORDER BY id DESC")
            .bind(a)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(seen, all);
    // A cursor of another list is refused, naming the field.
    let response = app
        .post_form(
            &client,
            "/api/instance",
            &[("id", &a.to_string()), ("operations_cursor", "i5")],
        )
        .await;
    assert_eq!(
        error_body(response).await["Invalid"]["field"],
        "operations_cursor"
    );
}

/// The simulated provisioner has no cluster: the consumer-groups section says so, and every
/// group call (pages and REST) is a 409 with that reason; bad input is still refused first
/// by its rule, and nothing is audited.
#[tokio::test]
async fn consumer_groups_are_not_supported_on_the_simulated_provisioner() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let created = app
        .post(
            &admin,
            "/api/instance_create",
            &instance_form("orders", 3, &[]),
        )
        .await;
    assert_eq!(created.status(), 200);
    let id: i64 = created.text().await.unwrap().parse().unwrap();
    let panel: Value = app
        .post(&admin, "/api/consumer_groups", &[("id", id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert!(panel["groups"].as_array().unwrap().is_empty());
    assert!(
        panel["note"].as_str().unwrap().contains("simulated"),
        "{panel}"
    );
    let group = [("id", id.to_string()), ("group", "billing".to_string())];
    let reset = [
        ("id", id.to_string()),
        ("group", "billing".to_string()),
        ("to", "latest".to_string()),
    ];
    let confirm = [
        ("id", id.to_string()),
        ("group", "billing".to_string()),
        ("confirm", "billing".to_string()),
    ];
    for (path, form) in [
        ("/api/consumer_group", &group[..]),
        ("/api/group_reset_preview", &reset[..]),
        ("/api/group_reset", &reset[..]),
        ("/api/group_delete", &confirm[..]),
    ] {
        let answer = app.post(&admin, path, form).await;
        assert_eq!(answer.status(), 409, "{path}");
    }
    let bad = [
        ("id", id.to_string()),
        ("group", "billing".to_string()),
        ("to", "sideways".to_string()),
    ];
    let answer = app.post(&admin, "/api/group_reset", &bad).await;
    assert_eq!(answer.status(), 422);
    assert_eq!(error_body(answer).await["Invalid"]["field"], "to");
    // The instance page renders the section, also with a group and a reset in its URL.
    for query in ["", "?group=billing&to=earliest&value=&topic="] {
        let page = admin
            .get(app.url(&format!("/instances/{id}{query}")))
            .send()
            .await
            .unwrap();
        // A refusal inside the section (here: no cluster to preview on, 409) is the page's
        // status, as the server functions' answers set it; the page is shown all the same.
        let expected = if query.is_empty() { 200 } else { 409 };
        assert_eq!(page.status(), expected, "{query}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Consumer groups"), "{query}");
        assert!(html.contains("simulated provisioner"), "{query}");
    }
    let audited = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'group_%'")
        .await;
    assert_eq!(audited, 0);
}
