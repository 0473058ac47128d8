//! Administrator commands that work on the data directory directly, also while the console
//! runs: reset a locked-out user's password, back up the database, verify the audit chain.

use anyhow::{bail, Context};
use app::server::{db, password_hash::PasswordHasher, store};
use rand::distributions::{Alphanumeric, DistString};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sets a random temporary password for `username` (which must be changed at the next
/// sign-in), ends the user's sessions, audits it, and returns the password.
pub async fn reset_password(data_dir: &Path, username: &str) -> anyhow::Result<(String, bool)> {
    let pool = db::open(data_dir).await?;
    let name = username.trim().to_lowercase();
    let user = store::users::by_username(&pool, &name)
        .await?
        .with_context(|| format!("there is no user {name:?}"))?;
    // 20 letters and digits: about 119 bits, and nothing a shell or a terminal mangles.
    let temporary = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
    let hasher = PasswordHasher::new(1).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hasher
        .hash(temporary.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The new password and its audit entry: one transaction.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    store::users::set_password(&mut tx, user.id, &hash, true).await?;
    store::audit::append_in(
        &mut tx,
        store::audit::Entry {
            at: now(),
            actor: "command line",
            action: "user_password_reset",
            target: Some(&user.username),
            client_addr: Some("local"),
            outcome: "success",
            detail: Some(
                "byoc-console admin reset-password; sessions ended; failed sign-ins forgotten",
            ),
        },
    )
    .await?;
    tx.commit().await?;
    pool.close().await;
    Ok((temporary, user.disabled_at.is_some()))
}

/// A consistent copy of the database (`VACUUM INTO`: a snapshot, taken while the console
/// keeps running), owner-only. Refuses to overwrite a file. Returns its size in bytes.
pub async fn backup(data_dir: &Path, out: &Path) -> anyhow::Result<u64> {
    if out.exists() {
        bail!("{} exists already; choose a new file name", out.display());
    }
    let target = out
        .to_str()
        .context("the backup path must be valid UTF-8")?
        .to_string();
    // Created empty and owner-only first (VACUUM INTO accepts an empty file): the copy
    // carries password hashes and the certificate authority's key, and must never be
    // readable by others, not even for a moment.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create the backup {}", out.display()))?;
    let pool = db::open(data_dir).await?;
    store::database::backup_into(&pool, &target)
        .await
        .with_context(|| format!("cannot write the backup to {}", out.display()))?;
    pool.close().await;
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    Ok(std::fs::metadata(out)?.len())
}

/// Walks the audit log's hash chain: the number of entries, or where it breaks.
pub async fn verify_audit(data_dir: &Path) -> anyhow::Result<Result<u64, String>> {
    let pool = db::open(data_dir).await?;
    let result = store::audit::verify_chain(&pool).await?;
    pool.close().await;
    Ok(result.map_err(|b| b.to_string()))
}
