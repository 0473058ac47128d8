//! The audit log records every change in the change's own transaction, and refusals by one
//! rule (`app::server::audit::audited_refusal`): refusals of authorisation (401, 403),
//! throttling (429) and refusals by the license or the quota are audited; malformed input
//! (422 for a field's rule, 400) and what does not exist (404) are not.

use crate::common::*;
use app::server::{guard, rate_limit, store};
use axum::{body::Body, http::Request, middleware, routing::post, Router};
use reqwest::{Client, Response};
use std::time::Duration;
use tower::ServiceExt;

async fn create(app: &TestApp, client: &Client, fields: &[(&'static str, String)]) -> Response {
    app.post(client, "/api/instance_create", fields).await
}

async fn create_ok(app: &TestApp, client: &Client, name: &str, size: u32) -> i64 {
    let response = create(app, client, &instance_form(name, size, &[])).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn audit_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_log").await
}

/// Entries `action` with `outcome`, by `actor` on `target`.
async fn entries(app: &TestApp, actor: &str, action: &str, target: &str, outcome: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = ? AND action = ? AND target = ? AND outcome = ?",
    )
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(outcome)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Waits until no operation runs (the simulated steps take 5 ms here).
async fn settle(app: &TestApp) {
    for _ in 0..800 {
        if app
            .count("SELECT COUNT(*) FROM operations WHERE status = 'running'")
            .await
            == 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("operations still running");
}

async fn chain_is_intact(app: &TestApp) -> u64 {
    match store::audit::verify_chain(&app.pool).await.unwrap() {
        Ok(entries) => entries,
        Err(broken) => panic!("the audit chain is broken: {broken}"),
    }
}

/// Refused `instance_create` calls audited for `actor`.
async fn create_refusals(app: &TestApp, actor: &str) -> i64 {
    entries(app, actor, "access", "/api/instance_create", "refused").await
}

#[tokio::test]
async fn refusals_of_authorisation_are_audited_once_a_minute() {
    let app = spawn_app().await;
    let _admin = app.activated_admin_client().await;
    let viewer = app.user_client("vera", "viewer").await;
    let form = instance_form("orders", 3, &[]);

    // A viewer calling an operator endpoint: 403, and an entry that says who, what, where.
    let response = create(&app, &viewer, &form).await;
    assert_eq!(response.status(), 403);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = 'vera' AND action = 'access'
           AND target = '/api/instance_create' AND outcome = 'refused' AND client_addr = '127.0.0.1'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the 403 is audited");
    assert!(detail.contains("needs the operator role"), "{detail}");
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);

    // Signed out: 401, audited as anonymous.
    let anonymous = app.client();
    assert_eq!(create(&app, &anonymous, &form).await.status(), 401);
    assert_eq!(create_refusals(&app, "anonymous").await, 1);

    // The same refusal again within a minute: refused, not logged again (a flood of them
    // writes one entry a minute); a minute later it is logged again.
    for _ in 0..5 {
        assert_eq!(create(&app, &viewer, &form).await.status(), 403);
        assert_eq!(create(&app, &anonymous, &form).await.status(), 401);
    }
    assert_eq!(create_refusals(&app, "vera").await, 1);
    assert_eq!(create_refusals(&app, "anonymous").await, 1);
    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(create(&app, &viewer, &form).await.status(), 403);
    assert_eq!(create_refusals(&app, "vera").await, 2);

    // Another endpoint in the same minute is the same refusal (the path is no part of the
    // key: a new path each time would defeat it); downloads follow the same rule.
    assert_eq!(
        app.post_form(&viewer, "/api/users", &[]).await.status(),
        403
    );
    assert_eq!(
        entries(&app, "vera", "access", "/api/users", "refused").await,
        0
    );
    app.clock.advance(time::Duration::seconds(61));
    let csv = viewer.get(app.url("/audit.csv")).send().await.unwrap();
    assert_eq!(csv.status(), 403);
    assert_eq!(
        entries(&app, "vera", "access", "/audit.csv", "refused").await,
        1
    );
    chain_is_intact(&app).await;
}

#[tokio::test]
async fn malformed_input_and_unknown_things_add_no_audit_entry() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let id = create_ok(&app, &admin, "orders", 6).await;
    settle(&app).await;
    let before = audit_count(&app).await;

    // 422 for a field's rule, on every kind of change.
    let bad_name = create(&app, &admin, &instance_form("Not A Name!", 3, &[])).await;
    assert_eq!(bad_name.status(), 422);
    let bad_size = create(&app, &admin, &instance_form("other", 0, &[])).await;
    assert_eq!(bad_size.status(), 422);
    let id_text = id.to_string();
    for (endpoint, form) in [
        (
            "/api/instance_scale",
            vec![("id", id_text.as_str()), ("size_aku", "lots")],
        ),
        (
            "/api/instance_scale",
            vec![("id", id_text.as_str()), ("size_aku", "6")],
        ),
        (
            "/api/instance_delete",
            vec![("id", id_text.as_str()), ("confirm_name", "not-orders")],
        ),
        (
            "/api/user_create",
            vec![
                ("username", "No Spaces Allowed"),
                ("role", "viewer"),
                ("password", "Temporary-Orchid-Gate-17"),
                ("password_confirm", "Temporary-Orchid-Gate-17"),
            ],
        ),
        ("/api/audit", vec![("from", "yesterday")]),
    ] {
        let response = app.post_form(&admin, endpoint, &form).await;
        assert_eq!(response.status(), 422, "{endpoint}");
    }
    // 404: nothing by that id.
    let missing = app
        .post_form(
            &admin,
            "/api/instance_scale",
            &[("id", "9999"), ("size_aku", "3")],
        )
        .await;
    assert_eq!(missing.status(), 404);
    // 400: the form cannot even be read.
    let unreadable = app.post_form(&admin, "/api/instance_scale", &[]).await;
    assert_eq!(unreadable.status(), 400);

    assert_eq!(audit_count(&app).await, before, "nothing was audited");
    chain_is_intact(&app).await;
}

#[tokio::test]
async fn refusals_by_the_quota_and_the_license_are_audited() {
    let app = spawn_app().await;
    let admin = app.admin_client().await;

    // No license yet: no growth (409), a refusal by the license.
    let response = create(&app, &admin, &instance_form("early", 3, &[])).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        entries(&app, ADMIN, "instance_create", "early", "refused").await,
        1
    );

    // A license with a 100 AKU quota and at most 40 AKU per instance.
    let key = product_key(&app, |p| p.max_aku_per_instance = 40);
    assert_eq!(app.apply_key(&admin, &key).await.status(), 200);
    let first = create_ok(&app, &admin, "first", 30).await;
    let second = create_ok(&app, &admin, "second", 30).await;
    create_ok(&app, &admin, "third", 30).await;
    settle(&app).await;

    // Over the quota: a field error for the form (422 on size_aku), audited all the same.
    let before = audit_count(&app).await;
    let response = create(&app, &admin, &instance_form("fourth", 20, &[])).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_body(response).await["Invalid"]["field"], "size_aku");
    assert_eq!(audit_count(&app).await, before + 1);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'instance_create' AND target = 'fourth' AND outcome = 'refused'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(detail.contains("needs 20 AKU, 10 left of 100"), "{detail}");
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 3);

    // A scale-up past the quota, and a size past the license's per-instance maximum.
    let scale = |id: i64, size: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.post_form(
                admin,
                "/api/instance_scale",
                &[("id", &id.to_string()), ("size_aku", size)],
            )
            .await
        }
    };
    assert_eq!(scale(first, "40").await.status(), 200, "within the quota");
    settle(&app).await;
    let response = scale(second, "40").await;
    assert_eq!(response.status(), 422);
    let message = error_body(response).await["Invalid"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("needs 10 AKU, 0 left of 100"), "{message}");
    assert_eq!(
        entries(&app, ADMIN, "instance_scale", "second", "refused").await,
        1
    );
    let response = scale(second, "41").await;
    assert_eq!(response.status(), 422);
    let message = error_body(response).await["Invalid"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("at most 40 AKU"), "{message}");
    assert_eq!(
        entries(&app, ADMIN, "instance_scale", "second", "refused").await,
        2
    );
    let response = create(&app, &admin, &instance_form("huge", 41, &[])).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        entries(&app, ADMIN, "instance_create", "huge", "refused").await,
        1
    );
    // Quota refusals are not coalesced: each is someone asking for capacity.
    create(&app, &admin, &instance_form("fourth", 20, &[])).await;
    assert_eq!(
        entries(&app, ADMIN, "instance_create", "fourth", "refused").await,
        2
    );
    chain_is_intact(&app).await;
}

#[tokio::test]
async fn every_instance_and_every_finished_operation_has_its_entry_and_the_chain_verifies() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await; // 100 AKU
    let operator = app.user_client("otto", "operator").await;

    // Concurrent creates by two people, one of which fails a step and is retried.
    let creates = (0..12).map(|i| {
        let (app, admin, operator) = (&app, &admin, &operator);
        async move {
            let client = if i % 2 == 0 { admin } else { operator };
            let tags = if i == 5 {
                "simulate-failure=start-brokers"
            } else {
                "team=payments"
            };
            let form = instance_form(&format!("load-{i}"), 4, &[("tags", tags)]);
            let response = create(app, client, &form).await;
            assert_eq!(response.status(), 200);
            response.json::<i64>().await.unwrap()
        }
    });
    let ids = futures::future::join_all(creates).await;
    settle(&app).await;
    let flaky = ids[5];
    assert_eq!(
        app.post_form(&admin, "/api/instance_retry", &[("id", &flaky.to_string())])
            .await
            .status(),
        200
    );
    settle(&app).await;
    // Scale some, delete others, concurrently.
    let changes = ids.iter().enumerate().map(|(i, id)| {
        let (app, admin) = (&app, &admin);
        async move {
            let id = id.to_string();
            let response = match i % 3 {
                0 => {
                    app.post_form(
                        admin,
                        "/api/instance_scale",
                        &[("id", id.as_str()), ("size_aku", "6")],
                    )
                    .await
                }
                1 => {
                    let name = format!("load-{i}");
                    app.post_form(
                        admin,
                        "/api/instance_delete",
                        &[("id", id.as_str()), ("confirm_name", name.as_str())],
                    )
                    .await
                }
                _ => return,
            };
            assert_eq!(response.status(), 200);
        }
    });
    futures::future::join_all(changes).await;
    settle(&app).await;

    // Every instance has exactly one instance_create entry.
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 12);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM instances i WHERE (SELECT COUNT(*) FROM audit_log a
               WHERE a.action = 'instance_create' AND a.outcome = 'success' AND a.target = i.name) <> 1"
        )
        .await,
        0
    );
    // Every finished operation has exactly one entry of its outcome, with its kind.
    for (status, action) in [
        ("succeeded", "operation_succeeded"),
        ("failed", "operation_failed"),
    ] {
        let operations = app
            .count(&format!(
                "SELECT COUNT(*) FROM operations WHERE status = '{status}'"
            ))
            .await;
        let audited = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await;
        assert_eq!(audited, operations, "{action}");
        for kind in ["create", "scale", "delete", "resume", "suspend"] {
            let per_instance = app
                .count(&format!(
                    "SELECT COUNT(*) FROM instances i WHERE
                       (SELECT COUNT(*) FROM operations o
                          WHERE o.instance_id = i.id AND o.status = '{status}' AND o.kind = '{kind}')
                       <> (SELECT COUNT(*) FROM audit_log a WHERE a.action = '{action}'
                          AND a.target = i.name AND a.actor = 'system'
                          AND (a.detail = '{kind}' OR a.detail LIKE '{kind}: %'))"
                ))
                .await;
            assert_eq!(per_instance, 0, "{action} {kind}");
        }
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM operations WHERE status = 'failed'")
            .await,
        1
    );
    // Scales, deletes and the retry are audited as requested, each once.
    for (action, expected) in [
        ("instance_scale", 4),
        ("instance_delete", 4),
        ("instance_retry", 1),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND outcome = 'success'"
            ))
            .await,
            expected,
            "{action}"
        );
    }

    // The chain verifies, here and with the command.
    assert!(chain_is_intact(&app).await > 40);
    let data = app.dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_byoc-console"))
        .args(["audit", "verify", "--data-dir", data.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A trigger the test adds to the database (no hook in the console's code) fails the audit
/// append of `action`. (One name per action: a pool connection that has not read the schema
/// since another dropped a trigger would still see the old one at `CREATE`.)
async fn fail_audit_of(app: &TestApp, action: &str) {
    sqlx::query(&format!(
        "CREATE TRIGGER fail_audit_{action} BEFORE INSERT ON audit_log WHEN NEW.action = '{action}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn heal_audit_of(app: &TestApp, action: &str) {
    sqlx::query(&format!("DROP TRIGGER fail_audit_{action}"))
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_and_its_audit_entry_commit_together_or_not_at_all() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;

    // The entry cannot be written: the instance is not created either, and no operation runs.
    fail_audit_of(&app, "instance_create").await;
    let response = create(&app, &admin, &instance_form("orders", 6, &[])).await;
    assert_eq!(response.status(), 500);
    assert_eq!(app.count("SELECT COUNT(*) FROM instances").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM operations").await, 0);
    heal_audit_of(&app, "instance_create").await;

    // The same for a user.
    fail_audit_of(&app, "user_create").await;
    let response = app
        .post_form(
            &admin,
            "/api/user_create",
            &[
                ("username", "olga"),
                ("role", "operator"),
                ("password", "Temporary-Orchid-Gate-17"),
                ("password_confirm", "Temporary-Orchid-Gate-17"),
            ],
        )
        .await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE username = 'olga'")
            .await,
        0
    );
    heal_audit_of(&app, "user_create").await;

    // An operation cannot finish without its entry: it stays running (the runner tries again
    // every 5 s) until the entry can be written, then finishes with exactly one.
    fail_audit_of(&app, "operation_succeeded").await;
    let id = create_ok(&app, &admin, "orders", 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM operations WHERE status = 'running'")
            .await,
        1
    );
    let state: String = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "creating");
    heal_audit_of(&app, "operation_succeeded").await;
    tokio::time::timeout(Duration::from_secs(15), settle(&app))
        .await
        .expect("the operation finishes once its entry can be written");
    assert_eq!(
        entries(&app, "system", "operation_succeeded", "orders", "success").await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM instances WHERE state = 'running'")
            .await,
        1
    );
    chain_is_intact(&app).await;
}

#[tokio::test]
async fn cross_site_refusals_are_audited_with_the_path() {
    let app = spawn_app().await;
    let router = Router::new()
        .route("/api/instance_delete", post(|| async { "done" }))
        .layer(middleware::from_fn_with_state(
            app.state.clone(),
            guard::reject_cross_site,
        ));
    let forged = |site: &'static str| {
        let origin = if site == "same-origin" {
            "http://127.0.0.1:8080"
        } else {
            "http://127.0.0.2:8080"
        };
        Request::post("/api/instance_delete")
            .header("sec-fetch-site", site)
            .header("origin", origin)
            .header("host", "127.0.0.1:8080")
            .body(Body::empty())
            .unwrap()
    };
    let response = router.clone().oneshot(forged("cross-site")).await.unwrap();
    assert_eq!(response.status(), 403);
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(error["CrossSite"].is_string(), "{error}");
    assert_eq!(
        entries(
            &app,
            "anonymous",
            "cross_site",
            "/api/instance_delete",
            "refused"
        )
        .await,
        1
    );
    // Repeats within a minute are refused but not logged again; same-origin requests pass.
    let again = router.clone().oneshot(forged("cross-site")).await.unwrap();
    assert_eq!(again.status(), 403);
    assert_eq!(
        entries(
            &app,
            "anonymous",
            "cross_site",
            "/api/instance_delete",
            "refused"
        )
        .await,
        1
    );
    let own = router.oneshot(forged("same-origin")).await.unwrap();
    assert_eq!(own.status(), 200);
    chain_is_intact(&app).await;
}

#[tokio::test]
async fn rate_limited_requests_are_audited_once_a_minute() {
    let app = spawn_app().await;
    let router = Router::new()
        .route("/api/login", post(|| async { "checked" }))
        .layer(middleware::from_fn_with_state(
            (rate_limit::RateLimits::new(), app.state.clone()),
            rate_limit::limit,
        ));
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let request = Request::post("/api/login").body(Body::empty()).unwrap();
        statuses.push(router.clone().oneshot(request).await.unwrap().status());
    }
    let limited = statuses.iter().filter(|s| s.as_u16() == 429).count();
    assert!(limited >= 5, "{statuses:?}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'rate_limit' AND target = '/api/login'
               AND outcome = 'refused' AND actor = 'anonymous'"
        )
        .await,
        1
    );
}

/// Through the console's own router: the cross-site guard and the rate limiter audit their
/// refusals.
#[tokio::test]
async fn the_console_audits_cross_site_and_rate_limited_requests() {
    let app = spawn_app().await;
    let response = app
        .client()
        .post(app.url("/api/setup"))
        .header("sec-fetch-site", "cross-site")
        .form(&SETUP_FORM)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        entries(&app, "anonymous", "cross_site", "/api/setup", "refused").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM environment").await, 0);
    for _ in 0..30 {
        app.login(&app.client(), "nobody", "wrong-password-xyz")
            .await;
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'rate_limit' AND target = '/api/login'
               AND client_addr = '127.0.0.1' AND outcome = 'refused'"
        )
        .await,
        1
    );
}
