//! SCRAM verifiers (RFC 5802): what a server keeps to check a login, derived from a password
//! the console generates and shows once.

use crate::domain::kafka_user::{Mechanism, Verifier, ITERATIONS};
use crate::server::provisioner::ProvisionError;
use anyhow::Context;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// Characters of generated passwords: letters and digits only, so that they paste into any
/// properties file, JAAS line or shell unquoted.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// 32 characters of a 57-letter alphabet: about 186 bits.
const PASSWORD_LEN: usize = 32;

/// A new random password (from the operating system's generator).
pub fn generate_password() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..PASSWORD_LEN)
        .map(|_| {
            // Rejection sampling keeps every letter equally likely.
            loop {
                let b = (rng.next_u32() & 0x3f) as usize;
                if b < ALPHABET.len() {
                    return ALPHABET[b] as char;
                }
            }
        })
        .collect()
}

/// The verifier of `password` with a fresh random salt.
pub fn verifier(mechanism: Mechanism, password: &str) -> Result<Verifier, ProvisionError> {
    let mut salt = vec![0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    verifier_with(mechanism, password, salt, ITERATIONS)
}

/// SaltedPassword = PBKDF2(HMAC-H, password, salt, iterations): what Kafka's
/// AlterUserScramCredentials takes (the broker derives its keys from it). Password-equivalent:
/// sent once to the cluster, never kept.
pub fn salted_password(
    mechanism: Mechanism,
    password: &str,
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    macro_rules! salted {
        ($hash:ty) => {{
            let mut salted = vec![0u8; <$hash as Digest>::output_size()];
            pbkdf2::pbkdf2_hmac::<$hash>(password.as_bytes(), salt, iterations, &mut salted);
            salted
        }};
    }
    match mechanism {
        Mechanism::ScramSha256 => salted!(Sha256),
        Mechanism::ScramSha512 => salted!(Sha512),
    }
}

/// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
/// "Server Key"), SaltedPassword = PBKDF2(HMAC-H, password, salt, iterations). The salted
/// password is dropped here: it is password-equivalent.
pub fn verifier_with(
    mechanism: Mechanism,
    password: &str,
    salt: Vec<u8>,
    iterations: u32,
) -> Result<Verifier, ProvisionError> {
    // One body for both hashes (the hash's traits are too many to spell out generically).
    macro_rules! keys {
        ($hash:ty) => {{
            let mut salted = vec![0u8; <$hash as Digest>::output_size()];
            pbkdf2::pbkdf2_hmac::<$hash>(password.as_bytes(), &salt, iterations, &mut salted);
            let hmac = |text: &[u8]| -> Result<Vec<u8>, ProvisionError> {
                let mut mac =
                    <Hmac<$hash> as Mac>::new_from_slice(&salted).context("cannot key HMAC")?;
                mac.update(text);
                Ok(mac.finalize().into_bytes().to_vec())
            };
            let client_key = hmac(b"Client Key")?;
            let server_key = hmac(b"Server Key")?;
            let stored_key = <$hash as Digest>::digest(&client_key).to_vec();
            Ok(Verifier {
                salt,
                iterations,
                stored_key,
                server_key,
            })
        }};
    }
    match mechanism {
        Mechanism::ScramSha256 => keys!(Sha256),
        Mechanism::ScramSha512 => keys!(Sha512),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 7677's example (user "user", password "pencil"): its ServerSignature proves the
    /// ServerKey, and its ClientProof proves the StoredKey.
    #[test]
    fn sha256_matches_rfc_7677() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let salt = b64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier_with(Mechanism::ScramSha256, "pencil", salt, 4096).unwrap();
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,\
            i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&v.server_key).unwrap();
        mac.update(auth_message.as_bytes());
        let server_signature = mac.finalize().into_bytes();
        assert_eq!(
            b64.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        // ClientKey = ClientProof XOR ClientSignature; H(ClientKey) must be the StoredKey.
        let proof = b64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&v.stored_key).unwrap();
        mac.update(auth_message.as_bytes());
        let signature = mac.finalize().into_bytes();
        let client_key: Vec<u8> = proof
            .iter()
            .zip(signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(hex(&Sha256::digest(&client_key)), hex(&v.stored_key));
    }

    #[test]
    fn sha512_keys_have_its_length_and_depend_on_salt_and_password() {
        let a = verifier_with(Mechanism::ScramSha512, "pw", vec![1; 16], 4096).unwrap();
        assert_eq!(a.stored_key.len(), 64);
        assert_eq!(a.server_key.len(), 64);
        assert_ne!(
            a,
            verifier_with(Mechanism::ScramSha512, "pw", vec![2; 16], 4096).unwrap()
        );
        assert_ne!(
            a,
            verifier_with(Mechanism::ScramSha512, "pX", vec![1; 16], 4096).unwrap()
        );
        let fresh = verifier(Mechanism::ScramSha512, "pw").unwrap();
        assert_eq!(fresh.iterations, ITERATIONS);
        assert_ne!(
            fresh.salt,
            verifier(Mechanism::ScramSha512, "pw").unwrap().salt
        );
    }

    #[test]
    fn passwords_are_long_plain_and_different() {
        let a = generate_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(a, generate_password());
    }
}
