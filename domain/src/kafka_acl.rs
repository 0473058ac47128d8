//! Access rules (ACLs) of a Kafka user: what a rule may say, the presets people need every
//! day, and how the console's rules are compared with the cluster's.
//!
//! Every node runs Kafka's `StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`:
//! a client may do only what a rule allows it, and a new user may do nothing. The console's
//! own principal and the nodes' are the only super users. The console is the one place rules
//! are made: a rule found on a cluster that the console does not keep is removed.
//!
//! Rules that would let a client change the cluster's users, rights or settings (ALTER,
//! ALTER_CONFIGS, CLUSTER_ACTION or ALL on the cluster) are refused: a client that had them
//! could grant itself anything behind the console's back.

use crate::instance_spec::SpecError;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Rules one user may have.
pub const RULES_MAX: usize = 100;
/// A resource name's longest form (Kafka's topic names stop at 249).
pub const RESOURCE_NAME_MAX: usize = 249;
/// The cluster resource's one name.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// Any resource of the type (a literal rule only) or any host.
pub const WILDCARD: &str = "*";

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $id:literal, $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $id)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored and posted form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id,)+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            pub fn from_code(code: i8) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.code() == code)
            }
        }
    };
}

codes!(
    /// What a rule is about (Kafka's `ResourceType`).
    ResourceType {
        Topic = "topic", 2, "Topic";
        Group = "group", 3, "Consumer group";
        Cluster = "cluster", 4, "Cluster";
        TransactionalId = "transactional_id", 5, "Transactional id";
    }
);

codes!(
    /// How a rule's name matches (Kafka's `PatternType`).
    Pattern {
        Literal = "literal", 3, "Exactly";
        Prefixed = "prefixed", 4, "Starting with";
    }
);

codes!(
    /// What a rule allows or denies (Kafka's `AclOperation`).
    Operation {
        All = "all", 2, "All";
        Read = "read", 3, "Read";
        Write = "write", 4, "Write";
        Create = "create", 5, "Create";
        Delete = "delete", 6, "Delete";
        Alter = "alter", 7, "Alter";
        Describe = "describe", 8, "Describe";
        ClusterAction = "cluster_action", 9, "Cluster action";
        DescribeConfigs = "describe_configs", 10, "Describe configs";
        AlterConfigs = "alter_configs", 11, "Alter configs";
        IdempotentWrite = "idempotent_write", 12, "Idempotent write";
    }
);

codes!(
    /// Allow or deny (Kafka's `AclPermissionType`); a deny wins over any allow.
    Permission {
        Allow = "allow", 3, "Allow";
        Deny = "deny", 2, "Deny";
    }
);

impl ResourceType {
    /// The operations Kafka checks on the resource type (its authorizer's matrix).
    pub fn operations(self) -> &'static [Operation] {
        use Operation::*;
        match self {
            ResourceType::Topic => &[
                All,
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[All, Read, Describe, Delete],
            ResourceType::Cluster => &[
                All,
                Create,
                Alter,
                Describe,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
            ],
            ResourceType::TransactionalId => &[All, Write, Describe],
        }
    }
}

/// One rule of a user, checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AclRule {
    pub resource_type: ResourceType,
    /// A topic, group or transactional id (or its prefix); `*` for all; `kafka-cluster` for the
    /// cluster.
    pub resource_name: String,
    pub pattern: Pattern,
    pub operation: Operation,
    pub permission: Permission,
    /// `*` for any host, or one IP address the client connects from.
    pub host: String,
}

impl AclRule {
    /// For the page and the audit log: "allow read on topics starting with orders. from any
    /// host".
    pub fn describe(&self) -> String {
        let what = match (
            self.resource_type,
            self.pattern,
            self.resource_name.as_str(),
        ) {
            (ResourceType::Cluster, _, _) => "the cluster".to_string(),
            (t, Pattern::Literal, WILDCARD) => format!("every {}", t.label().to_lowercase()),
            (t, Pattern::Literal, name) => format!("{} {name}", t.label().to_lowercase()),
            (t, Pattern::Prefixed, prefix) => {
                format!("{}s starting with {prefix}", t.label().to_lowercase())
            }
        };
        let host = if self.host == WILDCARD {
            "from any host".to_string()
        } else {
            format!("from {}", self.host)
        };
        format!(
            "{} {} on {what} {host}",
            self.permission.as_str(),
            self.operation.label().to_lowercase()
        )
    }
}

/// A rule as typed in the form or posted to the API: every field a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AclInput {
    /// topic, group, cluster or transactional_id.
    pub resource_type: String,
    /// Ignored for the cluster.
    #[serde(default)]
    pub resource_name: String,
    /// literal (default) or prefixed.
    #[serde(default)]
    pub pattern: String,
    pub operation: String,
    /// allow (default) or deny.
    #[serde(default)]
    pub permission: String,
    /// `*` (default) or an IP address.
    #[serde(default)]
    pub host: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

fn names<T: Copy>(all: &[T], id: fn(T) -> &'static str) -> String {
    all.iter().map(|v| id(*v)).collect::<Vec<_>>().join(", ")
}

/// A resource name: what Kafka allows in a topic name (letters, digits, `.`, `_`, `-`), or
/// `*` alone for every resource of the type (literal rules only).
fn resource_name(kind: ResourceType, pattern: Pattern, input: &str) -> Result<String, SpecError> {
    const FIELD: &str = "resource_name";
    if kind == ResourceType::Cluster {
        return Ok(CLUSTER_NAME.to_string());
    }
    let name = input.trim();
    if name.is_empty() {
        return Err(refuse(
            FIELD,
            format!(
                "Enter the {}'s name (or its prefix, or * for all).",
                kind.label().to_lowercase()
            ),
        ));
    }
    if name == WILDCARD {
        return match pattern {
            Pattern::Literal => Ok(name.to_string()),
            Pattern::Prefixed => Err(refuse(
                FIELD,
                "* means every resource only in a rule matching exactly; for a prefix, enter \
                 the prefix itself.",
            )),
        };
    }
    if name.chars().count() > RESOURCE_NAME_MAX {
        return Err(refuse(
            FIELD,
            format!(
                "A resource name has at most {RESOURCE_NAME_MAX} characters; this one has {}.",
                name.chars().count()
            ),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(refuse(
            FIELD,
            format!(
                "A resource name may use letters, digits, '.', '_' and '-' only (as Kafka's \
                 topic names), or be * alone; {bad:?} is not allowed."
            ),
        ));
    }
    Ok(name.to_string())
}

fn host(input: &str) -> Result<String, SpecError> {
    let host = input.trim();
    if host.is_empty() || host == WILDCARD {
        return Ok(WILDCARD.to_string());
    }
    host.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| {
            refuse(
                "host",
                "Enter * for any host, or one IP address (Kafka matches a client's address, \
                 not its host name or a network).",
            )
        })
}

/// Checks a typed rule: each field by its rule, the operation against what Kafka checks on
/// the resource type, and no right over the cluster's users, rights or settings.
pub fn parse_rule(input: &AclInput) -> Result<AclRule, SpecError> {
    let resource_type = ResourceType::parse(&input.resource_type).ok_or_else(|| {
        refuse(
            "resource_type",
            format!(
                "Choose a resource type: {}.",
                names(ResourceType::ALL, ResourceType::as_str)
            ),
        )
    })?;
    let pattern = if input.pattern.trim().is_empty() {
        Pattern::Literal
    } else {
        Pattern::parse(&input.pattern).ok_or_else(|| {
            refuse(
                "pattern",
                "Choose how the name matches: literal (exactly) or prefixed (starting with).",
            )
        })?
    };
    let pattern = if resource_type == ResourceType::Cluster {
        Pattern::Literal
    } else {
        pattern
    };
    let resource_name = resource_name(resource_type, pattern, &input.resource_name)?;
    let allowed = resource_type.operations();
    let operation = Operation::parse(&input.operation)
        .filter(|op| allowed.contains(op))
        .ok_or_else(|| {
            refuse(
                "operation",
                format!(
                    "Choose an operation Kafka checks on a {}: {}.",
                    resource_type.label().to_lowercase(),
                    names(allowed, Operation::as_str)
                ),
            )
        })?;
    let permission = if input.permission.trim().is_empty() {
        Permission::Allow
    } else {
        Permission::parse(&input.permission)
            .ok_or_else(|| refuse("permission", "Choose allow or deny."))?
    };
    if permission == Permission::Allow
        && resource_type == ResourceType::Cluster
        && matches!(
            operation,
            Operation::All | Operation::Alter | Operation::AlterConfigs | Operation::ClusterAction
        )
    {
        return Err(refuse(
            "operation",
            format!(
                "{} on the cluster would let the client create users and grant itself rights \
                 behind the console, or change the nodes' settings: the console keeps those. \
                 Allow create, describe, describe_configs or idempotent_write instead.",
                operation.as_str()
            ),
        ));
    }
    Ok(AclRule {
        resource_type,
        resource_name,
        pattern,
        operation,
        permission,
        host: host(&input.host)?,
    })
}

/// What must change on a cluster for its rules to be exactly the wanted ones: (to create,
/// to delete), each sorted, both empty when they agree.
pub fn drift<T: Ord + Clone>(wanted: &[T], found: &[T]) -> (Vec<T>, Vec<T>) {
    let wanted: std::collections::BTreeSet<&T> = wanted.iter().collect();
    let found: std::collections::BTreeSet<&T> = found.iter().collect();
    (
        wanted.difference(&found).map(|t| (*t).clone()).collect(),
        found.difference(&wanted).map(|t| (*t).clone()).collect(),
    )
}

mod presets;
pub use presets::{deny_everything, expand_preset, Preset, PresetInput};

#[cfg(test)]
mod tests;
