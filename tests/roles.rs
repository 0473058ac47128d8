//! One test per row of the README's role table: every role below the row's is refused (403
//! with a message naming the role needed; 401 signed out) and nothing changes. The UI hiding
//! a button is not what protects an endpoint; these requests go around the UI.

mod common;

use common::*;
use reqwest::{Client, Method};

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Who {
    Anonymous,
    Viewer,
    Operator,
    Admin,
}

/// Everything a refused call could have changed, as one string.
async fn snapshot(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM instances) || '|' || (SELECT COALESCE(SUM(size_aku), 0) FROM instances)
            || '|' || (SELECT group_concat(state) FROM instances)
            || '|' || (SELECT COUNT(*) FROM operations) || '|' || (SELECT COUNT(*) FROM license_keys)
            || '|' || (SELECT group_concat(username || role || COALESCE(disabled_at, '-') || password_hash || credentials_version) FROM users)
            || '|' || (SELECT COUNT(*) || COALESCE(group_concat(hex(stored_key)), '-') FROM kafka_users)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("snapshot")
}

/// Calls `endpoint` as each caller below `min` and expects a refusal that changes nothing.
async fn refused_below(min: Who, method: Method, endpoint: &str, form: &[(&str, &str)]) {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let create = instance_form("orders", 3, &[]);
    assert_eq!(
        admin
            .post(app.url("/api/instance_create"))
            .form(&create)
            .send()
            .await
            .expect("request")
            .status(),
        200
    );
    let callers: Vec<(Who, Client)> = vec![
        (Who::Anonymous, app.client()),
        (Who::Viewer, app.user_client("vera", "viewer").await),
        (Who::Operator, app.user_client("otto", "operator").await),
    ];
    // The create finishes first, so that the snapshot is stable.
    let started = std::time::Instant::now();
    while app
        .count("SELECT COUNT(*) FROM operations WHERE status = 'running'")
        .await
        > 0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the create never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let key = product_key(&app, |p| p.license_id = "LIC-ROLES-2".into());
    let form: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| (*k, if *v == "KEY" { key.as_str() } else { *v }))
        .collect();
    for (who, client) in callers.iter().filter(|(who, _)| *who < min) {
        let before = snapshot(&app).await;
        let request = client.request(method.clone(), app.url(endpoint));
        let request = if method == Method::POST {
            request.form(&form)
        } else {
            request
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        match who {
            Who::Anonymous => assert_eq!(status, 401, "{endpoint} signed out: {body}"),
            _ => {
                assert_eq!(status, 403, "{endpoint} as a lower role: {body}");
                assert!(
                    body.contains("needs the") || body.contains("administrators"),
                    "{endpoint}: {body}"
                );
            }
        }
        assert_eq!(snapshot(&app).await, before, "{endpoint} changed something");
    }
}

macro_rules! row {
    ($test:ident, $min:expr, $method:expr, $endpoint:expr, $form:expr) => {
        #[tokio::test]
        async fn $test() {
            refused_below($min, $method, $endpoint, $form).await;
        }
    };
}

// Signed in, any role.
row!(
    session_needs_a_session,
    Who::Viewer,
    Method::POST,
    "/api/session",
    &[]
);
row!(
    overview_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/overview",
    &[]
);
row!(
    activation_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/activation",
    &[]
);
row!(
    license_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/license",
    &[]
);
row!(
    instances_need_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/instances",
    &[]
);
row!(
    instance_form_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/instance_form",
    &[]
);
row!(
    instance_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/instance",
    &[("id", "1")]
);
row!(
    instance_kafka_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/instance_kafka",
    &[("id", "1")]
);
row!(
    usage_needs_a_viewer,
    Who::Viewer,
    Method::POST,
    "/api/usage",
    &[]
);
row!(
    usage_export_needs_a_viewer,
    Who::Viewer,
    Method::GET,
    "/usage.csv",
    &[]
);
row!(
    usage_json_needs_a_viewer,
    Who::Viewer,
    Method::GET,
    "/usage.json",
    &[]
);
row!(
    account_needs_a_session,
    Who::Viewer,
    Method::POST,
    "/api/account",
    &[]
);
row!(
    password_change_needs_a_session,
    Who::Viewer,
    Method::POST,
    "/api/password_change",
    &[
        ("current_password", ADMIN_PASSWORD),
        ("new_password", "Chosen-Walnut-Harbor-58"),
        ("new_password_confirm", "Chosen-Walnut-Harbor-58")
    ]
);
// Operators.
row!(
    instance_create_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/instance_create",
    &[
        ("name", "sneaky"),
        ("description", ""),
        ("kafka_version", "3.9.0"),
        ("deployment", "single_zone"),
        ("vpc_id", "vpc-0a1b2c3d"),
        ("subnet_1", "subnet-0000aaaa"),
        ("data_bucket", "acme-kafka"),
        ("wal_mode", "block_volume"),
        ("client_auth", "sasl_scram"),
        ("transit_encryption", "tls"),
        ("endpoint_exposure", "vpc"),
        ("size_aku", "3")
    ]
);
row!(
    instance_scale_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/instance_scale",
    &[("id", "1"), ("size_aku", "6")]
);
row!(
    instance_delete_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/instance_delete",
    &[("id", "1"), ("confirm_name", "orders")]
);
row!(
    instance_retry_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/instance_retry",
    &[("id", "1")]
);
row!(
    topic_create_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/topic_create",
    &[("id", "1"), ("topic", "events"), ("partitions", "3")]
);
row!(
    topic_retention_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/topic_retention",
    &[("id", "1"), ("topic", "events"), ("retention_hours", "24")]
);
row!(
    topic_delete_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/topic_delete",
    &[("id", "1"), ("topic", "events"), ("confirm", "events")]
);
row!(
    kafka_user_create_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/kafka_user_create",
    &[
        ("id", "1"),
        ("username", "app"),
        ("mechanism", "SCRAM-SHA-512")
    ]
);
row!(
    kafka_user_rotate_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/kafka_user_rotate",
    &[("id", "1"), ("username", "app")]
);
row!(
    kafka_user_delete_needs_an_operator,
    Who::Operator,
    Method::POST,
    "/api/kafka_user_delete",
    &[("id", "1"), ("username", "app")]
);
row!(
    ca_certificate_needs_a_viewer,
    Who::Viewer,
    Method::GET,
    "/kafka/ca.pem",
    &[]
);
// Admins.
row!(
    license_preview_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/license_preview",
    &[("key", "KEY")]
);
row!(
    license_apply_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/license_apply",
    &[("key", "KEY")]
);
row!(
    users_need_an_admin,
    Who::Admin,
    Method::POST,
    "/api/users",
    &[]
);
row!(
    user_create_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/user_create",
    &[
        ("username", "eve"),
        ("role", "admin"),
        ("password", "Temporary-Orchid-Gate-17"),
        ("password_confirm", "Temporary-Orchid-Gate-17")
    ]
);
row!(
    user_role_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/user_role",
    &[("id", "2"), ("role", "admin")]
);
row!(
    user_disable_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/user_disable",
    &[("id", "1"), ("disabled", "true")]
);
row!(
    user_reset_password_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/user_reset_password",
    &[
        ("id", "1"),
        ("password", "Temporary-Orchid-Gate-17"),
        ("password_confirm", "Temporary-Orchid-Gate-17")
    ]
);
row!(
    audit_needs_an_admin,
    Who::Admin,
    Method::POST,
    "/api/audit",
    &[]
);
row!(
    audit_export_needs_an_admin,
    Who::Admin,
    Method::GET,
    "/audit.csv",
    &[]
);
