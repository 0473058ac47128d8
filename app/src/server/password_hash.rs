//! Argon2id hashing at the OWASP parameters (m = 19 MiB, t = 2, p = 1), stored as PHC strings.
//! Hashing is CPU- and memory-heavy, so it runs on the blocking pool behind a semaphore: a
//! flood of sign-ins queues here instead of starving the async runtime or the memory.

use super::ServerError;
use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use std::sync::Arc;
use tokio::sync::Semaphore;

fn argon2() -> Result<Argon2<'static>, ServerError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| ServerError::internal("Argon2 parameters", e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, ServerError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::internal("hashing a password", e.to_string()))
}

fn verify_blocking(password: &str, phc: &str) -> Result<bool, ServerError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| ServerError::internal("reading a stored password hash", e.to_string()))?;
    // The parameters come from the stored string, so hashes made with older settings verify.
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the user name is unknown, so that an unknown name takes as long
    /// as a wrong password and the timing does not tell which names exist.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// `concurrency` hashes may run at once (each takes 19 MiB).
    pub fn new(concurrency: usize) -> Result<Self, ServerError> {
        let dummy = uuid::Uuid::new_v4().to_string();
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(hash_blocking(&dummy)?),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
    ) -> Result<T, ServerError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ServerError::internal("waiting for a hashing permit", e))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ServerError::internal("the hashing task", e))?
    }

    pub async fn hash(&self, password: String) -> Result<String, ServerError> {
        self.run(move || hash_blocking(&password)).await
    }

    /// Verifies against `phc`, or against the dummy hash when there is no user (always false).
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ServerError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let matched = self.run(move || verify_blocking(&password, &phc)).await?;
        Ok(known && matched)
    }
}

/// True for passwords among the most common ones or as easily guessed: zxcvbn (its bundled
/// lists of common passwords, words and names, plus repeats, sequences and keyboard walks)
/// estimates fewer than 10^6 guesses, its scores 0 and 1. `context` holds words the password
/// must not be built from, such as the user and environment names.
pub fn is_common_password(password: &str, context: &[&str]) -> bool {
    let estimate = zxcvbn::zxcvbn(password, context);
    (estimate.score() as u8) < 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_detected() {
        for common in [
            "password1234",
            "123456789012",
            "qwertyuiopasdf",
            "aaaaaaaaaaaa",
            "iloveyou1234",
        ] {
            assert!(is_common_password(common, &[]), "{common}");
        }
    }

    #[test]
    fn ordinary_passphrases_pass() {
        for fine in [
            "Quiet-Harbor-Lamp-42",
            "violet tractor summons pickle",
            "k3#Lm9!qRz2@wX",
        ] {
            assert!(!is_common_password(fine, &[]), "{fine}");
        }
    }

    #[test]
    fn passwords_built_from_context_are_refused() {
        assert!(is_common_password(
            "productionadmin",
            &["production", "admin"]
        ));
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let hasher = PasswordHasher::new(2).unwrap();
        let phc = hasher.hash("Quiet-Harbor-Lamp-42".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher
            .verify("Quiet-Harbor-Lamp-42".into(), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify("Quiet-Harbor-Lamp-43".into(), Some(phc))
            .await
            .unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }
}
