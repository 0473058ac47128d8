//! The vendor's key files: an Ed25519 signing key (secret, mode 0600) and its public key.
//! Used by `byoc-console vendor keygen|issue`, by `serve --trust-key`, and by `demo`.

use crate::domain::license::TrustedKey;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SIGNING_KEY_FILE: &str = "signing-key.json";
pub const PUBLIC_KEY_FILE: &str = "public-key.json";

#[derive(Serialize, Deserialize)]
struct SigningKeyFile {
    key_id: String,
    /// base64url of the 32-byte Ed25519 secret.
    secret: String,
}

#[derive(Serialize, Deserialize)]
struct PublicKeyFile {
    key_id: String,
    /// base64url of the 32-byte Ed25519 public key.
    public: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a {what} file: {why}")]
    Format {
        path: PathBuf,
        what: &'static str,
        why: String,
    },
    #[error("{path} exists already; choose another directory or remove it")]
    Exists { path: PathBuf },
}

/// Writes a new key pair into `dir` (created if missing). Refuses to overwrite a key.
pub fn generate(dir: &Path, key_id: &str) -> Result<(PathBuf, PathBuf), KeyFileError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyFileError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let signing_path = dir.join(SIGNING_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    for path in [&signing_path, &public_path] {
        if path.exists() {
            return Err(KeyFileError::Exists { path: path.clone() });
        }
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let secret = SigningKeyFile {
        key_id: key_id.into(),
        secret: URL_SAFE_NO_PAD.encode(key.to_bytes()),
    };
    let public = PublicKeyFile {
        key_id: key_id.into(),
        public: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&signing_path)
        .map_err(io(&signing_path))?;
    file.write_all(to_json(&secret).as_bytes())
        .map_err(io(&signing_path))?;
    std::fs::write(&public_path, to_json(&public)).map_err(io(&public_path))?;
    Ok((signing_path, public_path))
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path, what: &'static str) -> Result<T, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: path.into(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| KeyFileError::Format {
        path: path.into(),
        what,
        why: e.to_string(),
    })
}

fn bytes32(path: &Path, what: &'static str, b64: &str) -> Result<[u8; 32], KeyFileError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim())
        .map_err(|e| KeyFileError::Format {
            path: path.into(),
            what,
            why: e.to_string(),
        })?;
    bytes.try_into().map_err(|_| KeyFileError::Format {
        path: path.into(),
        what,
        why: "the key is not 32 bytes".into(),
    })
}

/// Reads a signing key file: (key id, key).
pub fn read_signing_key(path: &Path) -> Result<(String, SigningKey), KeyFileError> {
    let file: SigningKeyFile = read(path, "signing key")?;
    let bytes = bytes32(path, "signing key", &file.secret)?;
    Ok((file.key_id, SigningKey::from_bytes(&bytes)))
}

/// Reads a public key file as a key trusted at run time.
pub fn read_public_key(path: &Path) -> Result<TrustedKey, KeyFileError> {
    let file: PublicKeyFile = read(path, "public key")?;
    let bytes = bytes32(path, "public key", &file.public)?;
    let public_key = VerifyingKey::from_bytes(&bytes).map_err(|e| KeyFileError::Format {
        path: path.into(),
        what: "public key",
        why: e.to_string(),
    })?;
    Ok(TrustedKey {
        key_id: file.key_id,
        public_key,
        added_at_run_time: true,
    })
}
