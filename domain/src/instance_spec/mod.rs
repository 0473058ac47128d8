//! What an instance is made of, and the rules its create form is checked against. The same
//! catalog (Kafka versions, write-ahead-log modes, authentication, ...) fills the form's
//! choices and validates on the server, so the two never disagree.

use crate::environment;
use crate::instance::{self, NameError};
use crate::license::{MAX_INSTANCE_AKU, MIN_INSTANCE_AKU};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A choice of the form: the stored id and what people read.
pub struct Choice {
    pub id: &'static str,
    pub label: &'static str,
}

const fn c(id: &'static str, label: &'static str) -> Choice {
    Choice { id, label }
}

/// Supported Kafka versions, newest first (the form's default).
pub const KAFKA_VERSIONS: &[Choice] = &[
    c("3.9.0", "Kafka 3.9.0"),
    c("3.8.1", "Kafka 3.8.1"),
    c("3.7.2", "Kafka 3.7.2"),
];

/// A setting with a fixed set of values: an enum whose variants each have one string form
/// (stored, posted by the form, and serde's), written once here, a label, and the form's
/// choices (`$list`) made from the same table.
macro_rules! catalog {
    ($(#[$meta:meta])* $name:ident, $list:ident { $($variant:ident = $id:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        // The ids are the variants' names in snake_case: said once more for the OpenAPI
        // document's sake (utoipa does not read a variant's rename made by this macro).
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $id)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $id,)+
                }
            }

            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        pub const $list: &[Choice] = &[$(c($id, $label),)+];
    };
}

catalog!(
    /// Where the brokers run: one zone, or three with a subnet each.
    Deployment, DEPLOYMENTS {
        SingleZone = "single_zone", "One zone";
        ThreeZones = "three_zones", "Three zones (one subnet each)";
    }
);

catalog!(
    /// Where the write-ahead log is kept.
    WalMode, WAL_MODES {
        BlockVolume = "block_volume", "Block volume (lowest latency)";
        ObjectStorage = "object_storage", "Object storage (lowest cost)";
        SharedFileSystem = "shared_file_system", "Shared file system";
    }
);

catalog!(
    /// How Kafka clients authenticate.
    ClientAuth, CLIENT_AUTH {
        SaslScram = "sasl_scram", "SASL/SCRAM";
        SaslPlain = "sasl_plain", "SASL/PLAIN";
        Mtls = "mtls", "Mutual TLS";
        Anonymous = "anonymous", "Anonymous";
    }
);

catalog!(
    /// Whether Kafka traffic is encrypted.
    TransitEncryption, TRANSIT_ENCRYPTION {
        Tls = "tls", "TLS";
        Plaintext = "plaintext", "Plaintext";
    }
);

catalog!(
    /// Who can reach the endpoint.
    EndpointExposure, ENDPOINT_EXPOSURE {
        Vpc = "vpc", "Inside the VPC only";
        Internet = "internet", "Internet";
    }
);

pub const DESCRIPTION_MAX: usize = 256;
pub const TAGS_MAX: usize = 20;
pub const TAG_KEY_MAX: usize = 64;
pub const TAG_VALUE_MAX: usize = 256;
/// What a tag key may use besides ASCII letters and digits.
pub const TAG_KEY_SYMBOLS: &str = "-_.:/@+ ";

/// The clouds whose network identifiers carry a prefix: (provider, VPC prefix, subnet prefix).
/// After the prefix: [`NETWORK_ID_MIN`] to [`NETWORK_ID_MAX`] lowercase letters or digits.
pub const NETWORK_PREFIXES: &[(&str, &str, &str)] =
    &[("aws", "vpc-", "subnet-"), ("alibaba", "vpc-", "vsw-")];
pub const NETWORK_ID_MIN: usize = 8;
pub const NETWORK_ID_MAX: usize = 32;
/// Network identifiers elsewhere (a resource name): at most this many characters.
pub const RESOURCE_NAME_MAX: usize = 64;
/// Bucket names, as S3 and OSS take them: this many characters at least and at most.
pub const BUCKET_MIN: usize = 3;
pub const BUCKET_MAX: usize = 63;

/// The form as typed: every field a string, as a browser posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceInput {
    pub name: String,
    pub description: String,
    pub kafka_version: String,
    pub deployment: String,
    pub vpc_id: String,
    pub subnet_1: String,
    pub subnet_2: String,
    pub subnet_3: String,
    pub data_bucket: String,
    pub wal_mode: String,
    pub client_auth: String,
    pub transit_encryption: String,
    pub endpoint_exposure: String,
    /// `key=value`, one per line.
    pub tags: String,
    pub size_aku: String,
}

/// A checked instance specification, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceSpec {
    pub name: String,
    pub description: String,
    pub kafka_version: String,
    pub deployment: Deployment,
    /// The zones of the environment's region the instance is placed in, one per subnet.
    pub zones: Vec<String>,
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub data_bucket: String,
    pub wal_mode: WalMode,
    pub client_auth: ClientAuth,
    pub transit_encryption: TransitEncryption,
    pub endpoint_exposure: EndpointExposure,
    pub tags: BTreeMap<String, String>,
    pub size_aku: u32,
}

/// A field and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn err(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

/// [`choose`], as the setting's type.
fn choose_one<T>(
    field: &'static str,
    what: &str,
    choices: &'static [Choice],
    input: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, SpecError> {
    let id = choose(field, what, choices, input)?;
    parse(&id).ok_or_else(|| err(field, format!("{id:?} is not a {what}")))
}

fn choose(
    field: &'static str,
    what: &str,
    choices: &'static [Choice],
    input: &str,
) -> Result<String, SpecError> {
    let input = input.trim();
    choices
        .iter()
        .find(|c| c.id == input)
        .map(|c| c.id.to_string())
        .ok_or_else(|| {
            let listed: Vec<_> = choices.iter().map(|c| c.label).collect();
            err(
                field,
                format!("Choose a {what}: one of {}.", listed.join(", ")),
            )
        })
}

/// The size rule: a whole number of AKU, from 3 to 500 and at most the license's per-instance
/// maximum. `field` names the form field ("size_aku").
pub fn parse_size(input: &str, max_per_instance: u32) -> Result<u32, SpecError> {
    let max = max_per_instance.min(MAX_INSTANCE_AKU);
    let size: u32 = input
        .trim()
        .parse()
        .map_err(|_| err("size_aku", "Size must be a whole number of AKU."))?;
    if size < MIN_INSTANCE_AKU {
        return Err(err(
            "size_aku",
            format!("Size must be at least {MIN_INSTANCE_AKU} AKU."),
        ));
    }
    if size > max {
        let why = if max < MAX_INSTANCE_AKU {
            "the license's per-instance maximum"
        } else {
            "the largest instance"
        };
        return Err(err(
            "size_aku",
            format!("Size must be at most {max} AKU ({why})."),
        ));
    }
    Ok(size)
}

/// Network identifiers as each cloud spells them: `vpc-…`/`subnet-…` on AWS, `vpc-…`/`vsw-…` on
/// Alibaba Cloud, a resource name elsewhere.
fn network_id(
    field: &'static str,
    what: &str,
    prefix: Option<&str>,
    input: &str,
) -> Result<String, SpecError> {
    let id = input.trim();
    if id.is_empty() {
        return Err(err(field, format!("{what} is required.")));
    }
    match prefix {
        Some(prefix) => {
            let rest = id.strip_prefix(prefix).unwrap_or("");
            let ok = (NETWORK_ID_MIN..=NETWORK_ID_MAX).contains(&rest.len())
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok {
                return Err(err(
                    field,
                    format!("{what} must look like {prefix}0a1b2c3d: \"{prefix}\" and {NETWORK_ID_MIN} to {NETWORK_ID_MAX} lowercase letters or digits."),
                ));
            }
        }
        None => {
            let ok = (1..=RESOURCE_NAME_MAX).contains(&id.len())
                && id.starts_with(|c: char| c.is_ascii_lowercase())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(err(
                    field,
                    format!("{what} must be 1 to {RESOURCE_NAME_MAX} lowercase letters, digits or hyphens, starting with a letter."),
                ));
            }
        }
    }
    Ok(id.to_string())
}

fn prefixes(provider: &str) -> (Option<&'static str>, Option<&'static str>) {
    NETWORK_PREFIXES
        .iter()
        .find(|(cloud, _, _)| *cloud == provider)
        .map_or((None, None), |(_, vpc, subnet)| (Some(*vpc), Some(*subnet)))
}

/// Bucket names as S3 and OSS accept them: 3 to 63 lowercase letters, digits, hyphens and
/// dots, beginning and ending with a letter or digit, no two dots in a row.
fn bucket(input: &str) -> Result<String, SpecError> {
    let name = input.trim();
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (BUCKET_MIN..=BUCKET_MAX).contains(&name.len())
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && !name.contains("..");
    if ok {
        Ok(name.to_string())
    } else if name.is_empty() {
        Err(err("data_bucket", "Data bucket is required."))
    } else {
        Err(err("data_bucket", format!("Data bucket must be {BUCKET_MIN} to {BUCKET_MAX} lowercase letters, digits, hyphens or dots, beginning and ending with a letter or digit.")))
    }
}

/// `key=value` per line; blank lines ignored.
pub fn parse_tags(input: &str) -> Result<BTreeMap<String, String>, SpecError> {
    let mut tags = BTreeMap::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let line_no = n + 1;
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(
                "tags",
                format!("Tag on line {line_no} must be written key=value."),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let key_ok = (1..=TAG_KEY_MAX).contains(&key.chars().count())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || TAG_KEY_SYMBOLS.contains(c));
        if !key_ok {
            return Err(err("tags", format!("Tag key on line {line_no} must be 1 to {TAG_KEY_MAX} letters, digits, spaces or - _ . : / @ +.")));
        }
        if value.chars().count() > TAG_VALUE_MAX || value.chars().any(char::is_control) {
            return Err(err(
                "tags",
                format!("Tag value on line {line_no} must be at most {TAG_VALUE_MAX} characters, without control characters."),
            ));
        }
        if tags.insert(key.to_string(), value.to_string()).is_some() {
            return Err(err(
                "tags",
                format!("Tag key {key:?} appears twice (line {line_no})."),
            ));
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(err(
            "tags",
            format!("At most {TAGS_MAX} tags (there are {}).", tags.len()),
        ));
    }
    Ok(tags)
}

/// Checks every field, in the order of the form, and stops at the first error (the server
/// answers with one field and one rule; the form shows it next to that field).
pub fn validate(
    input: &InstanceInput,
    provider: &str,
    region: &str,
    max_per_instance: u32,
) -> Result<InstanceSpec, SpecError> {
    let name =
        instance::parse_name(&input.name).map_err(|e: NameError| err("name", e.to_string()))?;
    let description = input.description.trim().to_string();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(err(
            "description",
            format!("Description must be at most {DESCRIPTION_MAX} characters."),
        ));
    }
    if description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(err(
            "description",
            "Description must not contain control characters.",
        ));
    }
    let kafka_version = choose(
        "kafka_version",
        "Kafka version",
        KAFKA_VERSIONS,
        &input.kafka_version,
    )?;
    let deployment = choose_one(
        "deployment",
        "deployment",
        DEPLOYMENTS,
        &input.deployment,
        Deployment::parse,
    )?;
    let (vpc_prefix, subnet_prefix) = prefixes(provider);
    let vpc_id = network_id("vpc_id", "VPC ID", vpc_prefix, &input.vpc_id)?;
    let region_zones = environment::zones(provider, region);
    let subnet_inputs: Vec<(&'static str, &str)> = if deployment == Deployment::ThreeZones {
        vec![
            ("subnet_1", input.subnet_1.as_str()),
            ("subnet_2", input.subnet_2.as_str()),
            ("subnet_3", input.subnet_3.as_str()),
        ]
    } else {
        vec![("subnet_1", input.subnet_1.as_str())]
    };
    let mut subnets: Vec<String> = Vec::new();
    for (i, (field, value)) in subnet_inputs.into_iter().enumerate() {
        let what = format!("Subnet for zone {}", region_zones[i]);
        let subnet = network_id(field, &what, subnet_prefix, value)?;
        if subnets.contains(&subnet) {
            return Err(err(field, "Each zone needs its own subnet."));
        }
        subnets.push(subnet);
    }
    let zones = region_zones[..subnets.len()].to_vec();
    let data_bucket = bucket(&input.data_bucket)?;
    let wal_mode = choose_one(
        "wal_mode",
        "write-ahead-log mode",
        WAL_MODES,
        &input.wal_mode,
        WalMode::parse,
    )?;
    let client_auth = choose_one(
        "client_auth",
        "client authentication",
        CLIENT_AUTH,
        &input.client_auth,
        ClientAuth::parse,
    )?;
    let transit_encryption = choose_one(
        "transit_encryption",
        "transit encryption",
        TRANSIT_ENCRYPTION,
        &input.transit_encryption,
        TransitEncryption::parse,
    )?;
    let endpoint_exposure = choose_one(
        "endpoint_exposure",
        "endpoint exposure",
        ENDPOINT_EXPOSURE,
        &input.endpoint_exposure,
        EndpointExposure::parse,
    )?;
    if client_auth == ClientAuth::Mtls && transit_encryption != TransitEncryption::Tls {
        return Err(err(
            "transit_encryption",
            "Mutual TLS authentication needs TLS transit encryption.",
        ));
    }
    if endpoint_exposure == EndpointExposure::Internet {
        if client_auth == ClientAuth::Anonymous {
            return Err(err(
                "client_auth",
                "An internet endpoint needs client authentication; anonymous access is allowed only inside the VPC.",
            ));
        }
        if transit_encryption != TransitEncryption::Tls {
            return Err(err(
                "transit_encryption",
                "An internet endpoint needs TLS transit encryption.",
            ));
        }
    }
    let tags = parse_tags(&input.tags)?;
    let size_aku = parse_size(&input.size_aku, max_per_instance)?;
    Ok(InstanceSpec {
        name,
        description,
        kafka_version,
        deployment,
        zones,
        vpc_id,
        subnets,
        data_bucket,
        wal_mode,
        client_auth,
        transit_encryption,
        endpoint_exposure,
        tags,
        size_aku,
    })
}

#[cfg(test)]
mod tests;
