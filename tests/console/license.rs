//! Activation, renewal, upgrade, downgrade and refused keys, through HTTP on a real SQLite file.

use crate::common::*;
use time::macros::datetime;
use time::Duration;

async fn license_json(app: &TestApp, client: &reqwest::Client) -> serde_json::Value {
    let response = client.post(app.url("/api/license")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A new sign-in (clock jumps of days outlive the 12-hour session limit).
async fn sign_in_again(app: &TestApp) -> reqwest::Client {
    let client = app.client();
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        200
    );
    client
}

async fn refusal(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 422);
    let body = error_body(response).await;
    assert_eq!(body["Invalid"]["field"], "key", "{body}");
    body["Invalid"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn pages_lead_to_activation_until_a_key_is_applied() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    assert_redirects(
        &app,
        &client,
        &["/", "/instances", "/license", "/users"],
        "/activate",
    )
    .await;
    let page = client.get(app.url("/activate")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&app.state.installation_id),
        "the page shows the Installation ID"
    );

    assert_eq!(
        app.apply_key(&client, &product_key(&app, |_| {}))
            .await
            .status(),
        200
    );
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);
    let activate = client.get(app.url("/activate")).send().await.unwrap();
    assert_eq!(activate.headers()["location"], "/license");
}

#[tokio::test]
async fn activation_shows_the_license_and_is_audited() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    let key = product_key(&app, |_| {});
    // Mail clients wrap long lines: the key still applies.
    let wrapped = format!("  {}\n{}  \n", &key[..60], &key[60..]);
    let response = app.apply_key(&client, &wrapped).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["location"], "/license?applied=1");

    let license = license_json(&app, &client).await;
    assert_eq!(license["banner"]["phase"], "Active");
    assert_eq!(license["banner"]["run_time_key"], true);
    assert_eq!(license["current"]["billing"], "prepaid");
    assert_eq!(license["current"]["aku_quota"], 100);
    assert_eq!(license["current"]["license_id"], "LIC-TEST-1");
    // 2026-11-22 12:00 to 2027-11-01 00:00: 343.5 days, rounded up.
    assert_eq!(license["banner"]["days_left"], 344);
    assert_eq!(license["history"].as_array().unwrap().len(), 1);
    assert_eq!(license["history"][0]["applied_by"], "admin");

    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'license_applied'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        detail.starts_with("Activation: license LIC-TEST-1 (prepaid), 100 AKU"),
        "{detail}"
    );
    assert!(detail.contains("run-time trusted key"), "{detail}");
    // The overview shows it too.
    let overview: serde_json::Value = client
        .post(app.url("/api/overview"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["license"]["aku_quota"], 100);
    assert_eq!(overview["license_banner"]["phase"], "Active");
}

#[tokio::test]
async fn non_admins_cannot_activate() {
    let app = spawn_app().await;
    app.admin_client().await;
    for role in ["viewer", "operator"] {
        let client = app.user_client(&format!("{role}1"), role).await;
        let key = product_key(&app, |_| {});
        let response = app.apply_key(&client, &key).await;
        assert_eq!(response.status(), 403, "{role}");
        assert!(error_body(response)
            .await
            .to_string()
            .contains("admin role"));
        assert_eq!(app.preview_key(&client, &key).await.status(), 403);
        // They see that activation awaits an admin.
        let info: serde_json::Value = client
            .post(app.url("/api/activation"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["can_activate"], false);
        assert_eq!(info["phase"], "Unactivated");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM license_keys").await, 0);
}

#[tokio::test]
async fn renewal_and_upgrade_are_previewed_then_applied() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;

    let renewal = product_key(&app, |p| {
        p.issued_at = datetime!(2026-11-21 00:00 UTC);
        p.expires_at = datetime!(2028-11-01 00:00 UTC);
    });
    let preview: serde_json::Value = app
        .preview_key(&client, &renewal)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["change"]["kind"], "Renewal");
    assert_eq!(preview["change"]["expires_from"], "2027-11-01T00:00:00Z");
    assert_eq!(preview["change"]["expires_to"], "2028-11-01T00:00:00Z");
    // The preview changed nothing.
    assert_eq!(app.count("SELECT COUNT(*) FROM license_keys").await, 1);
    assert_eq!(app.apply_key(&client, &renewal).await.status(), 200);

    let upgrade = product_key(&app, |p| {
        p.issued_at = datetime!(2026-11-22 00:00 UTC);
        p.expires_at = datetime!(2028-11-01 00:00 UTC);
        p.aku_quota = Some(300);
    });
    let preview: serde_json::Value = app
        .preview_key(&client, &upgrade)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["change"]["kind"], "Upgrade");
    assert_eq!(preview["change"]["quota_from"], 100);
    assert_eq!(preview["change"]["quota_to"], 300);
    assert_eq!(preview["change"]["over_quota_by"], serde_json::Value::Null);
    assert_eq!(app.apply_key(&client, &upgrade).await.status(), 200);

    let license = license_json(&app, &client).await;
    assert_eq!(license["current"]["aku_quota"], 300);
    assert_eq!(
        license["current"]["expires_at"],
        datetime!(2028-11-01 00:00 UTC).unix_timestamp()
    );
    let history = license["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0]["license"]["aku_quota"], 300, "newest first");
}

#[tokio::test]
async fn a_downgrade_applies_and_an_older_key_cannot_undo_it() {
    let app = spawn_app().await;
    let client = app.activated_admin_client().await;
    let original = product_key(&app, |_| {});
    let downgrade = product_key(&app, |p| {
        p.issued_at = datetime!(2026-11-21 00:00 UTC);
        p.aku_quota = Some(30);
    });
    let preview: serde_json::Value = app
        .preview_key(&client, &downgrade)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["change"]["kind"], "Downgrade");
    assert_eq!(app.apply_key(&client, &downgrade).await.status(), 200);

    // Replaying the older, larger key is refused and changes nothing.
    let message = refusal(app.apply_key(&client, &original).await).await;
    assert!(
        message.contains("before the license already applied"),
        "{message}"
    );
    let message = refusal(app.apply_key(&client, &downgrade).await).await;
    assert_eq!(message, "This product key is already applied.");
    assert_eq!(
        license_json(&app, &client).await["current"]["aku_quota"],
        30
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM license_keys").await, 2);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'license_key' AND outcome = 'refused'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn every_bad_key_is_refused_with_its_rule_and_changes_nothing() {
    let app = spawn_app().await;
    let client = app.admin_client().await;
    let good = product_key(&app, |_| {});
    let other_vendor = {
        use app::domain::license::issue;
        let mut payload = app::domain::license::tests_support_payload(&app.state.installation_id);
        payload.key_id = "someone-else".into();
        issue(&payload, &ed25519_dalek::SigningKey::from_bytes(&[1; 32])).unwrap()
    };
    let forged_signature = {
        let parts: Vec<&str> = good.split('.').collect();
        let other = product_key(&app, |p| p.aku_quota = Some(5000));
        let other_parts: Vec<&str> = other.split('.').collect();
        format!("{}.{}.{}", parts[0], other_parts[1], parts[2])
    };
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "not a product key"),
        ("hello world".into(), "not a product key"),
        (good.replacen("BYOC1", "BYOC9", 1), "does not support"),
        (other_vendor, "does not trust"),
        (forged_signature, "signature does not match"),
        (
            product_key(&app, |p| p.installation_id = "another-installation".into()),
            "belongs to another installation",
        ),
        (
            product_key(&app, |p| p.starts_at = datetime!(2026-12-01 00:00 UTC)),
            "valid only from 2026-12-01",
        ),
        (
            product_key(&app, |p| {
                p.starts_at = datetime!(2025-01-01 00:00 UTC);
                p.expires_at = datetime!(2026-11-22 00:00 UTC);
            }),
            "expired on 2026-11-22",
        ),
    ];
    for (key, expected) in &cases {
        let message = refusal(app.apply_key(&client, key).await).await;
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
        let preview = refusal(app.preview_key(&client, key).await).await;
        assert_eq!(preview, message);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM license_keys").await, 0);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'license_key' AND outcome = 'refused'"
        )
        .await,
        2 * cases.len() as i64
    );
}

#[tokio::test]
async fn the_state_follows_the_clock_and_changes_are_audited() {
    let app = spawn_app().await;
    app.activated_admin_client().await;
    let phase = |v: serde_json::Value| v["banner"]["phase"].as_str().unwrap().to_string();
    app::server::license::notice_phase_change(&app.state)
        .await
        .unwrap();

    // 2027-11-01 is the expiry; the clock starts at 2026-11-22 12:00.
    app.clock
        .advance(datetime!(2027-10-25 00:00 UTC) - datetime!(2026-11-22 12:00 UTC));
    let client = sign_in_again(&app).await;
    let license = license_json(&app, &client).await;
    assert_eq!(phase(license.clone()), "ExpiringSoon");
    assert_eq!(license["banner"]["urgency"], "Warning");
    assert_eq!(license["banner"]["days_left"], 7);
    app::server::license::notice_phase_change(&app.state)
        .await
        .unwrap();

    app.clock.advance(Duration::days(7));
    let client = sign_in_again(&app).await;
    assert_eq!(phase(license_json(&app, &client).await), "ExpiredGrace");
    app.clock.advance(Duration::days(14));
    let client = sign_in_again(&app).await;
    assert_eq!(phase(license_json(&app, &client).await), "Lapsed");
    app::server::license::notice_phase_change(&app.state)
        .await
        .unwrap();

    let changes: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'license_state' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        changes,
        [
            "unactivated -> active",
            "active -> expiring_soon",
            "expiring_soon -> lapsed"
        ]
    );

    // The license page stays reachable for the admin when lapsed, and a new key restores it.
    assert_eq!(
        client
            .get(app.url("/license"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let renewal = product_key(&app, |p| {
        p.issued_at = datetime!(2027-11-15 00:00 UTC);
        p.starts_at = datetime!(2027-11-15 00:00 UTC);
        p.expires_at = datetime!(2028-11-15 00:00 UTC);
    });
    assert_eq!(app.apply_key(&client, &renewal).await.status(), 200);
    assert_eq!(phase(license_json(&app, &client).await), "Active");
}

#[tokio::test]
async fn a_clock_turned_back_does_not_revive_an_expired_license() {
    let app = spawn_app().await;
    app.activated_admin_client().await;
    // Run past expiry and grace: lapsed.
    app.clock
        .advance(datetime!(2027-12-01 00:00 UTC) - datetime!(2026-11-22 12:00 UTC));
    let client = sign_in_again(&app).await;
    assert_eq!(
        license_json(&app, &client).await["banner"]["phase"],
        "Lapsed"
    );
    // Someone turns the host clock back a year: still lapsed, and the admin is warned.
    app.clock.advance(-Duration::days(365));
    let client = sign_in_again(&app).await;
    let license = license_json(&app, &client).await;
    assert_eq!(license["banner"]["phase"], "Lapsed");
    assert_eq!(license["banner"]["clock_turned_back"], true);
}

/// Pages reuse the stored key's verification while its text is the same; a text edited in the
/// database is verified again and stops counting, even one that is a valid key of its own.
#[tokio::test]
async fn an_applied_key_edited_in_the_database_stops_counting() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let current = |v: &serde_json::Value| v["current"]["aku_quota"].clone();
    assert_eq!(current(&license_json(&app, &admin).await), 100);
    let text: String = sqlx::query_scalar("SELECT key_text FROM license_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let set = |text: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query("UPDATE license_keys SET key_text = ?")
                .bind(text)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    // A character of the signature changed: it no longer holds.
    let at = text.len() - 10;
    let changed = if &text[at..at + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{changed}{}", &text[..at], &text[at + 1..]);
    set(tampered).await;
    let page = license_json(&app, &admin).await;
    assert!(page["current"].is_null(), "{page}");
    assert_eq!(page["banner"]["phase"], "Unactivated");
    // The text as applied: it counts again.
    set(text.clone()).await;
    assert_eq!(current(&license_json(&app, &admin).await), 100);
    // Another key the vendor signed, but not the one applied (its fingerprint differs).
    set(product_key(&app, |p| p.aku_quota = Some(1000))).await;
    let page = license_json(&app, &admin).await;
    assert!(page["current"].is_null(), "{page}");
}
