//! The web's usual attacks: security headers and the page's Content-Security-Policy with the
//! hydration scripts' nonce, rate limits on sign-in that leave other requests alone, body and
//! field limits, and no internals in any response.

use crate::common::*;

#[tokio::test]
async fn pages_carry_a_nonce_policy_that_matches_their_scripts() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let page = client.get(app.url("/instances")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{policy}");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the nonce"
    );
    for directive in [
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .expect("a script-src directive");
    assert!(
        !script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"),
        "{script_src}"
    );
    // Another render, another nonce.
    let again = client.get(app.url("/instances")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");

    // Everything that is not a page gets the strict default.
    for path in ["/healthz", "/favicon.svg"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
    }
    let api = app.post_form(&client, "/api/session", &[]).await;
    assert!(api.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

/// Pages and files requested at once, as a browser does while the last page's modules still
/// download: each page keeps its own policy and each file the default. (leptos' file handler
/// once gave a file the response options of a page rendering on the same thread, and the page
/// went out with the default policy, which blocks its scripts.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_their_policy_while_files_are_served_beside_them() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let requests = (0..120).map(|i| {
        let path = if i % 2 == 0 {
            "/instances"
        } else {
            "/favicon.svg"
        };
        let request = client.get(app.url(path)).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let policy = response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            (path, policy)
        }
    });
    for (path, policy) in futures::future::join_all(requests).await {
        if path == "/instances" {
            assert!(
                policy.contains("'nonce-"),
                "a page without its policy: {policy}"
            );
        } else {
            assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        }
    }
}

#[tokio::test]
async fn a_sign_in_flood_is_limited_per_address_and_other_requests_go_on() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let mut limited = None;
    for _ in 0..40 {
        let response = app
            .post_form(
                &app.client(),
                "/api/login",
                &[("username", "mallory"), ("password", "wrong-password-xyz")],
            )
            .await;
        if response.status() == 429 && response.headers().contains_key("retry-after") {
            limited = Some(error_body(response).await);
            break;
        }
    }
    let body = limited.expect("the flood is limited");
    assert!(body["TooManyAttempts"]["message"]
        .as_str()
        .unwrap()
        .contains("Too many requests from your address"));
    // Throttled attempts are logged once a minute per name and address, not once each.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'mallory' AND outcome = 'refused'")
            .await,
        1
    );
    // The same address, other work: not limited.
    for _ in 0..30 {
        assert_eq!(
            app.post_form(&admin, "/api/instances", &[]).await.status(),
            200
        );
    }
    // Product keys are limited too.
    let mut key_limited = false;
    for _ in 0..30 {
        let response = app.preview_key(&admin, "BYOC1.garbage.garbage").await;
        if response.status() == 429 {
            key_limited = true;
            break;
        }
        assert_eq!(response.status(), 422);
    }
    assert!(key_limited, "product key guessing is limited");
}

#[tokio::test]
async fn oversized_bodies_and_fields_are_refused_cleanly() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let huge = "x".repeat(100 * 1024);
    let response = app
        .post_form(&client, "/api/instance_create", &[("name", &huge)])
        .await;
    assert_eq!(response.status(), 413);

    let long = "a".repeat(5000);
    for (endpoint, field, form) in [
        (
            "/api/user_create",
            "username",
            vec![
                ("username", long.as_str()),
                ("role", "viewer"),
                ("password", "Temporary-Orchid-Gate-17"),
                ("password_confirm", "Temporary-Orchid-Gate-17"),
            ],
        ),
        (
            "/api/instance_scale",
            "size_aku",
            vec![("id", "1"), ("size_aku", long.as_str())],
        ),
        ("/api/license_preview", "key", vec![("key", long.as_str())]),
    ] {
        let response = app.post_form(&client, endpoint, &form).await;
        assert_eq!(response.status(), 422, "{endpoint}");
        assert_eq!(
            error_body(response).await["Invalid"]["field"],
            field,
            "{endpoint}"
        );
    }
    let response = app
        .post_form(
            &client,
            "/api/password_change",
            &[
                ("current_password", &long),
                ("new_password", "x"),
                ("new_password_confirm", "x"),
            ],
        )
        .await;
    assert_eq!(
        error_body(response).await["Invalid"]["field"],
        "current_password"
    );
}

#[tokio::test]
async fn an_internal_failure_shows_a_reference_not_the_database_error() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    sqlx::query("DROP TABLE instance_history")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE operation_steps")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE operations")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE instances")
        .execute(&app.pool)
        .await
        .unwrap();
    for (method, path) in [("POST", "/api/instances"), ("GET", "/instances")] {
        let response = if method == "POST" {
            app.post_form(&client, path, &[]).await
        } else {
            client.get(app.url(path)).send().await.unwrap()
        };
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            status == 500 || (method == "GET" && status == 200),
            "{path}: {status}"
        );
        // The JSON error carries only the log reference; the page says it in words.
        let expected = if method == "POST" {
            "\"Internal\""
        } else {
            "reference"
        };
        assert!(body.contains(expected), "{path}: {body}");
        for leak in [
            "no such table",
            "sqlx",
            "SELECT",
            "sqlite",
            "panicked",
            ".rs:",
        ] {
            assert!(!body.contains(leak), "{path} leaks {leak:?}");
        }
    }
}
