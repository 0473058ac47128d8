//! Opening the data directory and the database: permissions, settings and clear errors.

use app::server::db::{self, OpenError};
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn data_dir_is_created_owner_only_and_database_uses_wal_full_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/data");
    let pool = db::open(&dir).await.unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(busy, 5000);
}

#[tokio::test]
async fn installation_id_is_generated_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = db::open(tmp.path()).await.unwrap();
    let first = app::server::store::environment::installation_id(&pool, 1)
        .await
        .unwrap();
    pool.close().await;
    let pool = db::open(tmp.path()).await.unwrap();
    let again = app::server::store::environment::installation_id(&pool, 2)
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(first.len(), 36);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(db::DATABASE_FILE), vec![b'x'; 4096]).unwrap();
    let error = db::open(tmp.path()).await.unwrap_err();
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
    assert!(
        error.to_string().contains("is not a SQLite database"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unwritable_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: cannot be created or written, also as root.
    let blocked = tmp.path().join("data");
    std::fs::write(&blocked, b"").unwrap();
    let error = db::open(&blocked.join("sub")).await.unwrap_err();
    assert!(matches!(error, OpenError::CreateDir { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("cannot create the data directory"),
        "{error}"
    );
}

#[tokio::test]
async fn a_second_console_on_the_same_data_directory_is_refused() {
    use byoc_console::{leptos_options, Console};
    let tmp = tempfile::tempdir().unwrap();
    let open = || {
        Console::open(
            tmp.path(),
            app::server::Config::default(),
            std::sync::Arc::new(app::server::clock::SystemClock),
            leptos_options("127.0.0.1:0".parse().unwrap()),
            vec![],
        )
    };
    let first = open().await.expect("the first console opens");
    let error = open().await.err().expect("the second is refused");
    assert!(
        error
            .to_string()
            .contains("another console is already running"),
        "{error}"
    );
    drop(first);
    open().await.expect("free again once the first is gone");
}

/// A value on disk that the code does not know is an error naming the table, the row and the
/// value, never a default: a hand-edited JSON column makes the instance list fail (with a
/// reference, no internals), not show an instance without its zones.
#[tokio::test]
async fn a_value_on_disk_the_code_does_not_know_is_an_error_not_a_default() {
    use app::server::store;
    let app = crate::common::spawn_app().await;
    let client = app.activated_admin_client().await;
    let created = client
        .post(app.url("/api/instance_create"))
        .form(&crate::common::instance_form("orders", 3, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let id: i64 = created.json().await.unwrap();
    sqlx::query("UPDATE instances SET zones = 'eu-central-1a' WHERE id = ?")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let error = store::instances::get(&mut conn, id)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "instances row {id}: zones \"eu-central-1a\" is not valid JSON"
        )),
        "{error}"
    );
    drop(conn);
    let listed = app.post_form(&client, "/api/instances", &[]).await;
    assert_eq!(listed.status(), 500);
    let body = listed.text().await.unwrap();
    assert!(
        body.contains("\"Internal\"") && !body.contains("zones"),
        "{body}"
    );
}
