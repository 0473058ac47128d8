//! Users, the own account, and the hash-chained audit log, through HTTP on a real SQLite file,
//! and the administrator commands (reset-password, backup, audit verify) on the binary.

use crate::common::*;
use reqwest::{Client, Response};
use serde_json::Value;
use std::process::Command;

const TEMPORARY: &str = "Temporary-Orchid-Gate-17";
const CHOSEN: &str = "Chosen-Walnut-Harbor-58";

async fn create_user(app: &TestApp, admin: &Client, name: &str, role: &str) -> Response {
    app.post_form(
        admin,
        "/api/user_create",
        &[
            ("username", name),
            ("role", role),
            ("password", TEMPORARY),
            ("password_confirm", TEMPORARY),
        ],
    )
    .await
}

async fn users(app: &TestApp, admin: &Client) -> Value {
    let response = app.post_form(admin, "/api/users", &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn user_id(list: &Value, name: &str) -> String {
    list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} listed"))["id"]
        .to_string()
}

async fn signed_in(app: &TestApp, name: &str, password: &str) -> Client {
    let client = app.client();
    let response = app.login(&client, name, password).await;
    assert_eq!(response.status(), 200, "{name} signs in");
    client
}

async fn change_password(app: &TestApp, client: &Client, current: &str, new: &str) -> Response {
    app.post_form(
        client,
        "/api/password_change",
        &[
            ("current_password", current),
            ("new_password", new),
            ("new_password_confirm", new),
        ],
    )
    .await
}

async fn message(response: Response) -> String {
    let body = error_body(response).await;
    body.as_object()
        .and_then(|o| o.values().next())
        .map(|v| {
            v.get("message")
                .unwrap_or(v)
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_new_user_must_change_the_temporary_password_before_anything_else() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    assert_eq!(
        create_user(&app, &admin, "Otto", "operator").await.status(),
        200
    );
    let list = users(&app, &admin).await;
    let otto = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "otto")
        .unwrap();
    assert_eq!(otto["role"], "operator");
    assert_eq!(otto["must_change_password"], true);
    assert_eq!(otto["last_login_at"], Value::Null);

    let client = signed_in(&app, "otto", TEMPORARY).await;
    // Every page leads to the account page; every other function is refused.
    assert_redirects(&app, &client, &["/", "/instances", "/license"], "/account").await;
    let refused = app.post_form(&client, "/api/instances", &[]).await;
    assert_eq!(refused.status(), 403);
    assert!(message(refused)
        .await
        .contains("Choose a new password first"));
    let session: Value = app
        .post_form(&client, "/api/session", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["must_change_password"], true);

    // Wrong current password, the same password, a short one: each names its field.
    let wrong = change_password(&app, &client, "not-it-at-all-123", CHOSEN).await;
    assert_eq!(
        error_body(wrong).await["Invalid"]["field"],
        "current_password"
    );
    let same = change_password(&app, &client, TEMPORARY, TEMPORARY).await;
    assert_eq!(error_body(same).await["Invalid"]["field"], "new_password");
    let short = change_password(&app, &client, TEMPORARY, "short").await;
    assert_eq!(error_body(short).await["Invalid"]["field"], "new_password");

    assert_eq!(
        change_password(&app, &client, TEMPORARY, CHOSEN)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_form(&client, "/api/instances", &[]).await.status(),
        200
    );
    assert_eq!(
        client
            .get(app.url("/instances"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.login(&app.client(), "otto", TEMPORARY).await.status(),
        422
    );
    signed_in(&app, "otto", CHOSEN).await;
}

#[tokio::test]
async fn changing_the_own_password_ends_the_other_sessions_only() {
    let app = spawn_app().await;
    let here = app.activated_admin_client().await;
    let elsewhere = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(
        change_password(&app, &here, ADMIN_PASSWORD, CHOSEN)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_form(&here, "/api/session", &[]).await.status(),
        200
    );
    assert_eq!(
        app.post_form(&elsewhere, "/api/session", &[])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password_change' AND outcome = 'success'").await,
        1
    );
}

#[tokio::test]
async fn roles_disable_reset_and_the_last_admin_rule() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    for (name, role) in [("otto", "operator"), ("vera", "viewer"), ("ada", "admin")] {
        assert_eq!(create_user(&app, &admin, name, role).await.status(), 200);
    }
    // Duplicate names and bad roles are refused by field.
    let dup = create_user(&app, &admin, "OTTO", "viewer").await;
    assert_eq!(error_body(dup).await["Invalid"]["field"], "username");
    let bad = create_user(&app, &admin, "zed", "root").await;
    assert_eq!(error_body(bad).await["Invalid"]["field"], "role");

    let list = users(&app, &admin).await;
    let (admin_id, otto, vera, ada) = (
        user_id(&list, ADMIN),
        user_id(&list, "otto"),
        user_id(&list, "vera"),
        user_id(&list, "ada"),
    );

    // Roles change.
    let r = app
        .post_form(
            &admin,
            "/api/user_role",
            &[("id", &vera), ("role", "operator")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let same = app
        .post_form(
            &admin,
            "/api/user_role",
            &[("id", &vera), ("role", "operator")],
        )
        .await;
    assert_eq!(error_body(same).await["Invalid"]["field"], "role");

    // Disabling ends the user's sessions at once and refuses sign-in.
    let otto_client = signed_in(&app, "otto", TEMPORARY).await;
    let r = app
        .post_form(
            &admin,
            "/api/user_disable",
            &[("id", &otto), ("disabled", "true")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.post_form(&otto_client, "/api/session", &[])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login(&app.client(), "otto", TEMPORARY).await.status(),
        403
    );
    let r = app
        .post_form(
            &admin,
            "/api/user_disable",
            &[("id", &otto), ("disabled", "false")],
        )
        .await;
    assert_eq!(r.status(), 200);
    signed_in(&app, "otto", TEMPORARY).await;

    // A reset: sessions end, the new temporary password must be changed.
    let vera_client = signed_in(&app, "vera", TEMPORARY).await;
    let reset = app
        .post_form(
            &admin,
            "/api/user_reset_password",
            &[
                ("id", &vera),
                ("password", CHOSEN),
                ("password_confirm", CHOSEN),
            ],
        )
        .await;
    assert_eq!(reset.status(), 200);
    assert_eq!(
        app.post_form(&vera_client, "/api/session", &[])
            .await
            .status(),
        401
    );
    let vera_client = signed_in(&app, "vera", CHOSEN).await;
    assert_eq!(
        app.post_form(&vera_client, "/api/instances", &[])
            .await
            .status(),
        403
    );

    // Two admins: one may be demoted; then the last one can be neither demoted nor disabled.
    let r = app
        .post_form(
            &admin,
            "/api/user_role",
            &[("id", &ada), ("role", "viewer")],
        )
        .await;
    assert_eq!(r.status(), 200);
    for (endpoint, form) in [
        (
            "/api/user_role",
            [("id", admin_id.as_str()), ("role", "operator")],
        ),
        (
            "/api/user_disable",
            [("id", admin_id.as_str()), ("disabled", "true")],
        ),
    ] {
        let refused = app.post_form(&admin, endpoint, &form).await;
        assert_eq!(refused.status(), 409, "{endpoint}");
        assert!(message(refused).await.contains("last active administrator"));
    }
    let list = users(&app, &admin).await;
    let me = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == ADMIN)
        .unwrap()
        .clone();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["disabled"], false);

    // All of it is in the audit log.
    for action in [
        "user_create",
        "user_role",
        "user_disable",
        "user_enable",
        "user_password_reset",
    ] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND outcome = 'success'"
            ))
            .await;
        assert!(n >= 1, "{action} audited");
    }
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    assert_eq!(
        create_user(&app, &admin, "ada", "admin").await.status(),
        200
    );
    let ada = signed_in(&app, "ada", TEMPORARY).await;
    assert_eq!(
        change_password(&app, &ada, TEMPORARY, CHOSEN)
            .await
            .status(),
        200
    );
    let list = users(&app, &admin).await;
    let (admin_id, ada_id) = (user_id(&list, ADMIN), user_id(&list, "ada"));
    let demote_ada = [("id", ada_id.as_str()), ("role", "viewer")];
    let demote_admin = [("id", admin_id.as_str()), ("role", "viewer")];
    let (a, b) = tokio::join!(
        app.post_form(&admin, "/api/user_role", &demote_ada),
        app.post_form(&ada, "/api/user_role", &demote_admin),
    );
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
            .await,
        1,
        "{statuses:?}"
    );
}

async fn audit_page(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> Value {
    let response = app.post_form(client, "/api/audit", form).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_audit_log_filters_pages_exports_and_shows_a_broken_chain() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    // 60 failed sign-ins by "mallory", every 20 minutes from 2026-11-22 12:00: 36 on the
    // first day, 24 on the next. (Appended through the store: sign-in itself is rate limited.)
    let start = {
        use app::server::clock::Clock;
        app.clock.now().unix_timestamp()
    };
    for i in 0..60 {
        app::server::store::audit::append(
            &app.pool,
            app::server::store::audit::Entry {
                at: start + i * 1200,
                actor: "mallory",
                action: "login",
                target: None,
                client_addr: Some("203.0.113.9"),
                outcome: "failure",
                detail: Some("wrong user name or password"),
            },
        )
        .await
        .unwrap();
    }
    let all = audit_page(&app, &admin, &[]).await;
    assert_eq!(all["chain"]["intact"], true, "{}", all["chain"]);
    assert!(all["total"].as_i64().unwrap() > 60);
    assert_eq!(all["entries"].as_array().unwrap().len(), 50);
    assert!(all["next"].is_string(), "{}", all["next"]);

    let mallory = audit_page(&app, &admin, &[("actor", "mallory"), ("action", "login")]).await;
    let total = mallory["total"].as_i64().unwrap();
    assert_eq!(total, 60);
    assert!(mallory["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "mallory"));
    // The next page goes on where the first ended, newest first, and is the last.
    let ids = |page: &Value| -> Vec<i64> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let cursor = mallory["next"].as_str().unwrap().to_string();
    let page_two = audit_page(
        &app,
        &admin,
        &[
            ("actor", "mallory"),
            ("action", "login"),
            ("cursor", &cursor),
        ],
    )
    .await;
    assert_eq!(page_two["entries"].as_array().unwrap().len(), 10);
    assert!(page_two["next"].is_null(), "{}", page_two["next"]);
    let both: Vec<i64> = ids(&mallory).into_iter().chain(ids(&page_two)).collect();
    assert_eq!(both.len(), 60);
    assert!(both.windows(2).all(|w| w[0] > w[1]), "{both:?}");
    // An entry appended meanwhile does not move the next page (an offset would have).
    let appended = audit_page(&app, &admin, &[("cursor", &cursor)]).await;
    app::server::store::audit::append(
        &app.pool,
        app::server::store::audit::Entry {
            at: start,
            actor: "trent",
            action: "login",
            target: None,
            client_addr: Some("203.0.113.7"),
            outcome: "failure",
            detail: Some("wrong user name or password"),
        },
    )
    .await
    .unwrap();
    let again = audit_page(&app, &admin, &[("cursor", &cursor)]).await;
    assert_eq!(ids(&appended), ids(&again));
    for bad in ["a0", "i5", "7", "a-1"] {
        let response = app
            .post_form(&admin, "/api/audit", &[("cursor", bad)])
            .await;
        assert_eq!(
            error_body(response).await["Invalid"]["field"],
            "cursor",
            "{bad}"
        );
    }
    // Dates, both inclusive.
    let first_day = audit_page(
        &app,
        &admin,
        &[
            ("actor", "mallory"),
            ("from", "2026-11-22"),
            ("until", "2026-11-22"),
        ],
    )
    .await;
    assert_eq!(first_day["total"], 36);
    let second_day = audit_page(
        &app,
        &admin,
        &[("actor", "mallory"), ("from", "2026-11-23")],
    )
    .await;
    assert_eq!(second_day["total"], 24);
    let bad = app
        .post_form(&admin, "/api/audit", &[("from", "yesterday")])
        .await;
    assert_eq!(error_body(bad).await["Invalid"]["field"], "from");

    // CSV export of the same filter, with the hashes.
    let csv = admin
        .get(app.url("/audit.csv?actor=mallory&action=login"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    assert!(headers.iter().any(|h| h == "hash"));
    assert_eq!(reader.records().count() as i64, total);
    // Not for others.
    assert_eq!(
        app.client()
            .get(app.url("/audit.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // A hand-edited entry: the page and the command say which.
    sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE id = 5")
        .execute(&app.pool)
        .await
        .unwrap();
    let broken = audit_page(&app, &admin, &[]).await;
    assert_eq!(broken["chain"]["intact"], false);
    let message = broken["chain"]["message"].as_str().unwrap();
    assert!(
        message.contains("entry 5 does not match its hash"),
        "{message}"
    );
}

fn console(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_byoc-console"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("runs")
}

#[tokio::test]
async fn admin_commands_reset_a_password_back_up_and_verify_the_chain() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let data = app.dir.path().join("data");
    let data = data.to_str().unwrap();

    // A locked-out admin: the command prints a temporary password, the sessions end.
    let out = console(&[
        "admin",
        "reset-password",
        "--data-dir",
        data,
        "--user",
        "ADMIN",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let temporary = stdout.lines().nth(1).unwrap().trim().to_string();
    assert_eq!(temporary.len(), 20);
    assert_eq!(
        app.post_form(&admin, "/api/session", &[]).await.status(),
        401
    );
    let client = signed_in(&app, ADMIN, &temporary).await;
    assert_eq!(
        app.post_form(&client, "/api/license", &[]).await.status(),
        403,
        "must change first"
    );
    let unknown = console(&[
        "admin",
        "reset-password",
        "--data-dir",
        data,
        "--user",
        "nobody",
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user \"nobody\""));

    // A backup while the console runs: a consistent, owner-only copy that opens.
    let backup = app.dir.path().join("backup.db");
    let out = console(&[
        "backup",
        "--data-dir",
        data,
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", backup.display()))
        .await
        .unwrap();
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM license_keys")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    copy.close().await;
    let again = console(&[
        "backup",
        "--data-dir",
        data,
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(!again.status.success(), "never overwrites");

    // The chain verifies; after a hand edit the command fails and names the entry.
    let ok = console(&["audit", "verify", "--data-dir", data]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE id = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    let broken = console(&["audit", "verify", "--data-dir", data]);
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("entry 2 does not match its hash"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_removed_audit_entry_breaks_the_chain_after_it() {
    let app = spawn_app().await;
    let _admin = app.activated_admin_client().await;
    sqlx::query("DELETE FROM audit_log WHERE id = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    let data = app.dir.path().join("data");
    let out = console(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("entry 3 does not follow entry 1"),
        "{stderr}"
    );
}

/// The audit export is written as it is read, a batch at a time: a log of several batches
/// comes out whole, in order, with one header line, and the filter holds across batches.
#[tokio::test]
async fn the_audit_export_streams_a_log_of_many_batches_whole_and_in_order() {
    let app = spawn_app().await;
    let admin = app.admin_client().await;
    // 2,500 entries written straight into the table (the export reads what is stored; the
    // chain is the page's concern), every third by "mallory".
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
         INSERT INTO audit_log (at, actor, action, target, client_addr, outcome, detail)
         SELECT 1795000000 + i, CASE WHEN i % 3 = 0 THEN 'mallory' ELSE 'bulk' END,
                'login', NULL, '10.0.0.1', 'failure', 'entry ' || i FROM n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let all = app.count("SELECT COUNT(*) FROM audit_log").await;
    assert!(all > 2500);

    let export = |query: &'static str| {
        let admin = admin.clone();
        let url = app.url(&format!("/audit.csv{query}"));
        async move {
            let response = admin.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let text = export("").await;
    assert_eq!(text.matches("id,at,actor").count(), 1, "one header line");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let ids: Vec<i64> = reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(ids.len() as i64, all);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats"
    );

    let text = export("?actor=mallory").await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 833);
    assert!(rows.iter().all(|r| &r[2] == "mallory"));
    assert_eq!(&rows[832][7], "entry 2499");
}

/// The audit page keeps its last walk of the hash chain and goes on from there while the log
/// is only appended to; any other change (an entry edited, removed, or put in before the end)
/// makes it walk the whole chain again, so an edit by hand is found as before.
#[tokio::test]
async fn the_chain_check_goes_on_from_its_last_walk_and_starts_over_after_any_edit() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let first = audit_page(&app, &admin, &[]).await;
    assert_eq!(first["chain"]["intact"], true);
    // Entries appended after the kept walk are checked and counted.
    for _ in 0..3 {
        let _ = app.login(&app.client(), "nobody", "wrong password").await;
    }
    let entries = app.count("SELECT COUNT(*) FROM audit_log").await;
    let again = audit_page(&app, &admin, &[]).await;
    assert_eq!(again["chain"]["intact"], true);
    assert_eq!(
        again["chain"]["message"],
        format!("The hash chain of all {entries} entries is intact.")
    );

    // An old entry edited by hand: the whole chain is walked again and the entry named.
    let detail: Option<String> = sqlx::query_scalar("SELECT detail FROM audit_log WHERE id = 2")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    let broken = audit_page(&app, &admin, &[]).await;
    assert_eq!(broken["chain"]["intact"], false);
    assert!(broken["chain"]["message"]
        .as_str()
        .unwrap()
        .contains("entry 2 does not match its hash"));
    // Put back as it was: intact again (a change is judged by the hashes, not remembered).
    sqlx::query("UPDATE audit_log SET detail = ? WHERE id = 2")
        .bind(&detail)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(audit_page(&app, &admin, &[]).await["chain"]["intact"], true);

    // An entry removed from the middle: the link after it is broken.
    sqlx::query("DELETE FROM audit_log WHERE id = 3")
        .execute(&app.pool)
        .await
        .unwrap();
    let broken = audit_page(&app, &admin, &[]).await;
    assert_eq!(broken["chain"]["intact"], false);
    assert!(
        broken["chain"]["message"]
            .as_str()
            .unwrap()
            .contains("entry 4"),
        "{}",
        broken["chain"]["message"]
    );

    // What the triggers are for: with them dropped, an edit behind the kept walk is not seen
    // by the page (it goes on from its last entry), while the command, which always walks
    // everything, still finds it.
    let fresh = spawn_app().await;
    let admin = fresh.activated_admin_client().await;
    assert_eq!(
        audit_page(&fresh, &admin, &[]).await["chain"]["intact"],
        true
    );
    sqlx::query("DROP TRIGGER audit_log_changed")
        .execute(&fresh.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2")
        .execute(&fresh.pool)
        .await
        .unwrap();
    assert_eq!(
        audit_page(&fresh, &admin, &[]).await["chain"]["intact"],
        true
    );
    let data = fresh.dir.path().join("data");
    let verify = console(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1));
}

/// The users list comes 50 at a time (admins first, then operators, then viewers, each by
/// name, whatever the case), each page going on from the last one's end, and searches names.
#[tokio::test]
async fn the_users_list_comes_a_page_at_a_time_and_searches_names() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    // 120 users written as the store keeps them (hashing 120 passwords would only be slow).
    for k in 0..120 {
        let role = ["viewer", "operator", "admin"][k % 3];
        let name = if k % 2 == 0 {
            format!("User{k:03}")
        } else {
            format!("user{k:03}")
        };
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, 'x', ?, 0)",
        )
        .bind(name)
        .bind(role)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let page = |form: Vec<(&'static str, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = app.post_form(admin, "/api/users", &form).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let mut listed: Vec<(i64, String)> = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let list = page(cursor.map(|c| ("cursor", c)).into_iter().collect()).await;
        let users = list["users"].as_array().unwrap();
        sizes.push(users.len());
        let rank = |role: &str| {
            ["admin", "operator", "viewer"]
                .iter()
                .position(|r| *r == role)
        };
        listed.extend(users.iter().map(|u| {
            let role = u["role"].as_str().unwrap();
            (
                rank(role).unwrap() as i64,
                u["username"].as_str().unwrap().to_string(),
            )
        }));
        cursor = list["next"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    // 121 with the first admin.
    assert_eq!(sizes, vec![50, 50, 21]);
    let mut expected = listed.clone();
    expected.sort_by_key(|(rank, name)| (*rank, name.to_lowercase()));
    expected.dedup();
    assert_eq!(listed, expected, "admins first, then by name, none twice");

    let found = page(vec![("q", "ER11".to_string())]).await;
    let names: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(
        names.iter().all(|n| n.to_lowercase().contains("er11")),
        "{names:?}"
    );
    let none = page(vec![("q", "nobody".to_string())]).await;
    assert_eq!(none["users"], serde_json::json!([]));
    for bad in ["u999999", "a3", "x"] {
        let response = app
            .post_form(&admin, "/api/users", &[("cursor", bad)])
            .await;
        assert_eq!(
            error_body(response).await["Invalid"]["field"],
            "cursor",
            "{bad}"
        );
    }
}
