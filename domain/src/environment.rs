//! The environment: its display name and the cloud it runs in. The provider and region lists
//! are one catalog here, used by the setup form and by the server's validation alike.

use std::fmt;

pub const NAME_MAX: usize = 64;

pub struct CloudProvider {
    pub id: &'static str,
    pub label: &'static str,
    pub regions: &'static [Region],
}

pub struct Region {
    pub id: &'static str,
    pub label: &'static str,
}

const fn r(id: &'static str, label: &'static str) -> Region {
    Region { id, label }
}

pub const PROVIDERS: &[CloudProvider] = &[
    CloudProvider {
        id: "aws",
        label: "Amazon Web Services",
        regions: &[
            r("us-east-1", "US East (N. Virginia)"),
            r("us-west-2", "US West (Oregon)"),
            r("eu-central-1", "Europe (Frankfurt)"),
            r("eu-west-1", "Europe (Ireland)"),
            r("ap-southeast-1", "Asia Pacific (Singapore)"),
            r("ap-northeast-1", "Asia Pacific (Tokyo)"),
        ],
    },
    CloudProvider {
        id: "alibaba",
        label: "Alibaba Cloud",
        regions: &[
            r("cn-hangzhou", "China (Hangzhou)"),
            r("cn-shanghai", "China (Shanghai)"),
            r("cn-beijing", "China (Beijing)"),
            r("cn-hongkong", "China (Hong Kong)"),
            r("ap-southeast-1", "Singapore"),
            r("eu-central-1", "Germany (Frankfurt)"),
        ],
    },
    CloudProvider {
        id: "azure",
        label: "Microsoft Azure",
        regions: &[
            r("eastus", "East US"),
            r("westeurope", "West Europe"),
            r("southeastasia", "Southeast Asia"),
        ],
    },
    CloudProvider {
        id: "gcp",
        label: "Google Cloud",
        regions: &[
            r("us-central1", "Iowa (us-central1)"),
            r("europe-west1", "Belgium (europe-west1)"),
            r("asia-southeast1", "Singapore (asia-southeast1)"),
        ],
    },
];

pub fn provider(id: &str) -> Option<&'static CloudProvider> {
    PROVIDERS.iter().find(|p| p.id == id)
}

/// Label of a provider id for display; the id itself if unknown.
pub fn provider_label(id: &str) -> &str {
    provider(id).map(|p| p.label).unwrap_or(id)
}

/// The three zones of a region an instance can be placed in, as the provider names them.
pub fn zones(provider: &str, region: &str) -> [String; 3] {
    let zone = |suffix: &str| match provider {
        "aws" => format!("{region}{suffix}"),
        "azure" => format!("{region}-{}", suffix.as_bytes()[0] - b'a' + 1),
        _ => format!("{region}-{suffix}"),
    };
    [zone("a"), zone("b"), zone("c")]
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentError {
    NameEmpty,
    NameTooLong { chars: usize },
    NameControlCharacter,
    UnknownProvider,
    UnknownRegion { provider: &'static str },
}

impl fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvironmentError::NameEmpty => write!(f, "Environment name is required."),
            EnvironmentError::NameTooLong { chars } => write!(
                f,
                "Environment name must be at most {NAME_MAX} characters (this one has {chars})."
            ),
            EnvironmentError::NameControlCharacter => {
                write!(f, "Environment name must not contain control characters.")
            }
            EnvironmentError::UnknownProvider => {
                write!(f, "Choose one of the listed cloud providers.")
            }
            EnvironmentError::UnknownRegion { provider } => {
                write!(f, "Choose a region of {}.", provider_label(provider))
            }
        }
    }
}

/// Trimmed, 1 to 64 characters, no control characters.
pub fn parse_name(input: &str) -> Result<String, EnvironmentError> {
    let name = input.trim();
    let chars = name.chars().count();
    if chars == 0 {
        Err(EnvironmentError::NameEmpty)
    } else if chars > NAME_MAX {
        Err(EnvironmentError::NameTooLong { chars })
    } else if name.chars().any(char::is_control) {
        Err(EnvironmentError::NameControlCharacter)
    } else {
        Ok(name.to_string())
    }
}

/// The provider must be in the catalog and the region must belong to it.
pub fn parse_location(
    provider_id: &str,
    region_id: &str,
) -> Result<(&'static CloudProvider, &'static Region), EnvironmentError> {
    let provider = provider(provider_id).ok_or(EnvironmentError::UnknownProvider)?;
    let region = provider.regions.iter().find(|r| r.id == region_id).ok_or(
        EnvironmentError::UnknownRegion {
            provider: provider.id,
        },
    )?;
    Ok((provider, region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("  Production  ").unwrap(), "Production");
        assert_eq!(parse_name("   "), Err(EnvironmentError::NameEmpty));
        assert!(parse_name(&"x".repeat(64)).is_ok());
        assert_eq!(
            parse_name(&"x".repeat(65)),
            Err(EnvironmentError::NameTooLong { chars: 65 })
        );
        assert_eq!(
            parse_name("a\u{7}b"),
            Err(EnvironmentError::NameControlCharacter)
        );
    }

    #[test]
    fn region_must_belong_to_provider() {
        assert!(parse_location("aws", "eu-central-1").is_ok());
        assert!(parse_location("alibaba", "cn-hangzhou").is_ok());
        assert!(matches!(
            parse_location("aws", "cn-hangzhou"),
            Err(EnvironmentError::UnknownRegion { provider: "aws" })
        ));
        assert!(matches!(
            parse_location("ibm", "x"),
            Err(EnvironmentError::UnknownProvider)
        ));
    }

    #[test]
    fn zones_as_each_provider_names_them() {
        assert_eq!(zones("aws", "us-east-1")[2], "us-east-1c");
        assert_eq!(zones("alibaba", "cn-hangzhou")[0], "cn-hangzhou-a");
        assert_eq!(zones("azure", "westeurope")[1], "westeurope-2");
        assert_eq!(zones("gcp", "europe-west1")[1], "europe-west1-b");
    }

    #[test]
    fn catalog_ids_are_unique_per_provider() {
        for p in PROVIDERS {
            let mut ids: Vec<_> = p.regions.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), p.regions.len(), "{}", p.id);
        }
    }
}
