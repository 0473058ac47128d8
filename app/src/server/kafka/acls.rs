//! The cluster's access rules made exactly the console's: each user's rules
//! (`User:<username>`), and on an anonymous instance every right on topics, groups and
//! transactional ids for `User:ANONYMOUS` (its clients have no identity to tell apart). Any
//! other rule found is deleted: only a super user can make one (clients are never allowed
//! ALTER on the cluster), so it was made behind the console's back.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::instance_spec::ClientAuth;
use crate::domain::kafka_acl::{
    drift, AclRule, Operation, Pattern, Permission, ResourceType, WILDCARD,
};
use crate::server::provisioner::ProvisionError;
use crate::server::store::{instances::InstanceRow, kafka_acls as keep};
use anyhow::anyhow;
use byoc_engine::admin::AclBinding;

/// The principal unauthenticated clients get.
const ANONYMOUS: &str = "User:ANONYMOUS";

fn binding(principal: &str, rule: &AclRule) -> AclBinding {
    AclBinding {
        resource_type: rule.resource_type.code(),
        resource_name: rule.resource_name.clone(),
        pattern_type: rule.pattern.code(),
        principal: principal.to_string(),
        host: rule.host.clone(),
        operation: rule.operation.code(),
        permission: rule.permission.code(),
    }
}

/// Every right on every topic, group and transactional id.
fn anonymous_rules() -> Vec<AclBinding> {
    [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::TransactionalId,
    ]
    .into_iter()
    .map(|resource_type| {
        binding(
            ANONYMOUS,
            &AclRule {
                resource_type,
                resource_name: WILDCARD.into(),
                pattern: Pattern::Literal,
                operation: Operation::All,
                permission: Permission::Allow,
                host: WILDCARD.into(),
            },
        )
    })
    .collect()
}

impl KafkaProvisioner {
    /// What the cluster's rules must be.
    async fn wanted_acls(&self, instance: &InstanceRow) -> Result<Vec<AclBinding>, ProvisionError> {
        if instance.client_auth == ClientAuth::Anonymous {
            return Ok(anonymous_rules());
        }
        let now = self.clock.unix();
        Ok(keep::of_instance(&self.pool, instance.id)
            .await?
            .into_iter()
            .filter(|r| r.until.is_none_or(|until| until > now))
            .map(|r| binding(&format!("User:{}", r.username), &r.rule))
            .collect())
    }

    /// Deletes the rules the console does not keep and creates those the cluster lacks.
    /// Returns what was done, and whether anything made elsewhere was removed.
    pub(super) async fn sync_acls(
        &self,
        instance: &InstanceRow,
    ) -> Result<(String, bool), ProvisionError> {
        let wanted = self.wanted_acls(instance).await?;
        let admin = self.admin_of(instance).await?;
        // Rules of the super users mean nothing (they are allowed everything); earlier
        // clusters have one for the console. Left alone.
        let super_users = [
            format!("User:{}", byoc_engine::config::BROKER_PRINCIPAL),
            format!("User:{}", byoc_engine::config::CONSOLE_PRINCIPAL),
        ];
        let found: Vec<AclBinding> = admin
            .describe_acls()
            .await
            .map_err(kafka_error)?
            .into_iter()
            .filter(|b| !super_users.contains(&b.principal))
            .collect();
        let (create, delete) = drift(&wanted, &found);
        if !delete.is_empty() {
            let results = admin.delete_acls(&delete).await.map_err(kafka_error)?;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(anyhow!("Kafka refused to delete an access rule: {e}"));
            }
        }
        if !create.is_empty() {
            let results = admin.create_acls(&create).await.map_err(kafka_error)?;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(anyhow!("Kafka refused an access rule: {e}"));
            }
        }
        let mut said = format!("{} access rule(s) in force", wanted.len());
        if !delete.is_empty() {
            let gone: Vec<String> = delete
                .iter()
                .map(|b| {
                    format!(
                        "{} on {} {} (operation {}, permission {})",
                        b.principal,
                        ResourceType::from_code(b.resource_type).map_or("resource", |t| t.as_str()),
                        b.resource_name,
                        Operation::from_code(b.operation).map_or("?", |o| o.as_str()),
                        Permission::from_code(b.permission).map_or("?", |p| p.as_str()),
                    )
                })
                .collect();
            said.push_str(&format!("; removed {}", gone.join(", ")));
        }
        Ok((said, !delete.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_clients_get_every_right_on_topics_groups_and_transactions_only() {
        let rules = anonymous_rules();
        assert_eq!(rules.len(), 3);
        assert!(rules
            .iter()
            .all(|r| r.principal == "User:ANONYMOUS" && r.resource_name == "*"));
        assert!(!rules
            .iter()
            .any(|r| r.resource_type == ResourceType::Cluster.code()));
    }
}
