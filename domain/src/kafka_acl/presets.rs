//! Sets of rules made for people rather than typed one by one: the everyday presets
//! ("produce to topics starting with ...", "consume topic ... as group ..."), each rule checked
//! as if typed, and the deny that a deleted mutual TLS user's principal keeps.

use super::*;

/// The everyday sets of rules, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Write (and describe) topics: a producer, idempotent by default in today's clients.
    Produce,
    /// Read (and describe) topics, and read a consumer group: a consumer in a group.
    Consume,
    /// Create, delete and configure topics: an application that manages its own topics.
    ManageTopics,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Produce, Preset::Consume, Preset::ManageTopics];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Produce => "produce",
            Preset::Consume => "consume",
            Preset::ManageTopics => "manage_topics",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Produce => "Produce to topics",
            Preset::Consume => "Consume topics as a group",
            Preset::ManageTopics => "Create, delete and configure topics",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

/// A preset as typed: the topic (or prefix) and, to consume, the group (or prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresetInput {
    /// produce, consume or manage_topics.
    pub preset: String,
    pub topic: String,
    /// literal (default) or prefixed.
    #[serde(default)]
    pub topic_pattern: String,
    /// The consumer group (consume only).
    #[serde(default)]
    pub group: String,
    /// literal (default) or prefixed.
    #[serde(default)]
    pub group_pattern: String,
}

/// The rules a preset stands for, each checked as if typed.
pub fn expand_preset(input: &PresetInput) -> Result<(Preset, Vec<AclRule>), SpecError> {
    let preset = Preset::parse(&input.preset).ok_or_else(|| {
        refuse(
            "preset",
            format!(
                "Choose a preset: {}.",
                Preset::ALL.map(Preset::as_str).join(", ")
            ),
        )
    })?;
    let rule = |kind: ResourceType, name: &str, pattern: &str, op: Operation, field| {
        parse_rule(&AclInput {
            resource_type: kind.as_str().into(),
            resource_name: name.into(),
            pattern: pattern.into(),
            operation: op.as_str().into(),
            permission: Permission::Allow.as_str().into(),
            host: WILDCARD.into(),
        })
        .map_err(|e| match e.field {
            "resource_name" => refuse(field, e.message),
            "pattern" => refuse(
                if field == "topic" {
                    "topic_pattern"
                } else {
                    "group_pattern"
                },
                e.message,
            ),
            _ => e,
        })
    };
    let topic = |op| {
        rule(
            ResourceType::Topic,
            &input.topic,
            &input.topic_pattern,
            op,
            "topic",
        )
    };
    let rules = match preset {
        Preset::Produce => vec![topic(Operation::Write)?, topic(Operation::Describe)?],
        Preset::Consume => vec![
            topic(Operation::Read)?,
            topic(Operation::Describe)?,
            rule(
                ResourceType::Group,
                &input.group,
                &input.group_pattern,
                Operation::Read,
                "group",
            )?,
        ],
        Preset::ManageTopics => vec![
            topic(Operation::Create)?,
            topic(Operation::Delete)?,
            topic(Operation::Describe)?,
            topic(Operation::DescribeConfigs)?,
            topic(Operation::AlterConfigs)?,
        ],
    };
    Ok((preset, rules))
}

/// What a deleted mutual TLS user's principal keeps until its last certificate expires
/// (Kafka cannot revoke a certificate): a deny of every operation on every resource of every
/// type, from any host. A deny wins over any allow, so no rule given to the name can undo it.
pub fn deny_everything() -> Vec<AclRule> {
    ResourceType::ALL
        .iter()
        .map(|&resource_type| AclRule {
            resource_type,
            resource_name: match resource_type {
                ResourceType::Cluster => CLUSTER_NAME,
                _ => WILDCARD,
            }
            .to_string(),
            pattern: Pattern::Literal,
            operation: Operation::All,
            permission: Permission::Deny,
            host: WILDCARD.to_string(),
        })
        .collect()
}
