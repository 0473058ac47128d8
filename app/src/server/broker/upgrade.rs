//! Moving an instance's storage from tansu 0.6.0 to nisshi 0.8.1.
//!
//! nisshi opens a tansu 0.6.0 SQLite file, but it never changes a table that exists: it only
//! creates missing ones (`create table if not exists`), then records its schema version and
//! does not look again. tansu-storage 0.6.0 `src/ddl/` and nisshi-storage-sql 0.8.1 `src/ddl/`
//! differ in three places, and only the first breaks an old file:
//!
//! - `header` gains `ordinal` (a header's place in its record, from 0) and the primary key
//!   `(topition, offset_id, ordinal)`. nisshi's fetch orders by it ("no such column:
//!   h.ordinal": no old message can be read) and its produce writes it (headers are dropped).
//!   SQLite cannot add a primary key to a table, so the table is rebuilt.
//! - `virtual_topic` is a new table.
//! - `nisshi_schema_version` is a new table with one row (version 1, oldest compatible 1).
//!
//! [`migrate_storage`] makes those changes once, with nisshi's own DDL text, so that a
//! migrated file has the schema of a file that nisshi 0.8.1 created itself.

use crate::server::provisioner::ProvisionError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::Path;

/// What [`migrate_storage`] did to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// Nothing to change: the file has nisshi 0.8.1's schema, holds no tables yet, or does not
    /// exist (nisshi creates its own schema in a new file).
    AlreadyCurrent,
    /// Brought to nisshi 0.8.1's schema; `headers` rows of the `header` table were copied.
    Migrated { headers: u64 },
}

// nisshi-storage-sql 0.8.1's DDL, as nisshi runs it (its `remove_comments` joins the lines of
// ddl/040-header.sql, ddl/030-virtual-topic.sql and sql/nisshi_schema_version_create.sql with
// single spaces). The same text gives the same `sqlite_schema` rows as a file nisshi created.
const HEADER_DDL: &str = "create table if not exists header ( topition integer, offset_id integer, ordinal integer, k blob, v blob, last_updated datetime default current_timestamp not null, created_at datetime default current_timestamp not null, primary key (topition, offset_id, ordinal), foreign key (topition, offset_id) references record (topition, offset_id) on delete cascade );";
const VIRTUAL_TOPIC_DDL: &str = "create table if not exists virtual_topic ( id integer primary key autoincrement, topic integer references topic (id) on delete cascade, k blob, uuid text not null unique, last_updated datetime default current_timestamp not null, created_at datetime default current_timestamp not null, unique(topic, k) );";
const SCHEMA_VERSION_DDL: &str = "create table if not exists nisshi_schema_version ( id int primary key check (id = 1), version int not null, oldest_compatible_version int not null )";
/// nisshi 0.8.1's `SCHEMA_VERSION` and `OLDEST_COMPATIBLE_SCHEMA_VERSION`.
const SCHEMA_VERSION: (i64, i64) = (1, 1);

/// Where the old `header` rows wait while the new table is filled (inside the transaction only).
const OLD_HEADER: &str = "header_tansu_0_6_0";

/// Brings the broker storage `file` (tansu 0.6.0's schema, or a file nisshi already opened
/// unmigrated) to nisshi 0.8.1's schema, in one `BEGIN IMMEDIATE` transaction: a failure
/// leaves the file as it was. Header rows keep their order: `ordinal` numbers each record's
/// headers from 0 in the order tansu wrote them (rowid order), as nisshi numbers them.
///
/// Idempotent: a file already in nisshi's shape is not written to. Call it while no broker has
/// the file open: a running broker keeps prepared statements on the old table (the immediate
/// transaction only waits for, or fails on, a broker that is writing).
///
/// Errors name the file and the step that failed.
pub async fn migrate_storage(file: &Path) -> Result<Migration, ProvisionError> {
    if !file.exists() {
        return Ok(Migration::AlreadyCurrent);
    }
    let fail = |what: &str, e: sqlx::Error| {
        anyhow::Error::new(e).context(format!(
            "cannot migrate the broker storage {} ({what})",
            file.display()
        ))
    };
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .connect()
        .await
        .map_err(|e| fail("open", e))?;
    let result = migrate(&mut conn).await.map_err(|(what, e)| fail(what, e));
    let closed = conn.close().await.map_err(|e| fail("close", e));
    let migration = result?;
    closed?;
    Ok(migration)
}

type Step = (&'static str, sqlx::Error);

async fn migrate(conn: &mut SqliteConnection) -> Result<Migration, Step> {
    // IMMEDIATE takes the write lock before reading the schema, so what is read stays true.
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| ("begin", e))?;
    if !has_table(&mut tx, "cluster").await? {
        // No schema at all (an empty file): nisshi creates its own.
        return Ok(Migration::AlreadyCurrent);
    }
    let mut changed = false;
    let mut headers = 0;

    let ordinal: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pragma_table_info('header') WHERE name = 'ordinal'",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| ("read the header table", e))?;
    if ordinal == 0 {
        for (what, sql) in [
            (
                "set the old header table aside",
                format!("ALTER TABLE header RENAME TO {OLD_HEADER}"),
            ),
            ("create the header table", HEADER_DDL.to_string()),
        ] {
            sqlx::query(&sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| (what, e))?;
        }
        headers = sqlx::query(&format!(
            "INSERT INTO header (topition, offset_id, ordinal, k, v, last_updated, created_at)
             SELECT topition, offset_id,
                    row_number() OVER (PARTITION BY topition, offset_id ORDER BY rowid) - 1,
                    k, v, last_updated, created_at
             FROM {OLD_HEADER} ORDER BY rowid"
        ))
        .execute(&mut *tx)
        .await
        .map_err(|e| ("copy the headers", e))?
        .rows_affected();
        sqlx::query(&format!("DROP TABLE {OLD_HEADER}"))
            .execute(&mut *tx)
            .await
            .map_err(|e| ("drop the old header table", e))?;
        changed = true;
    }

    if !has_table(&mut tx, "virtual_topic").await? {
        sqlx::query(VIRTUAL_TOPIC_DDL)
            .execute(&mut *tx)
            .await
            .map_err(|e| ("create the virtual_topic table", e))?;
        changed = true;
    }

    // Without this row nisshi would run its DDL at start; with it, nisshi knows the schema.
    sqlx::query(SCHEMA_VERSION_DDL)
        .execute(&mut *tx)
        .await
        .map_err(|e| ("create the schema version table", e))?;
    let recorded = sqlx::query(
        "INSERT INTO nisshi_schema_version (id, version, oldest_compatible_version)
         SELECT 1, ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM nisshi_schema_version)",
    )
    .bind(SCHEMA_VERSION.0)
    .bind(SCHEMA_VERSION.1)
    .execute(&mut *tx)
    .await
    .map_err(|e| ("record the schema version", e))?
    .rows_affected();
    changed |= recorded > 0;

    if !changed {
        // Rolled back on drop: a current file is not written to.
        return Ok(Migration::AlreadyCurrent);
    }
    tx.commit().await.map_err(|e| ("commit", e))?;
    Ok(Migration::Migrated { headers })
}

async fn has_table(conn: &mut SqliteConnection, name: &str) -> Result<bool, Step> {
    sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1")
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(|e| ("read the schema", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The file the real tansu 0.6.0 wrote (scripts/make_tansu_fixture.py): 20 records, each
    /// with the headers (`trace`, NN) then (`app`, `fixture`).
    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/tansu-0.6.0/tansu.db"
    );

    /// A fresh directory holding a copy of the fixture, removed on drop (std only: `app` has no
    /// temporary-directory crate among its dependencies).
    struct Copy(PathBuf);

    impl Copy {
        fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "byoc-upgrade-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(FIXTURE, dir.join("tansu.db")).unwrap();
            Copy(dir)
        }
        fn file(&self) -> PathBuf {
            self.0.join("tansu.db")
        }
    }

    impl Drop for Copy {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn open(file: &Path, foreign_keys: bool) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(file)
            .foreign_keys(foreign_keys)
            .connect()
            .await
            .unwrap()
    }

    type HeaderRow = (i64, i64, Vec<u8>, Vec<u8>, String, String);
    /// topition, offset_id, ordinal, k, v.
    type Numbered = (i64, i64, i64, Vec<u8>, Vec<u8>);

    async fn headers(file: &Path) -> Vec<HeaderRow> {
        let mut conn = open(file, true).await;
        let rows = sqlx::query_as(
            "SELECT topition, offset_id, k, v, last_updated, created_at FROM header ORDER BY rowid",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        rows
    }

    async fn scalar(file: &Path, sql: &str) -> i64 {
        let mut conn = open(file, true).await;
        let value = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        value
    }

    #[tokio::test]
    async fn migrates_once_and_keeps_every_header_in_order() {
        let copy = Copy::new();
        let file = copy.file();
        let before = headers(&file).await;
        assert_eq!(before.len(), 40, "the fixture's header rows");

        let migration = migrate_storage(&file).await.unwrap();
        assert_eq!(migration, Migration::Migrated { headers: 40 });

        // The same rows, in the same order, numbered 0, 1 within each record.
        assert_eq!(headers(&file).await, before);
        let mut conn = open(&file, true).await;
        let numbered: Vec<Numbered> = sqlx::query_as(
            "SELECT topition, offset_id, ordinal, k, v FROM header
             ORDER BY topition, offset_id, ordinal",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(numbered.len(), 40);
        for pair in numbered.chunks(2) {
            let (tp, offset) = (pair[0].0, pair[0].1);
            // Record i went to partition i % 2 (topition 1 + i % 2) at offset i / 2.
            let i = offset * 2 + (tp - 1);
            assert_eq!(
                pair[0],
                (
                    tp,
                    offset,
                    0,
                    b"trace".to_vec(),
                    format!("{i:02}").into_bytes()
                )
            );
            assert_eq!(
                pair[1],
                (tp, offset, 1, b"app".to_vec(), b"fixture".to_vec())
            );
        }
        let header_sql: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'header'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert!(header_sql.contains("primary key (topition, offset_id, ordinal)"));
        let version: (i64, i64, i64) = sqlx::query_as("SELECT * FROM nisshi_schema_version")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(version, (1, 1, 1));
        let leftovers: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'header_tansu_0_6_0'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(leftovers, 0);
        conn.close().await.unwrap();

        // Again: nothing to do, and nothing written.
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(
            migrate_storage(&file).await.unwrap(),
            Migration::AlreadyCurrent
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
        assert_eq!(headers(&file).await, before);
    }

    #[tokio::test]
    async fn a_file_nisshi_already_opened_gets_its_header_table_only() {
        // nisshi on an unmigrated file creates virtual_topic and records version 1, and
        // leaves `header` as tansu made it.
        let copy = Copy::new();
        let file = copy.file();
        let mut conn = open(&file, true).await;
        for sql in [
            VIRTUAL_TOPIC_DDL,
            SCHEMA_VERSION_DDL,
            "INSERT INTO nisshi_schema_version VALUES (1, 1, 1)",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();

        let migration = migrate_storage(&file).await.unwrap();
        assert_eq!(migration, Migration::Migrated { headers: 40 });
        assert_eq!(
            scalar(&file, "SELECT count(*) FROM nisshi_schema_version").await,
            1
        );
        assert_eq!(
            scalar(&file, "SELECT count(DISTINCT ordinal) FROM header").await,
            2
        );
    }

    #[tokio::test]
    async fn a_failure_leaves_the_file_as_it_was() {
        // A header whose record does not exist breaks nisshi's foreign key on the copy.
        let copy = Copy::new();
        let file = copy.file();
        let mut conn = open(&file, false).await;
        sqlx::query("INSERT INTO header (topition, offset_id, k, v) VALUES (9, 9, x'6b', x'76')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let before = headers(&file).await;

        let error = format!("{:#}", migrate_storage(&file).await.unwrap_err());
        assert!(error.contains(&file.display().to_string()), "{error}");
        assert!(error.contains("copy the headers"), "{error}");
        assert!(error.contains("FOREIGN KEY"), "{error}");
        assert_eq!(headers(&file).await, before);
        assert_eq!(
            scalar(
                &file,
                "SELECT count(*) FROM pragma_table_info('header') WHERE name = 'ordinal'"
            )
            .await,
            0
        );
        assert_eq!(
            scalar(
                &file,
                "SELECT count(*) FROM sqlite_schema WHERE name IN \
                 ('virtual_topic', 'nisshi_schema_version', 'header_tansu_0_6_0')"
            )
            .await,
            0
        );
    }

    #[tokio::test]
    async fn no_file_or_an_empty_one_is_left_to_nisshi() {
        let copy = Copy::new();
        let missing = copy.0.join("none.db");
        assert_eq!(
            migrate_storage(&missing).await.unwrap(),
            Migration::AlreadyCurrent
        );
        assert!(!missing.exists(), "no file is created");

        let empty = copy.0.join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            migrate_storage(&empty).await.unwrap(),
            Migration::AlreadyCurrent
        );
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    }
}
