//! SASL/PLAIN users of a Kafka cluster. Kafka has no Admin API for PLAIN users and its stock
//! handler reads plaintext passwords from the JAAS configuration, so the nodes run the
//! console's callback handler (kafka/plugins/plain-auth), which checks each login against a
//! salted PBKDF2-HMAC-SHA512 hash. The console keeps the hashes (never a password) and writes
//! them, one user a line, into every node's owner-only `plain-users` file whenever its users
//! change and at every maintenance pass (a file removed or edited by hand is put back); the
//! handler reads the file again when it changes. A deleted or rotated user's open sessions end
//! at their next re-authentication (`connections.max.reauth.ms`, 60 s), which goes through the
//! handler again.

use super::KafkaProvisioner;
use crate::domain::kafka_user::{PlainHash, PLAIN_ITERATIONS};
use crate::server::provisioner::ProvisionError;
use crate::server::store::instances::InstanceRow;
use crate::server::store::kafka_plain_users as keep;
use anyhow::Context;
use base64::Engine;
use byoc_engine::config::{PLAIN_USERS, REAUTH_MS};
use rand::RngCore;

/// The handler's name of the scheme (each line says it).
const SCHEME: &str = "pbkdf2-sha512";

/// PBKDF2-HMAC-SHA512 (64 bytes) of `password`.
pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// The hash of `password` with a fresh random salt (16 bytes).
pub fn hash(password: &str) -> PlainHash {
    let mut salt = vec![0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let hash = derive(password, &salt, PLAIN_ITERATIONS);
    PlainHash {
        salt,
        iterations: PLAIN_ITERATIONS,
        hash,
    }
}

/// The `plain-users` file of `users`: `NAME:pbkdf2-sha512:ITERATIONS:SALT:HASH` a line.
pub fn users_file<'a>(users: impl IntoIterator<Item = (&'a str, &'a PlainHash)>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::from(
        "# SASL/PLAIN users of this instance, written by the BYOC console: NAME:pbkdf2-sha512:\
         ITERATIONS:SALT:HASH (PBKDF2-HMAC-SHA512, base64). Edits are overwritten.\n",
    );
    for (name, h) in users {
        out.push_str(&format!(
            "{name}:{SCHEME}:{}:{}:{}\n",
            h.iterations,
            b64.encode(&h.salt),
            b64.encode(&h.hash)
        ));
    }
    out
}

impl KafkaProvisioner {
    /// Writes the console's PLAIN users into every node's `plain-users` (only where it
    /// differs, so the handler re-reads it only on a change). Says what is in force.
    pub(super) async fn write_plain_users(
        &self,
        instance: &InstanceRow,
    ) -> Result<String, ProvisionError> {
        let users = keep::plain_users(&self.pool, instance.id).await?;
        let text = users_file(users.iter().map(|u| (u.username.as_str(), &u.hash)));
        let first = self
            .first_port(instance.id)
            .context("the instance has no ports recorded")?;
        let layout = byoc_engine::layout::ClusterLayout::new(0, &instance.zones(), first)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let cluster = self.cluster(instance.id);
        let mut changed = 0;
        for node in &layout.nodes {
            let dir = cluster.node_dir(node.node_id);
            if !dir.is_dir() {
                continue;
            }
            let path = dir.join(PLAIN_USERS);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                super::write_private(&path, &text)?;
                changed += 1;
            }
        }
        let mut said = format!(
            "written to the nodes; {} user(s) in force (PLAIN)",
            users.len()
        );
        if changed > 0 {
            said.push_str(&format!(
                "; {changed} node file(s) changed (open sessions of a removed or changed user \
                 end at re-authentication, within {} s)",
                REAUTH_MS / 1000
            ));
        }
        Ok(said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_pbkdf2_hmac_sha512_as_the_handler_derives_it() {
        // The handler's own test checks the same vector (HashedPlainCallbackHandlerTest).
        let out = derive("password", b"salt", 1);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
             c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"
        );
    }

    #[test]
    fn the_file_names_each_user_with_its_salt_and_hash_never_a_password() {
        let h = hash("s3cret-password");
        assert_eq!(h.iterations, PLAIN_ITERATIONS);
        assert_eq!(h.hash, derive("s3cret-password", &h.salt, PLAIN_ITERATIONS));
        assert_ne!(h.salt, hash("s3cret-password").salt);
        let file = users_file([("alice", &h)]);
        let line = file.lines().nth(1).unwrap();
        let parts: Vec<&str> = line.split(':').collect();
        assert_eq!(parts[..3], ["alice", "pbkdf2-sha512", "100000"]);
        assert_eq!(parts.len(), 5);
        assert!(!file.contains("s3cret"));
    }
}
