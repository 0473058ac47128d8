//! The instances' files on disk: directories only the console's user can enter, and files
//! (keys, passwords, key stores) only it can read, each written whole.

use crate::server::provisioner::ProvisionError;
use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` (and its parents) owner-only (0700).
pub(crate) fn make_private_dir(dir: &Path) -> Result<(), ProvisionError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes a file only the console's user can read (0600): to a temporary file first, synced,
/// then renamed over the old one, so that a crash never leaves a half-written key store.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), ProvisionError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_and_directories_are_the_owner_s_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        make_private_dir(&dir).unwrap();
        let file = dir.join("key.pem");
        write_private(&file, "one").unwrap();
        write_private(&file, "two").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
        assert!(!file.with_extension("tmp").exists());
    }
}
