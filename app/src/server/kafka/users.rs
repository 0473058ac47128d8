//! SASL/SCRAM users of a Kafka cluster. The console keeps each user's verifier (salt,
//! iterations, keys); Kafka takes the salt, the iterations and the salted password, from which
//! it derives the same keys. So a user is written once, when it is made or its password
//! rotated (the salted password is password-equivalent: sent, never kept), and afterwards the
//! cluster is only compared with the console's list: a credential the console does not have is
//! deleted. Sessions of a deleted or rotated user end at their next re-authentication,
//! within `connections.max.reauth.ms` (60 s), without a restart.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::kafka_user::{Mechanism, Verifier};
use crate::server::provisioner::ProvisionError;
use crate::server::store::{instances::InstanceRow, kafka_security as keep};
use anyhow::anyhow;
use byoc_engine::admin::{code, ScramCredentialInfo, ScramDeletion, ScramMechanism, ScramUpsert};
use byoc_engine::config::REAUTH_MS;

/// How often, and how far apart, the users are listed before one is called missing.
const DESCRIBE_ATTEMPTS: u32 = 20;
const DESCRIBE_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// The cluster's credentials the console does not have (to delete), and the console's that
/// the cluster has.
fn compare(
    ours: &[(String, ScramMechanism)],
    theirs: &std::collections::BTreeMap<
        String,
        Result<Vec<ScramCredentialInfo>, byoc_engine::admin::KafkaError>,
    >,
) -> (Vec<ScramDeletion>, Vec<(String, ScramMechanism)>) {
    let mut gone = Vec::new();
    let mut on_cluster = Vec::new();
    for (user, credentials) in theirs {
        for info in credentials.as_ref().map(Vec::as_slice).unwrap_or_default() {
            let pair = (user.clone(), info.mechanism);
            if ours.contains(&pair) {
                on_cluster.push(pair);
            } else {
                gone.push(ScramDeletion {
                    user: user.clone(),
                    mechanism: info.mechanism,
                });
            }
        }
    }
    (gone, on_cluster)
}

fn mechanism_of(mechanism: Mechanism) -> ScramMechanism {
    match mechanism {
        Mechanism::ScramSha256 => ScramMechanism::Sha256,
        Mechanism::ScramSha512 => ScramMechanism::Sha512,
    }
}

impl KafkaProvisioner {
    pub(super) async fn upsert_credential(
        &self,
        instance: &InstanceRow,
        username: &str,
        mechanism: Mechanism,
        verifier: &Verifier,
        salted_password: &[u8],
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let upsert = ScramUpsert {
            user: username.to_string(),
            mechanism: mechanism_of(mechanism),
            iterations: i32::try_from(verifier.iterations)
                .map_err(|_| anyhow!("{} iterations is too many", verifier.iterations))?,
            salt: verifier.salt.clone(),
            salted_password: salted_password.to_vec(),
        };
        let results = admin
            .alter_user_scram_credentials(&[upsert], &[])
            .await
            .map_err(kafka_error)?;
        match results.get(username) {
            Some(Err(e)) => Err(anyhow!("Kafka refused {username}'s credential: {e}")),
            _ => Ok(()),
        }
    }

    /// Deletes the credentials on the cluster that the console does not have; names the
    /// console's users that the cluster lacks (made while it could not be reached: a new
    /// password puts them there).
    pub(super) async fn sync_users(
        &self,
        instance: &InstanceRow,
    ) -> Result<String, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let ours: Vec<(String, ScramMechanism)> = keep::users(&self.pool, instance.id)
            .await?
            .into_iter()
            .map(|u| (u.credential.username, mechanism_of(u.credential.mechanism)))
            .collect();
        // A node answers DescribeUserScramCredentials from its copy of the cluster's metadata,
        // which follows the controller's by milliseconds, by seconds on a busy host: a user
        // written a moment ago may not be listed yet. Asked again for a while before a user
        // is called missing.
        let mut attempts = 0;
        let (gone, on_cluster) = loop {
            attempts += 1;
            let theirs = admin
                .describe_user_scram_credentials(None)
                .await
                .map_err(kafka_error)?;
            let (gone, on_cluster) = compare(&ours, &theirs);
            if on_cluster.len() == ours.len() || attempts >= DESCRIBE_ATTEMPTS {
                break (gone, on_cluster);
            }
            tokio::time::sleep(DESCRIBE_PAUSE).await;
        };
        if !gone.is_empty() {
            let results = admin
                .alter_user_scram_credentials(&[], &gone)
                .await
                .map_err(kafka_error)?;
            // Gone already (another node's copy was behind): what was wanted.
            let refused = results.iter().find(|(_, r)| {
                r.as_ref()
                    .is_err_and(|e| e.code != code::RESOURCE_NOT_FOUND)
            });
            if let Some((user, Err(e))) = refused {
                return Err(anyhow!("Kafka refused to delete {user}: {e}"));
            }
        }
        let missing: Vec<&str> = ours
            .iter()
            .filter(|pair| !on_cluster.contains(pair))
            .map(|(user, _)| user.as_str())
            .collect();
        let mut said = format!(
            "written to the cluster; {} user(s) in force",
            on_cluster.len()
        );
        if !gone.is_empty() {
            let names: Vec<&str> = gone.iter().map(|d| d.user.as_str()).collect();
            said.push_str(&format!(
                "; removed {} (their open sessions end at re-authentication, within {} s)",
                names.join(", "),
                REAUTH_MS / 1000
            ));
        }
        if !missing.is_empty() {
            said.push_str(&format!(
                "; not on the cluster: {} (rotate the password to write it)",
                missing.join(", ")
            ));
        }
        Ok(said)
    }
}
