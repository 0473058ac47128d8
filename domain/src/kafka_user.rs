//! Kafka users of an instance (SASL/SCRAM, RFC 5802 and RFC 7677): their names, mechanisms,
//! and how the set the console keeps is compared with the set the broker holds.
//!
//! The console keeps only what a server needs to check a SCRAM login: salt, iteration count,
//! StoredKey and ServerKey. Never the password, never the salted password (which is
//! password-equivalent).

use crate::instance_spec::SpecError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kafka's limit on a SCRAM user name is generous; the console keeps names short and plain
/// so that they can be pasted into any client's configuration unquoted.
pub const NAME_MAX: usize = 64;
/// The user through which the console itself reads topics and offsets. Clients cannot take
/// the name, and the page shows the user as the console's own.
pub const CONSOLE_USER: &str = "byoc-console";
/// The principal of the Kafka nodes' own certificate: with [`CONSOLE_USER`], a super user of
/// every cluster (the engine's `super.users`).
pub const BROKER_USER: &str = "broker";
/// Principal names no client user may take, in any case: a SCRAM user is the principal
/// `User:<name>`, so a user named after a super user would be one, and a user named
/// `ANONYMOUS` would share what unauthenticated clients are allowed.
pub const RESERVED_USERS: [&str; 3] = [CONSOLE_USER, BROKER_USER, "ANONYMOUS"];
/// PBKDF2 rounds for new credentials. Kafka refuses fewer than 4096; more makes each login of
/// a client slower (librdkafka derives the key per connection).
pub const ITERATIONS: u32 = 8192;
/// Users one instance may have (the console's own not counted).
pub const USERS_MAX: usize = 100;

/// A SCRAM mechanism the broker offers. Kafka's wire codes: 1 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Mechanism {
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
}

impl Mechanism {
    pub const ALL: [Mechanism; 2] = [Mechanism::ScramSha512, Mechanism::ScramSha256];

    /// The name clients put in `sasl.mechanism`, also the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    pub fn parse(input: &str) -> Result<Mechanism, SpecError> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.as_str() == input.trim())
            .ok_or_else(|| SpecError {
                field: "mechanism",
                message: "Choose a mechanism: SCRAM-SHA-512 or SCRAM-SHA-256.".into(),
            })
    }

    /// Kafka's code for the mechanism (`AlterUserScramCredentials`, the broker's storage).
    pub fn code(self) -> i64 {
        match self {
            Mechanism::ScramSha256 => 1,
            Mechanism::ScramSha512 => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.code() == code)
    }
}

fn name_error(message: impl Into<String>) -> SpecError {
    SpecError {
        field: "username",
        message: message.into(),
    }
}

/// A Kafka user name: 1 to 64 of `a-z A-Z 0-9 . _ -`, starting with a letter or digit, and
/// not the console's own user.
pub fn parse_name(input: &str) -> Result<String, SpecError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(name_error("Enter a user name."));
    }
    if name.chars().count() > NAME_MAX {
        return Err(name_error(format!(
            "A user name has at most {NAME_MAX} characters; this one has {}.",
            name.chars().count()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(name_error(format!(
            "A user name may use letters, digits, '.', '_' and '-' only; {bad:?} is not allowed."
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(name_error("A user name starts with a letter or a digit."));
    }
    if name.eq_ignore_ascii_case(CONSOLE_USER) {
        return Err(name_error(format!(
            "{CONSOLE_USER} is the console's own user of every instance; choose another name."
        )));
    }
    if let Some(reserved) = RESERVED_USERS.iter().find(|r| name.eq_ignore_ascii_case(r)) {
        return Err(name_error(format!(
            "{reserved} is a name Kafka gives its own principals (the nodes, unauthenticated \
             clients); choose another name."
        )));
    }
    Ok(name.to_string())
}

/// What a server keeps of one SCRAM credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// The mechanism name of SASL/PLAIN users (`sasl.mechanism` of clients).
pub const PLAIN: &str = "PLAIN";
/// PBKDF2-HMAC-SHA512 rounds of a PLAIN user's hash. The passwords are generated (about 186
/// bits), so the count guards a leaked file rather than a guessable password; each login and
/// re-authentication (every 60 s per connection) costs one derivation on the node.
pub const PLAIN_ITERATIONS: u32 = 100_000;

/// What the nodes check a SASL/PLAIN login with: PBKDF2-HMAC-SHA512 (64 bytes) of the
/// password's UTF-8 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainHash {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub hash: Vec<u8>,
}

/// One user credential, as the console or the broker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub mechanism: Mechanism,
    pub verifier: Verifier,
}

/// A difference between the users the console keeps and those the broker holds, and what
/// puts it right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The broker lacks a user the console keeps: write it.
    Missing(Credential),
    /// The broker holds another credential for a user: write the console's back.
    Changed(Credential),
    /// The broker holds a user the console does not keep (added by a client): remove it.
    Unknown {
        username: String,
        mechanism: Mechanism,
    },
}

impl Drift {
    /// Whether connections may be open with credentials the broker no longer has (a user
    /// removed, or given another credential): the broker checks them only at login.
    pub fn may_have_sessions(&self) -> bool {
        !matches!(self, Drift::Missing(_))
    }

    /// For the audit log and the page: what was found, never a key.
    pub fn describe(&self) -> String {
        match self {
            Drift::Missing(c) => format!("{} ({}) was missing", c.username, c.mechanism.as_str()),
            Drift::Changed(c) => format!(
                "{} ({}) had another credential",
                c.username,
                c.mechanism.as_str()
            ),
            Drift::Unknown {
                username,
                mechanism,
            } => format!(
                "{username} ({}) was not created in the console",
                mechanism.as_str()
            ),
        }
    }
}

/// What must change on the broker for its users to be exactly the console's: in a stable
/// order (by user, then mechanism), empty when they agree.
pub fn drift(wanted: &[Credential], found: &[Credential]) -> Vec<Drift> {
    let key = |c: &Credential| (c.username.clone(), c.mechanism);
    let wanted: BTreeMap<_, _> = wanted.iter().map(|c| (key(c), c)).collect();
    let found: BTreeMap<_, _> = found.iter().map(|c| (key(c), c)).collect();
    let mut out = Vec::new();
    let mut keys: Vec<_> = wanted.keys().chain(found.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        match (wanted.get(&k), found.get(&k)) {
            (Some(w), None) => out.push(Drift::Missing((*w).clone())),
            (Some(w), Some(f)) if w.verifier != f.verifier => {
                out.push(Drift::Changed((*w).clone()))
            }
            (None, Some(f)) => out.push(Drift::Unknown {
                username: f.username.clone(),
                mechanism: f.mechanism,
            }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_cluster_s_own_principals_are_refused_in_any_case() {
        for name in [
            "broker",
            "Broker",
            "BROKER",
            "anonymous",
            "ANONYMOUS",
            "BYOC-console",
        ] {
            let refused = parse_name(name).unwrap_err();
            assert_eq!(refused.field, "username", "{name}");
        }
        assert_eq!(parse_name("brokers").unwrap(), "brokers");
        assert_eq!(parse_name(" orders-app ").unwrap(), "orders-app");
    }

    fn cred(name: &str, mechanism: Mechanism, key: u8) -> Credential {
        Credential {
            username: name.into(),
            mechanism,
            verifier: Verifier {
                salt: vec![key; 16],
                iterations: ITERATIONS,
                stored_key: vec![key; 64],
                server_key: vec![key; 64],
            },
        }
    }

    #[test]
    fn names_follow_the_rule_and_name_the_field() {
        assert_eq!(parse_name("  orders-app ").unwrap(), "orders-app");
        assert_eq!(parse_name("a.b_c-1").unwrap(), "a.b_c-1");
        for bad in ["", "   ", "-lead", ".x", "has space", "é", "a=b", "a,b"] {
            let e = parse_name(bad).unwrap_err();
            assert_eq!(e.field, "username", "{bad:?}");
        }
        assert!(parse_name(&"x".repeat(NAME_MAX)).is_ok());
        assert!(parse_name(&"x".repeat(NAME_MAX + 1)).is_err());
        assert!(parse_name("BYOC-Console")
            .unwrap_err()
            .message
            .contains("own user"));
    }

    #[test]
    fn mechanisms_have_one_string_and_one_code_each() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::parse(m.as_str()).unwrap(), m);
            assert_eq!(Mechanism::from_code(m.code()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
        assert_eq!(Mechanism::parse("PLAIN").unwrap_err().field, "mechanism");
        assert_eq!(Mechanism::from_code(0), None);
        assert_eq!(Mechanism::from_code(3), None);
    }

    #[test]
    fn agreeing_sets_have_no_drift() {
        let a = vec![
            cred("a", Mechanism::ScramSha512, 1),
            cred("b", Mechanism::ScramSha256, 2),
        ];
        let mut b = a.clone();
        b.reverse();
        assert!(drift(&a, &b).is_empty());
        assert!(drift(&[], &[]).is_empty());
    }

    #[test]
    fn every_kind_of_drift_is_found_in_order() {
        let wanted = vec![
            cred("app", Mechanism::ScramSha512, 1),
            cred("byoc-console", Mechanism::ScramSha512, 9),
            cred("reader", Mechanism::ScramSha256, 2),
        ];
        let found = vec![
            // A client overwrote app's password.
            cred("app", Mechanism::ScramSha512, 7),
            // and added itself a user,
            cred("intruder", Mechanism::ScramSha512, 3),
            // and the same name under the other mechanism,
            cred("reader", Mechanism::ScramSha512, 2),
            cred("reader", Mechanism::ScramSha256, 2),
            // and removed the console's own user.
        ];
        let fixes = drift(&wanted, &found);
        assert_eq!(
            fixes,
            vec![
                Drift::Changed(wanted[0].clone()),
                Drift::Missing(wanted[1].clone()),
                Drift::Unknown {
                    username: "intruder".into(),
                    mechanism: Mechanism::ScramSha512
                },
                Drift::Unknown {
                    username: "reader".into(),
                    mechanism: Mechanism::ScramSha512
                },
            ]
        );
        let cut: Vec<bool> = fixes.iter().map(Drift::may_have_sessions).collect();
        assert_eq!(cut, [true, false, true, true]);
        let said: Vec<String> = fixes.iter().map(Drift::describe).collect();
        assert!(said[0].contains("app (SCRAM-SHA-512) had another credential"));
        assert!(said[2].contains("not created in the console"));
        // Nothing secret in what is said.
        assert!(said.iter().all(|s| !s.contains("[")));
    }

    #[test]
    fn a_different_iteration_count_or_salt_is_a_change() {
        let w = cred("a", Mechanism::ScramSha512, 1);
        let mut f = w.clone();
        f.verifier.iterations = 4096;
        assert_eq!(
            drift(std::slice::from_ref(&w), &[f]),
            vec![Drift::Changed(w.clone())]
        );
        let mut f = w.clone();
        f.verifier.salt[0] ^= 1;
        assert_eq!(
            drift(std::slice::from_ref(&w), &[f]),
            vec![Drift::Changed(w)]
        );
    }
}
