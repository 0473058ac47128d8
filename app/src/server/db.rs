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
    #[error(
        "the data directory {path} is writable by others (mode {mode:o}): they could replace the \
         database; make it owner-only (chmod 700) or choose another --data-dir"
    )]
    OpenToOthers { path: PathBuf, mode: u32 },
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

/// Creates the data directory owner-only (0700) when it is missing. An existing directory is
/// left as it is (it may be shared on purpose, `/srv/byoc` made by an administrator), unless
/// others could write into it: a group- or world-writable directory lets them replace the
/// database or its lock, so it is refused with the reason. Then it must be writable.
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
    let mode = std::fs::metadata(dir)
        .map_err(|source| OpenError::NotWritable {
            path: dir.into(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        return Err(OpenError::OpenToOthers {
            path: dir.into(),
            mode: mode & 0o7777,
        });
    }
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| OpenError::NotWritable {
            path: dir.into(),
            source,
        })?;
    Ok(())
}

/// The database file, owner-only (0600): created so before SQLite opens it, tightened when it
/// exists. SQLite gives its `-wal` and `-shm` files the database file's mode.
fn owner_only_file(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |source| OpenError::NotWritable {
        path: path.into(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    for file in [
        path.to_path_buf(),
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
    ] {
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
    }
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
    owner_only_file(&path)?;
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
