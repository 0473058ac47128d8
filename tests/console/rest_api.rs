//! The REST API under /api/v1 with service-account tokens: roles, revoked, rotated and expired
//! tokens, problem details, 201/202 with locations, operations to poll, the paged list, and
//! Idempotency-Key (sequential and concurrent).

use crate::common::*;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A service account made through the admins' page; answers (id, token).
async fn account(
    app: &TestApp,
    admin: &Client,
    name: &str,
    role: &str,
    expires: &str,
) -> (i64, String) {
    let response = admin
        .post(app.url("/api/service_account_create"))
        .form(&[("name", name), ("role", role), ("expires", expires)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    (
        body["id"].as_i64().expect("id"),
        body["token"].as_str().expect("token").to_string(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    Client::new()
        .get(app.url(path))
        .header("authorization", bearer(token))
        .send()
        .await
        .expect("request")
}

fn new_instance(name: &str, size: u32) -> Value {
    json!({
        "name": name,
        "kafka_version": "3.9.0",
        "deployment": "single_zone",
        "vpc_id": "vpc-0a1b2c3d",
        "subnets": ["subnet-0000aaaa"],
        "data_bucket": "acme-kafka-data",
        "wal_mode": "object_storage",
        "client_auth": "sasl_scram",
        "transit_encryption": "tls",
        "endpoint_exposure": "vpc",
        "tags": {"team": "payments"},
        "size_aku": size
    })
}

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> Response {
    Client::new()
        .post(app.url(path))
        .header("authorization", bearer(token))
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], status);
    body
}

async fn wait_for_state(app: &TestApp, token: &str, id: i64, state: &str) {
    let started = Instant::now();
    loop {
        let body: Value = get(app, token, &format!("/api/v1/instances/{id}"))
            .await
            .json()
            .await
            .expect("json");
        if body["summary"]["state"] == state {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never {state}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn tokens_open_the_api_by_role_and_stop_when_revoked_rotated_or_expired() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, viewer) = account(&app, &admin, "reader", "viewer", "").await;
    let (operator_id, operator) = account(&app, &admin, "deployer", "operator", "2026-11-30").await;

    assert_eq!(get(&app, &viewer, "/api/v1/instances").await.status(), 200);
    // No token, a malformed one, a wrong secret: 401 with the problem shape.
    let anonymous = Client::new()
        .get(app.url("/api/v1/instances"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    problem(get(&app, "byoc_sa_1_x", "/api/v1/instances").await, 401).await;
    let wrong = format!(
        "{}{}",
        &viewer[..viewer.len() - 1],
        if viewer.ends_with('A') { 'B' } else { 'A' }
    );
    problem(get(&app, &wrong, "/api/v1/instances").await, 401).await;

    // A viewer cannot create; nothing is created.
    let refused = problem(
        post(
            &app,
            &viewer,
            "/api/v1/instances",
            &new_instance("orders", 3),
        )
        .await,
        403,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("needs the operator role"),
        "{refused}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);

    // The operator can, and the audit log names the service account.
    let created = post(
        &app,
        &operator,
        "/api/v1/instances",
        &new_instance("orders", 3),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'instance_create' AND actor = 'deployer (service account)'").await,
        1
    );
    // Its use is written down (when and from where).
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM service_accounts WHERE id = {operator_id} AND last_used_from = '127.0.0.1'")).await,
        1
    );
    // Nor can an operator manage service accounts.
    problem(get(&app, &operator, "/api/v1/service-accounts").await, 403).await;

    // Rotating: the old token stops, the new one works.
    let rotated: Value = admin
        .post(app.url("/api/service_account_rotate"))
        .form(&[("id", operator_id.to_string())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_operator = rotated["token"].as_str().unwrap().to_string();
    problem(get(&app, &operator, "/api/v1/instances").await, 401).await;
    assert_eq!(
        get(&app, &new_operator, "/api/v1/instances").await.status(),
        200
    );

    // Revoking: the token stops at once, and the refusal is audited.
    let response = admin
        .post(app.url("/api/service_account_revoke"))
        .form(&[("id", "1")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_redirection());
    problem(get(&app, &viewer, "/api/v1/instances").await, 401).await;
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'access' AND actor = 'reader (service account)' AND target = '/api/v1/instances'").await >= 1
    );

    // Expiry: the account works through 2026-11-30 (UTC), not after.
    app.clock.set(time::macros::datetime!(2026-11-30 23:59 UTC));
    assert_eq!(
        get(&app, &new_operator, "/api/v1/instances").await.status(),
        200
    );
    app.clock.set(time::macros::datetime!(2026-12-01 00:00 UTC));
    problem(get(&app, &new_operator, "/api/v1/instances").await, 401).await;
}

#[tokio::test]
async fn create_answers_201_and_changes_answer_202_with_the_operation_to_poll() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, token) = account(&app, &admin, "deployer", "operator", "").await;

    let response = post(
        &app,
        &token,
        "/api/v1/instances",
        &new_instance("orders", 3),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let id = body["summary"]["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/v1/instances/{id}"));
    assert_eq!(body["summary"]["state"], "creating");
    wait_for_state(&app, &token, id, "running").await;

    let response = post(
        &app,
        &token,
        &format!("/api/v1/instances/{id}/scale"),
        &json!({"size_aku": 6}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let operation: Value = response.json().await.unwrap();
    let op = operation["operation"]["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/v1/operations/{op}"));
    assert_eq!(operation["operation"]["kind"], "scale");
    wait_for_state(&app, &token, id, "running").await;
    let polled: Value = get(&app, &token, &location).await.json().await.unwrap();
    assert_eq!(polled["operation"]["status"], "succeeded", "{polled}");
    assert!(
        polled["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done"),
        "{polled}"
    );

    // Bad input: the field and the rule, nothing changed.
    let bad = problem(
        post(
            &app,
            &token,
            &format!("/api/v1/instances/{id}/scale"),
            &json!({"size_aku": 0}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bad["field"], "size_aku", "{bad}");
    let typo = problem(
        post(&app, &token, "/api/v1/instances", &json!({"nmae": "x"})).await,
        400,
    )
    .await;
    assert!(typo["detail"].as_str().unwrap().contains("nmae"), "{typo}");
    let taken = problem(
        post(
            &app,
            &token,
            "/api/v1/instances",
            &new_instance("orders", 3),
        )
        .await,
        // Valid by the document, refused by the console's state: 409, the field named.
        409,
    )
    .await;
    assert_eq!(taken["field"], "name", "{taken}");
    problem(get(&app, &token, "/api/v1/instances/999").await, 404).await;
    problem(get(&app, &token, "/api/v1/nothing-here").await, 404).await;

    let response = Client::new()
        .delete(app.url(&format!("/api/v1/instances/{id}")))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    wait_for_state(&app, &token, id, "deleted").await;
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_and_filters_by_state_and_name() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, token) = account(&app, &admin, "deployer", "operator", "").await;
    for name in ["alpha", "beta", "gamma", "delta", "epsilon"] {
        assert_eq!(
            post(&app, &token, "/api/v1/instances", &new_instance(name, 3))
                .await
                .status(),
            201
        );
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/instances?limit=2".to_string();
    loop {
        let page: Value = get(&app, &token, &path).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/instances?limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["epsilon", "delta", "gamma", "beta", "alpha"]);
    let found: Value = get(&app, &token, "/api/v1/instances?name=ET")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["name"], "beta");
    // A cursor is opaque: one the console did not make names no page (404).
    problem(get(&app, &token, "/api/v1/instances?cursor=zzz").await, 404).await;
    let bad = problem(get(&app, &token, "/api/v1/instances?limit=0").await, 422).await;
    assert_eq!(bad["field"], "limit");
    let bad = problem(
        get(&app, &token, "/api/v1/instances?state=sleeping").await,
        422,
    )
    .await;
    assert_eq!(bad["field"], "state");
}

#[tokio::test]
async fn an_idempotency_key_creates_once_even_when_sent_at_once() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, token) = account(&app, &admin, "deployer", "operator", "").await;
    let send = |key: &'static str, body: Value| {
        let url = app.url("/api/v1/instances");
        let token = token.clone();
        async move {
            Client::new()
                .post(url)
                .header("authorization", bearer(&token))
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .expect("request")
        }
    };
    let first = send("create-orders-1", new_instance("orders", 3)).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("create-orders-1", new_instance("orders", 3)).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 1);
    let other = problem(
        send("create-orders-1", new_instance("payments", 3)).await,
        422,
    )
    .await;
    assert_eq!(other["field"], "Idempotency-Key");

    // Eight at once with one key: one instance; every answer is the first's or "wait".
    let answers = futures::future::join_all(
        (0..8).map(|_| send("create-billing-1", new_instance("billing", 3))),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM instances WHERE name = 'billing'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_go_on() {
    let app = spawn_app_with(app::server::Config {
        secure_cookies: false,
        provision_step: Duration::from_millis(5),
        api_rate: (1, 5),
        ..app::server::Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let (_, busy) = account(&app, &admin, "busy-bot", "viewer", "").await;
    let (_, other) = account(&app, &admin, "other-bot", "viewer", "").await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(get(&app, &busy, "/api/v1/instances").await);
    }
    let ok = statuses.iter().filter(|r| r.status() == 200).count();
    assert!(
        (5..10).contains(&ok),
        "{ok} of 10 passed a burst of 5 at 1/s"
    );
    let refused = statuses
        .into_iter()
        .find(|r| r.status() == 429)
        .expect("a 429");
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    let body = problem(refused, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("busy-bot"),
        "{body}"
    );
    // Another account is not held back by this one.
    assert_eq!(get(&app, &other, "/api/v1/instances").await.status(), 200);
}

#[tokio::test]
async fn kafka_users_are_created_rotated_and_deleted_with_a_password_shown_once() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, token) = account(&app, &admin, "kafka-admin", "operator", "").await;
    let created = post(&app, &token, "/api/v1/instances", &new_instance("users", 3)).await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["summary"]["id"]
        .as_i64()
        .unwrap();
    wait_for_state(&app, &token, id, "running").await;
    let users = format!("/api/v1/instances/{id}/kafka-users");

    let bad = post(
        &app,
        &token,
        &users,
        &json!({"username": "app", "mechanism": "MD5"}),
    )
    .await;
    assert_eq!(problem(bad, 422).await["field"], "mechanism");
    let made = post(
        &app,
        &token,
        &users,
        &json!({"username": "app", "mechanism": "SCRAM-SHA-256"}),
    )
    .await;
    assert_eq!(made.status(), 201);
    assert_eq!(made.headers()["location"], format!("{users}/app").as_str());
    let made: Value = made.json().await.unwrap();
    let first = made["password"].as_str().unwrap().to_string();
    assert!(first.len() >= 24, "{made}");
    assert!(made["client_properties"]
        .as_str()
        .unwrap()
        .contains("SCRAM-SHA-256"));

    let listed: Value = get(&app, &token, &users).await.json().await.unwrap();
    let app_user = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "app")
        .expect("listed");
    assert_eq!(app_user["mechanism"], "SCRAM-SHA-256");
    // The list never carries a password.
    assert!(!listed.to_string().contains(&first));

    let rotated = post(&app, &token, &format!("{users}/app/rotate"), &json!({})).await;
    assert_eq!(rotated.status(), 200);
    let second = rotated.json::<Value>().await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);

    let deleted = Client::new()
        .delete(app.url(&format!("{users}/app")))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let listed: Value = get(&app, &token, &users).await.json().await.unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["username"] != "app"));
    // Each change is audited under the service account.
    let audited = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'kafka-admin (service account)' \
             AND action LIKE 'kafka_user%'",
        )
        .await;
    assert!(audited >= 3, "{audited} audit entries");
}

#[tokio::test]
async fn access_rules_are_added_listed_refused_by_field_and_removed_with_their_user() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let (_, token) = account(&app, &admin, "acl-admin", "operator", "").await;
    let (_, viewer) = account(&app, &admin, "acl-viewer", "viewer", "").await;
    let created = post(&app, &token, "/api/v1/instances", &new_instance("rules", 3)).await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["summary"]["id"]
        .as_i64()
        .unwrap();
    wait_for_state(&app, &token, id, "running").await;
    let users = format!("/api/v1/instances/{id}/kafka-users");
    let made = post(
        &app,
        &token,
        &users,
        &json!({"username": "app", "mechanism": "SCRAM-SHA-512"}),
    )
    .await;
    assert_eq!(made.status(), 201);
    let rules = format!("{users}/app/acls");

    // What the document states is 422; the rules it cannot state (a right over the cluster,
    // an operation Kafka never checks on the type) are 409, naming the field too. Nothing kept.
    for (body, status, field) in [
        (
            json!({"resource_type": "queue", "resource_name": "a", "operation": "read"}),
            422,
            "resource_type",
        ),
        (
            json!({"resource_type": "topic", "resource_name": "", "operation": "read"}),
            422,
            "resource_name",
        ),
        (
            json!({"resource_type": "cluster", "operation": "alter"}),
            409,
            "operation",
        ),
        (
            json!({"resource_type": "group", "resource_name": "g", "operation": "write"}),
            409,
            "operation",
        ),
    ] {
        let refused = post(&app, &token, &rules, &body).await;
        assert_eq!(problem(refused, status).await["field"], field, "{body}");
    }
    let nobody = post(
        &app,
        &token,
        &format!("{users}/nobody/acls"),
        &json!({"resource_type": "topic", "resource_name": "t", "operation": "read"}),
    )
    .await;
    assert_eq!(nobody.status(), 404);
    // A viewer may read the rules, not change them.
    let by_viewer = post(
        &app,
        &viewer,
        &rules,
        &json!({"resource_type": "topic", "resource_name": "t", "operation": "read"}),
    )
    .await;
    assert_eq!(by_viewer.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM kafka_acls").await, 0);

    let one = post(
        &app,
        &token,
        &rules,
        &json!({"resource_type": "topic", "resource_name": "orders", "operation": "read"}),
    )
    .await;
    assert_eq!(one.status(), 201);
    let one: Value = one.json().await.unwrap();
    assert_eq!(
        one["rules"][0]["description"],
        "allow read on topic orders from any host"
    );
    let again = post(
        &app,
        &token,
        &rules,
        &json!({"resource_type": "topic", "resource_name": "orders", "operation": "read"}),
    )
    .await;
    assert_eq!(again.status(), 409);
    let preset = post(
        &app,
        &token,
        &format!("{users}/app/acl-presets"),
        &json!({"preset": "consume", "topic": "orders", "group": "billing"}),
    )
    .await;
    assert_eq!(preset.status(), 201);
    // The read rule was there already: the preset added the two others only.
    assert_eq!(
        preset.json::<Value>().await.unwrap()["rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let listed: Value = get(&app, &viewer, &format!("/api/v1/instances/{id}/acls"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let first = listed[0]["id"].as_i64().unwrap();
    let removed = Client::new()
        .delete(app.url(&format!("/api/v1/instances/{id}/acls/{first}")))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let deleted = Client::new()
        .delete(app.url(&format!("{users}/app")))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM kafka_acls").await, 0);
    let audited = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'acl-admin (service account)' \
             AND action IN ('kafka_acl_create', 'kafka_acl_delete')",
        )
        .await;
    assert_eq!(audited, 3);
}
