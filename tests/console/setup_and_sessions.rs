//! First-run setup, sign-in, sessions and the guards, through the real router and SQLite file.

use crate::common::*;
use app::server::clock::Clock;

#[tokio::test]
async fn healthz_reports_version_and_database() {
    let app = spawn_app().await;
    let response = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "reachable");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn before_setup_every_page_leads_to_setup() {
    let app = spawn_app().await;
    let client = app.client();
    assert_redirects(
        &app,
        &client,
        &["/", "/login", "/instances", "/no-such-page"],
        "/setup",
    )
    .await;
    let page = client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Set up this environment"), "{html}");
    assert!(html.contains("name=\"password_confirm\""));
}

#[tokio::test]
async fn setup_creates_one_admin_and_then_is_gone() {
    let app = spawn_app().await;
    let client = app.client();
    let response = app.setup(&client).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?setup=done"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'setup' AND outcome = 'success'")
            .await,
        1
    );
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );

    // The setup page is gone for good.
    let page = client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    // And a second setup changes nothing.
    let again = app
        .post_form(
            &client,
            "/api/setup",
            &[
                ("username", "mallory"),
                ("password", "Another-Long-Passphrase-9"),
                ("password_confirm", "Another-Long-Passphrase-9"),
                ("environment_name", "Mine now"),
                ("cloud_provider", "aws"),
                ("region", "us-east-1"),
            ],
        )
        .await;
    assert_eq!(again.status(), 409);
    assert!(error_body(again)
        .await
        .to_string()
        .contains("already set up"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    let name: String = sqlx::query_scalar("SELECT display_name FROM environment")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Production");
}

#[tokio::test]
async fn concurrent_setups_give_exactly_one_administrator() {
    let app = spawn_app().await;
    let attempts = (0..6).map(|i| {
        let app = &app;
        async move {
            let client = app.client();
            let name = format!("admin{i}");
            let password = format!("Racing-Passphrase-{i}-zebra");
            app.post_form(
                &client,
                "/api/setup",
                &[
                    ("username", &name),
                    ("password", &password),
                    ("password_confirm", &password),
                    ("environment_name", &format!("Env {i}")),
                    ("cloud_provider", "alibaba"),
                    ("region", "cn-hangzhou"),
                ],
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM environment").await, 1);
}

#[tokio::test]
async fn setup_rejects_bad_input_by_field_and_changes_nothing() {
    let app = spawn_app().await;
    let client = app.client();
    let good = SETUP_FORM;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("username", "1x", "username", "3 to 32"),
        ("password", "short", "password", "at least 12"),
        ("password", "password1234", "password", "most common"),
        (
            "password_confirm",
            "Quiet-Harbor-Lamp-43",
            "password_confirm",
            "do not match",
        ),
        ("environment_name", "   ", "environment_name", "required"),
        ("cloud_provider", "ibm", "cloud_provider", "cloud providers"),
        ("region", "cn-hangzhou", "region", "Amazon Web Services"),
    ];
    for (field, value, expected_field, expected_text) in cases {
        let mut form = good.to_vec();
        for pair in form.iter_mut() {
            if pair.0 == *field {
                pair.1 = value;
            }
        }
        if *field == "password" {
            // Keep the confirmation equal so that the password rule itself is what fails.
            for pair in form.iter_mut() {
                if pair.0 == "password_confirm" {
                    pair.1 = value;
                }
            }
        }
        let response = app.post_form(&client, "/api/setup", &form).await;
        assert_eq!(response.status(), 422, "{field}={value}");
        let body = error_body(response).await;
        assert_eq!(body["Invalid"]["field"], *expected_field, "{body}");
        let message = body["Invalid"]["message"].as_str().unwrap();
        assert!(message.contains(expected_text), "{field}: {message}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM environment").await, 0);
}

#[tokio::test]
async fn login_right_wrong_and_unknown() {
    let app = spawn_app().await;
    let client = app.client();
    app.setup(&client).await;

    let wrong = app.login(&client, ADMIN, "Not-The-Password-1").await;
    assert_eq!(wrong.status(), 422);
    let wrong_body = error_body(wrong).await;
    let unknown = app.login(&client, "nobody", ADMIN_PASSWORD).await;
    assert_eq!(unknown.status(), 422);
    // The same answer whether the name exists or not.
    assert_eq!(wrong_body, error_body(unknown).await);
    assert_eq!(
        wrong_body["Invalid"]["message"],
        "Wrong user name or password."
    );

    // Still signed out.
    let session = client.post(app.url("/api/session")).send().await.unwrap();
    assert_eq!(session.status(), 401);

    let right = app.login(&client, "  Admin ", ADMIN_PASSWORD).await;
    assert_eq!(right.status(), 200);
    let info: serde_json::Value = client
        .post(app.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["username"], "admin");
    assert_eq!(info["role"], "admin");
    assert_eq!(info["environment_name"], "Production");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action='login' AND outcome='failure'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action='login' AND outcome='success'")
            .await,
        1
    );
    let last_login: Option<i64> = sqlx::query_scalar("SELECT last_login_at FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(last_login, Some(app.clock.unix()));

    // Signed in, the login page leads to the overview.
    let page = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.headers()["location"], "/");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_user_and_address() {
    let app = spawn_app().await;
    let client = app.client();
    app.setup(&client).await;
    for _ in 0..5 {
        assert_eq!(
            app.login(&client, ADMIN, "Not-The-Password-1")
                .await
                .status(),
            422
        );
    }
    // The sixth attempt is refused, even with the right password, and says when to retry.
    let refused = app.login(&client, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(refused.status(), 429);
    let body = error_body(refused).await;
    let message = body["TooManyAttempts"]["message"].as_str().unwrap();
    assert!(message.contains("Try again in 15 minutes"), "{message}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action='login' AND outcome='refused'")
            .await,
        1
    );

    // Only this name from this address: five failures for `admin` do not lock the address
    // for other names (an address is locked after 20 failures across names), nor `admin`
    // from other addresses (tests/console/attacks.rs).
    assert_eq!(
        app.login(&client, "someone", "Whatever-Password-1")
            .await
            .status(),
        422
    );

    // After the window the right password works again.
    app.clock.advance(time::Duration::minutes(15));
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn session_id_is_cycled_at_login_and_the_old_one_is_dead() {
    let app = spawn_app().await;
    let client = app.client();
    app.setup(&client).await;
    let first = session_cookie(&app.login(&client, ADMIN, ADMIN_PASSWORD).await);
    let second = session_cookie(&app.login(&client, ADMIN, ADMIN_PASSWORD).await);
    assert_ne!(first, second);
    // A client holding only the old id is not signed in; the new id is.
    let bare = reqwest::Client::new();
    let ask = |cookie: String| {
        bare.post(app.url("/api/session"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(ask(first).await.unwrap().status(), 401);
    assert_eq!(ask(second).await.unwrap().status(), 200);
}

/// `name=value` of the session cookie a response sets.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("byoc_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn session_cookie_attributes() {
    let app = spawn_app_with(app::server::Config {
        secure_cookies: true,
        ..Default::default()
    })
    .await;
    let client = app.client();
    app.setup(&client).await;
    let response = app.login(&client, ADMIN, ADMIN_PASSWORD).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-byoc_session="), "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/",
        "Max-Age=1800",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn logout_deletes_the_session_on_the_server() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM tower_sessions").await, 1);
    let response = client.post(app.url("/api/logout")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(app.count("SELECT COUNT(*) FROM tower_sessions").await, 0);
    assert_eq!(
        client
            .post(app.url("/api/session"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action='logout'")
            .await,
        1
    );
}

#[tokio::test]
async fn protected_pages_and_functions_need_a_session() {
    let app = spawn_app().await;
    let client = app.client();
    app.setup(&client).await;
    let pages = [
        "/",
        "/activate",
        "/instances",
        "/license",
        "/usage",
        "/users",
        "/audit",
        "/nowhere",
    ];
    assert_redirects(&app, &client, &pages, "/login").await;
    for endpoint in [
        "/api/session",
        "/api/overview",
        "/api/activation",
        "/api/license",
        "/api/license_preview",
        "/api/license_apply",
    ] {
        let response = client
            .post(app.url(endpoint))
            .form(&[("key", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{endpoint}");
        assert_eq!(
            error_body(response).await,
            serde_json::json!("Unauthenticated")
        );
    }
    // Signed in, pages lead to activation until a product key is applied; then they render.
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    let before = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(before.headers()["location"], "/activate");
    let key = product_key(&app, |_| {});
    assert_eq!(app.apply_key(&client, &key).await.status(), 200);
    let overview = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(overview.status(), 200);
    let html = overview.text().await.unwrap();
    assert!(
        html.contains("Installation ID") && html.contains("Production"),
        "{html}"
    );
    let missing = client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn a_request_the_server_cannot_read_is_a_400_with_a_plain_message() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    // The key argument is missing.
    let response = client
        .post(app.url("/api/license_apply"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = error_body(response).await;
    assert_eq!(
        body["Request"],
        "The form could not be read; reload the page and try again."
    );
    let missing = client
        .post(app.url("/api/no_such_function"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn sessions_end_at_the_absolute_limit() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    app.clock
        .advance(time::Duration::hours(12) - time::Duration::seconds(1));
    assert_eq!(
        client
            .post(app.url("/api/session"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(
        client
            .post(app.url("/api/session"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn cross_origin_posts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let client = app.client();
    let form = SETUP_FORM;
    let by_origin = client
        .post(app.url("/api/setup"))
        .header("origin", "http://127.0.0.2:9999")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(by_origin.status(), 403);
    let by_fetch_site = client
        .post(app.url("/api/setup"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(by_fetch_site.status(), 403);
    assert!(error_body(by_fetch_site)
        .await
        .to_string()
        .contains("another site"));
    assert_eq!(app.count("SELECT COUNT(*) FROM environment").await, 0);
    // The same request from the console's own origin goes through.
    let own = client
        .post(app.url("/api/setup"))
        .header("origin", format!("http://{}", app.addr))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
}

/// Pages keep the rows every shell reads (user, applied key, environment, marketplace link)
/// between renders, behind a version that triggers move: a change made by hand in the
/// database is on the next page all the same. Without the trigger, it would not be (the rows
/// really are kept).
#[tokio::test]
async fn pages_see_every_change_to_what_the_shell_keeps_even_by_hand() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let page = |path: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let response = admin.get(app.url(path)).send().await.unwrap();
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (status, location, response.text().await.unwrap())
        }
    };
    let by_hand = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };
    let (status, _, body) = page("/instances").await;
    assert_eq!(status, 200);
    assert!(body.contains("Production"));
    // Read twice so that the rows are kept, then renamed by hand.
    assert!(page("/account").await.2.contains("Production"));
    by_hand("UPDATE environment SET display_name = 'Renamed by hand'").await;
    let (_, _, body) = page("/account").await;
    assert!(body.contains("Renamed by hand") && !body.contains("Production"));

    // The applied key edited: the environment is no longer activated.
    let text: String = sqlx::query_scalar("SELECT key_text FROM license_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    by_hand("UPDATE license_keys SET key_text = 'edited'").await;
    assert_eq!(page("/instances").await.1.as_deref(), Some("/activate"));
    sqlx::query("UPDATE license_keys SET key_text = ?")
        .bind(&text)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(page("/instances").await.0, 200);

    // Without the environment's trigger, a rename by hand is not seen: the kept row is used.
    by_hand("DROP TRIGGER shell_reads_environment_update").await;
    by_hand("UPDATE environment SET display_name = 'Unseen'").await;
    let (_, _, body) = page("/account").await;
    assert!(body.contains("Renamed by hand") && !body.contains("Unseen"));

    // The user disabled by hand: signed out at the next page.
    by_hand("UPDATE users SET disabled_at = 1").await;
    assert_eq!(page("/instances").await.1.as_deref(), Some("/login"));
}
