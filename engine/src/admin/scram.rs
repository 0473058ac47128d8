//! SCRAM credentials of the cluster's users: AlterUserScramCredentials (sent to "the
//! controller", which forwards) and DescribeUserScramCredentials (any node).
//!
//! Kafka takes the salt and the salted password (PBKDF2 of the password), never the password:
//! the console computes them itself. Kafka accepts 4096 to 16384 iterations.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, AdminError};
use super::topics::{not_controller, PerName};

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramMechanism {
    fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`, as in `sasl.mechanism`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
}

/// A credential to create or replace.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramUpsert {
    /// The user name (the principal is `User:<name>`).
    pub user: String,
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations the salted password was computed with.
    pub iterations: i32,
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2-HMAC-SHA-256/512(password, salt, iterations).
    pub salted_password: Vec<u8>,
}

impl std::fmt::Debug for ScramUpsert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramUpsert")
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A credential to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramDeletion {
    /// The user name.
    pub user: String,
    /// The mechanism whose credential goes.
    pub mechanism: ScramMechanism,
}

/// A user's credential as DescribeUserScramCredentials reports it (never the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

impl AdminClient {
    /// AlterUserScramCredentials: upserts and deletions, one result per user named.
    ///
    /// Kafka refuses a request naming a user twice (DUPLICATE_RESOURCE, "A user credential
    /// cannot be altered twice in the same request"), even for two mechanisms: a user's second
    /// change goes in a second request, and so on. A user's result is its first error, if any
    /// (its changes of the earlier requests stay made).
    pub async fn alter_user_scram_credentials(
        &self,
        upserts: &[ScramUpsert],
        deletions: &[ScramDeletion],
    ) -> Result<PerName<()>, AdminError> {
        let mut rounds: Vec<(Vec<&ScramUpsert>, Vec<&ScramDeletion>)> = Vec::new();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let changes = upserts.iter().map(|u| (u.user.as_str(), Some(u), None));
        let changes = changes.chain(deletions.iter().map(|d| (d.user.as_str(), None, Some(d))));
        for (user, upsert, deletion) in changes {
            let round = seen.entry(user).or_default();
            if rounds.len() <= *round {
                rounds.push(Default::default());
            }
            rounds[*round].0.extend(upsert);
            rounds[*round].1.extend(deletion);
            *round += 1;
        }
        let mut results: PerName<()> = BTreeMap::new();
        for (ups, dels) in rounds {
            for (user, result) in self.alter_scram_once(&ups, &dels).await? {
                let entry = results.entry(user).or_insert(Ok(()));
                if entry.is_ok() {
                    *entry = result;
                }
            }
        }
        Ok(results)
    }

    /// One AlterUserScramCredentials request (each user at most once).
    async fn alter_scram_once(
        &self,
        upserts: &[&ScramUpsert],
        deletions: &[&ScramDeletion],
    ) -> Result<PerName<()>, AdminError> {
        let build = |_v: i16| {
            let upsertions = upserts.iter().map(|u| {
                ScramCredentialUpsertion::default()
                    .with_name(text(&u.user))
                    .with_mechanism(u.mechanism.code())
                    .with_iterations(u.iterations)
                    .with_salt(Bytes::copy_from_slice(&u.salt))
                    .with_salted_password(Bytes::copy_from_slice(&u.salted_password))
            });
            let deletions = deletions.iter().map(|d| {
                ScramCredentialDeletion::default()
                    .with_name(text(&d.user))
                    .with_mechanism(d.mechanism.code())
            });
            AlterUserScramCredentialsRequest::default()
                .with_upsertions(upsertions.collect())
                .with_deletions(deletions.collect())
        };
        let check_r = |r: &AlterUserScramCredentialsResponse| {
            not_controller(
                r.results
                    .iter()
                    .map(|x| (x.error_code, x.error_message.as_ref())),
            )
        };
        let r = self.request(Route::Controller, build, check_r).await?;
        Ok(r.results
            .iter()
            .map(|x| {
                (
                    x.user.to_string(),
                    check(x.error_code, x.error_message.as_deref()),
                )
            })
            .collect())
    }

    /// DescribeUserScramCredentials of `users` (every user with a credential if `None`): per
    /// user, its credentials, or RESOURCE_NOT_FOUND if it has none.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<PerName<Vec<ScramCredentialInfo>>, AdminError> {
        let build = |_v: i16| {
            let names = users.map(|u| {
                u.iter()
                    .map(|n| UserName::default().with_name(text(n)))
                    .collect()
            });
            DescribeUserScramCredentialsRequest::default().with_users(names)
        };
        let check_r = |r: &DescribeUserScramCredentialsResponse| {
            check(r.error_code, r.error_message.as_deref())
        };
        let r = self.request(Route::Any, build, check_r).await?;
        let mut out = BTreeMap::new();
        for x in &r.results {
            let infos = check(x.error_code, x.error_message.as_deref()).map(|()| {
                let infos = x.credential_infos.iter().filter_map(|c| {
                    let mechanism = ScramMechanism::from_code(c.mechanism)?;
                    Some(ScramCredentialInfo {
                        mechanism,
                        iterations: c.iterations,
                    })
                });
                let mut infos: Vec<_> = infos.collect();
                infos.sort_by_key(|c| c.mechanism);
                infos
            });
            out.insert(x.user.to_string(), infos);
        }
        Ok(out)
    }
}
