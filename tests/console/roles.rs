//! The endpoint table (`app::server::endpoints::ENDPOINTS`) checked against the code: every
//! row is called as each caller below its role (signed out: 401; a lower role: 403 with a
//! message naming the role needed) and nothing changes; every state-changing row refuses a
//! request from another site; every server function has a row; the tables of docs/http-api.md
//! are the table. The UI hiding a button is not what protects an endpoint; these requests go
//! around the UI.

use crate::common::*;
use app::domain::account::Role;
use app::server::endpoints::{
    markdown_table, rest_markdown_table, Access, Endpoint, Method as Verb, ENDPOINTS,
};
use reqwest::{Client, Method};
use std::collections::BTreeSet;

#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
enum Who {
    Anonymous,
    Viewer,
    Operator,
    /// REST only: an admin's token that was revoked, or that expired.
    Revoked,
    Expired,
}

/// Everything a refused call could have changed, as one string.
async fn snapshot(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM instances) || '|' || (SELECT COALESCE(SUM(size_aku), 0) FROM instances)
            || '|' || (SELECT group_concat(state) FROM instances)
            || '|' || (SELECT COUNT(*) FROM operations) || '|' || (SELECT COUNT(*) FROM license_keys)
            || '|' || (SELECT group_concat(username || role || COALESCE(disabled_at, '-') || password_hash || credentials_version) FROM users)
            || '|' || (SELECT COUNT(*) || COALESCE(group_concat(hex(stored_key)), '-') FROM kafka_users)
            || '|' || (SELECT COUNT(*) || COALESCE(group_concat(secret_sha256 || COALESCE(revoked_at, '-')), '-') FROM service_accounts)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("snapshot")
}

/// Arguments with which a permitted caller's request would change something (the instance
/// `orders` has id 1; user 1 is the admin, 2 the viewer; service account 1 is `ci-bot`). A row without them fails: the server
/// would answer 400 for the missing arguments before asking who calls.
fn arguments(path: &str, key: &str) -> Vec<(&'static str, String)> {
    let pairs: &[(&'static str, &str)] = match path {
        "/api/setup" => &[
            ("username", "mallory"),
            ("password", "Chosen-Walnut-Harbor-58"),
            ("password_confirm", "Chosen-Walnut-Harbor-58"),
            ("environment_name", "Other"),
            ("cloud_provider", "aws"),
            ("region", "us-east-1"),
        ],
        "/api/login" => &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        "/api/instance" | "/api/instance_kafka" | "/api/instance_retry" => &[("id", "1")],
        "/api/instance_create" => &[
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
            ("size_aku", "3"),
        ],
        "/api/instance_scale" => &[("id", "1"), ("size_aku", "6")],
        "/api/instance_delete" => &[("id", "1"), ("confirm_name", "orders")],
        "/api/topic_create" => &[("id", "1"), ("topic", "events"), ("partitions", "3")],
        "/api/topic_retention" => &[("id", "1"), ("topic", "events"), ("retention_hours", "24")],
        "/api/topic_delete" => &[("id", "1"), ("topic", "events"), ("confirm", "events")],
        "/api/consumer_groups" | "/api/moves" => &[("id", "1")],
        "/api/move_start" => &[("id", "1"), ("path", "storage.db")],
        "/api/consumer_group" => &[("id", "1"), ("group", "app-group")],
        "/api/group_reset_preview" | "/api/group_reset" => {
            &[("id", "1"), ("group", "app-group"), ("to", "earliest")]
        }
        "/api/group_delete" => &[
            ("id", "1"),
            ("group", "app-group"),
            ("confirm", "app-group"),
        ],
        "/api/message_browsing" => &[("id", "1")],
        "/api/message_browsing_set" => &[("id", "1"), ("enabled", "true")],
        "/api/topic_messages" => &[("id", "1"), ("topic", "events")],
        "/api/test_message_write" => &[("id", "1"), ("topic", "events"), ("value", "hi")],
        "/api/kafka_user_create" => &[
            ("id", "1"),
            ("username", "app"),
            ("mechanism", "SCRAM-SHA-512"),
        ],
        "/api/kafka_user_rotate" | "/api/kafka_user_delete" => &[("id", "1"), ("username", "app")],
        "/api/kafka_acl_create" => &[
            ("id", "1"),
            ("username", "app"),
            ("resource_type", "topic"),
            ("resource_name", "events"),
            ("operation", "read"),
        ],
        "/api/kafka_acl_preset" => &[
            ("id", "1"),
            ("username", "app"),
            ("preset", "produce"),
            ("topic", "events"),
        ],
        "/api/kafka_acl_delete" => &[("id", "1"), ("acl_id", "1")],
        "/api/license_preview" | "/api/license_apply" => &[("key", "KEY")],
        "/api/marketplace_link" => &[
            ("marketplace", "aws"),
            ("listing", "demo0byoc0kafka0console01"),
            ("subscription", ""),
        ],
        "/api/marketplace_unlink" => &[("confirm", "unlink")],
        "/api/marketplace_report" => &[("id", "1"), ("decision", "retry")],
        "/api/password_change" => &[
            ("current_password", ADMIN_PASSWORD),
            ("new_password", "Chosen-Walnut-Harbor-58"),
            ("new_password_confirm", "Chosen-Walnut-Harbor-58"),
        ],
        "/api/user_create" => &[
            ("username", "eve"),
            ("role", "admin"),
            ("password", "Temporary-Orchid-Gate-17"),
            ("password_confirm", "Temporary-Orchid-Gate-17"),
        ],
        "/api/user_role" => &[("id", "2"), ("role", "admin")],
        "/api/service_account_create" => &[("name", "sneaky-bot"), ("role", "admin")],
        "/api/service_account_rotate" | "/api/service_account_revoke" => &[("id", "1")],
        "/api/user_disable" => &[("id", "1"), ("disabled", "true")],
        "/api/user_reset_password" => &[
            ("id", "1"),
            ("password", "Temporary-Orchid-Gate-17"),
            ("password_confirm", "Temporary-Orchid-Gate-17"),
        ],
        _ => &[],
    };
    pairs
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *v == "KEY" {
                    key.to_string()
                } else {
                    v.to_string()
                },
            )
        })
        .collect()
}

/// A console with one finished instance (`orders`, id 1), an admin, a viewer and an operator
/// (signed in for the pages, and as service-account tokens for the REST API).
struct Console {
    app: TestApp,
    admin: Client,
    callers: Vec<(Who, Client)>,
    tokens: Vec<(Who, Option<String>)>,
    key: String,
}

/// A service account's token, made on the admins' page.
async fn token(app: &TestApp, admin: &Client, name: &str, role: &str) -> (i64, String) {
    let response = admin
        .post(app.url("/api/service_account_create"))
        .form(&[("name", name), ("role", role)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    (
        body["id"].as_i64().expect("id"),
        body["token"].as_str().expect("token").to_string(),
    )
}

async fn console() -> Console {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let create = instance_form("orders", 3, &[]);
    let response = admin
        .post(app.url("/api/instance_create"))
        .form(&create)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    // Service account 1, for rotate and revoke.
    let response = admin
        .post(app.url("/api/service_account_create"))
        .form(&[("name", "ci-bot"), ("role", "operator")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let callers = vec![
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
    let (_, viewer) = token(&app, &admin, "viewer-bot", "viewer").await;
    let (_, operator) = token(&app, &admin, "operator-bot", "operator").await;
    let (revoked_id, revoked) = token(&app, &admin, "revoked-bot", "admin").await;
    let response = admin
        .post(app.url("/api/service_account_revoke"))
        .form(&[("id", revoked_id.to_string())])
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success() || response.status().is_redirection());
    let (expired_id, expired) = token(&app, &admin, "expired-bot", "admin").await;
    // Expired a second ago (the form takes only days to come).
    sqlx::query("UPDATE service_accounts SET expires_at = ? WHERE id = ?")
        .bind(app::server::clock::Clock::unix(&app.clock) - 1)
        .bind(expired_id)
        .execute(&app.pool)
        .await
        .expect("expire");
    let tokens = vec![
        (Who::Anonymous, None),
        (Who::Viewer, Some(viewer)),
        (Who::Operator, Some(operator)),
        (Who::Revoked, Some(revoked)),
        (Who::Expired, Some(expired)),
    ];
    let key = product_key(&app, |p| p.license_id = "LIC-ROLES-2".into());
    Console {
        app,
        admin,
        callers,
        tokens,
        key,
    }
}

fn request(console: &Console, client: &Client, endpoint: &Endpoint) -> reqwest::RequestBuilder {
    let url = console.app.url(endpoint.path);
    match endpoint.method {
        Verb::Post => client
            .request(Method::POST, url)
            .form(&arguments(endpoint.path, &console.key)),
        _ => client.request(Method::GET, url),
    }
}

/// A JSON body with which a permitted call would change something.
fn rest_body(method: Verb, path: &str, key: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match (method, path) {
        (Verb::Post, "/api/v1/license/preview") | (Verb::Put, "/api/v1/license") => {
            json!({ "key": key })
        }
        (Verb::Post, "/api/v1/instances") => json!({
            "name": "sneaky", "kafka_version": "3.9.0", "deployment": "single_zone",
            "vpc_id": "vpc-0a1b2c3d", "subnets": ["subnet-0000aaaa"],
            "data_bucket": "acme-kafka", "wal_mode": "block_volume",
            "client_auth": "sasl_scram", "transit_encryption": "tls",
            "endpoint_exposure": "vpc", "size_aku": 3
        }),
        (Verb::Post, "/api/v1/instances/{id}/scale") => json!({ "size_aku": 6 }),
        (Verb::Post, "/api/v1/instances/{id}/topics") => {
            json!({ "name": "events", "partitions": 3 })
        }
        (Verb::Patch, "/api/v1/instances/{id}/topics/{name}") => {
            json!({ "retention_hours": 24 })
        }
        (Verb::Post, "/api/v1/instances/{id}/moves") => json!({ "path": "storage.db" }),
        (Verb::Post, "/api/v1/instances/{id}/kafka-users") => {
            json!({ "username": "sneaky", "mechanism": "SCRAM-SHA-512" })
        }
        (Verb::Post, "/api/v1/instances/{id}/consumer-groups/{group}/reset-preview")
        | (Verb::Post, "/api/v1/instances/{id}/consumer-groups/{group}/reset") => {
            json!({ "to": "earliest" })
        }
        (Verb::Put, "/api/v1/instances/{id}/message-browsing") => json!({ "enabled": true }),
        (Verb::Post, "/api/v1/instances/{id}/topics/{name}/messages") => json!({ "value": "hi" }),
        (Verb::Post, "/api/v1/service-accounts") => {
            json!({ "name": "sneaky-bot", "role": "admin" })
        }
        _ => return None,
    })
}

/// A REST row's request with `token` (instance 1, topic `events`, Kafka user `app`, service
/// account 1).
fn rest_request(
    console: &Console,
    token: Option<&str>,
    endpoint: &Endpoint,
) -> reqwest::RequestBuilder {
    let path = endpoint
        .path
        .replace("{id}", "1")
        .replace("{name}", "events")
        .replace("{username}", "app")
        .replace("{group}", "app-group");
    let method = Method::from_bytes(endpoint.method.as_str().as_bytes()).expect("method");
    let mut request = Client::new().request(method, console.app.url(&path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    match rest_body(endpoint.method, endpoint.path, &console.key) {
        Some(body) => request.json(&body),
        None => request,
    }
}

/// The callers an endpoint refuses: everyone below its role, and dead tokens.
fn refused(access: Access, who: Who) -> bool {
    match (access, who) {
        (Access::Anyone | Access::SetupOnce, _) => false,
        (_, Who::Revoked | Who::Expired) => true,
        (Access::SignedIn | Access::Role(Role::Viewer), who) => who == Who::Anonymous,
        (Access::Role(Role::Operator), who) => who < Who::Operator,
        (Access::Role(Role::Admin), _) => true,
    }
}

#[tokio::test]
async fn every_endpoint_refuses_callers_below_its_role_and_changes_nothing() {
    let console = console().await;
    let mut checked = 0;
    for endpoint in ENDPOINTS {
        let callers: Vec<(Who, reqwest::RequestBuilder)> = if endpoint.is_rest() {
            console
                .tokens
                .iter()
                .map(|(who, token)| (*who, rest_request(&console, token.as_deref(), endpoint)))
                .collect()
        } else {
            console
                .callers
                .iter()
                .map(|(who, client)| (*who, request(&console, client, endpoint)))
                .collect()
        };
        for (who, request) in callers {
            if !refused(endpoint.access, who) {
                continue;
            }
            let before = snapshot(&console.app).await;
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let path = endpoint.path;
            match who {
                Who::Anonymous | Who::Revoked | Who::Expired => {
                    assert_eq!(status, 401, "{path} as {who:?}: {body}")
                }
                _ => {
                    assert_eq!(status, 403, "{path} as {who:?}: {body}");
                    assert!(body.contains("needs the"), "{path} as {who:?}: {body}");
                }
            }
            assert_eq!(
                snapshot(&console.app).await,
                before,
                "{path} changed something"
            );
            checked += 1;
        }
    }
    // Every row below "anyone" refuses at least the signed-out caller.
    let rows = ENDPOINTS
        .iter()
        .filter(|e| refused(e.access, Who::Anonymous))
        .count();
    assert!(checked > rows, "{checked} refusals checked for {rows} rows");
}

#[tokio::test]
async fn every_state_changing_endpoint_refuses_a_request_from_another_site() {
    let console = console().await;
    // The pages' state-changing requests; the REST API reads no cookie, so a forged request
    // from another site carries nothing that opens it.
    for endpoint in ENDPOINTS
        .iter()
        .filter(|e| e.method == Verb::Post && !e.is_rest())
    {
        let before = snapshot(&console.app).await;
        let response = request(&console, &console.admin, endpoint)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 403, "{} from another site: {body}", endpoint.path);
        assert!(body.contains("another site"), "{}: {body}", endpoint.path);
        assert_eq!(
            snapshot(&console.app).await,
            before,
            "{} changed something",
            endpoint.path
        );
    }
}

#[tokio::test]
async fn every_server_function_has_a_row_and_every_row_a_server_function() {
    // The server functions register themselves at start-up; the router builds from them.
    let _app = spawn_app().await;
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_string())
        .collect();
    let table: BTreeSet<String> = ENDPOINTS
        .iter()
        .filter(|e| e.path.starts_with("/api/") && !e.is_rest())
        .map(|e| e.path.to_string())
        .collect();
    assert!(registered.len() > 30, "registered: {registered:?}");
    assert_eq!(
        registered.difference(&table).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "server functions without a row in app::server::endpoints::ENDPOINTS"
    );
    assert_eq!(
        table.difference(&registered).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "rows without a server function"
    );
}

#[test]
fn the_documented_endpoint_tables_are_the_code_table() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/http-api.md"))
        .expect("docs/http-api.md");
    for table in [markdown_table(), rest_markdown_table()] {
        assert!(
            page.contains(&table),
            "docs/http-api.md's endpoint table differs from app::server::endpoints::ENDPOINTS; it should read:\n{table}"
        );
    }
}
