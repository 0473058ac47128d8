//! Opening the SQLite file: the data directory, the connection settings, the migrations.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DATABASE_FILE: &str = "console.db";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the data directory {path} is not writable: {source}")]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a SQLite database of this console (or it is damaged): {source}")]
    NotADatabase { path: PathBuf, source: sqlx::Error },
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot apply the database migrations to {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
}

/// Creates the data directory with owner-only permissions (0700) if it is missing, tightens
/// them if it exists, and checks that it is writable.
pub fn prepare_data_dir(dir: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| OpenError::CreateDir {
                path: dir.into(),
                source,
            })?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        OpenError::NotWritable {
            path: dir.into(),
            source,
        }
    })?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| OpenError::NotWritable {
            path: dir.into(),
            source,
        })?;
    Ok(())
}

/// Opens (creating if needed) the console's database in `dir` and brings its schema up to date.
///
/// - WAL: readers never block the writer, and the writer never blocks readers.
/// - `synchronous=FULL`: every commit is on disk before it is acknowledged, also across a power
///   loss or a host reboot. NORMAL in WAL mode may lose the last commits then. The console
///   writes little (sign-ins, operations, hourly metering), so the extra fsync costs nothing
///   a user could notice, and an operation acknowledged to a user is never lost.
/// - `busy_timeout` 5 s: concurrent writers wait for each other instead of failing.
/// - foreign keys enforced.
pub async fn open(dir: &Path) -> Result<SqlitePool, OpenError> {
    prepare_data_dir(dir)?;
    let path = dir.join(DATABASE_FILE);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // No ping before each use: a connection to a local file does not go stale the way a
        // network connection does, and the ping was a second round trip to the connection's
        // thread for every statement a page ran.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| classify(&path, source))?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .map_err(|source| match source {
            sqlx::migrate::MigrateError::Execute(e) => classify(&path, e),
            source => OpenError::Migrate {
                path: path.clone(),
                source,
            },
        })?;
    Ok(pool)
}

fn classify(path: &Path, source: sqlx::Error) -> OpenError {
    let not_a_db = source
        .as_database_error()
        .map(|e| e.message().contains("not a database") || e.code().as_deref() == Some("26"))
        .unwrap_or(false);
    if not_a_db {
        OpenError::NotADatabase {
            path: path.into(),
            source,
        }
    } else {
        OpenError::Open {
            path: path.into(),
            source,
        }
    }
}
