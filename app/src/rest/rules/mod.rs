//! The REST API's input rules as JSON Schema, made from the domain's own constants and
//! character tests, so that the document states every rule a schema can state and cannot drift
//! from the checks that enforce them. Each type here is only a schema (never built): request
//! types name it with `value_type`, and the document has it under `components/schemas`.
//!
//! Not stated, because no JSON Schema can state them, and answered 409 (the console's state,
//! license or configuration is in the way of an input the document accepts): a name already
//! taken, the AKU quota, the license's largest instance, a size the instance already has, a
//! setting the provisioner cannot put in force, an expiry date that has passed. Answered 422: a
//! product key that is not signed by the vendor, an `Idempotency-Key` sent again with another
//! body. Answered 404: a cursor this console did not make (or whose row is gone).

use crate::domain::instance_spec::{
    Deployment, BUCKET_MAX, BUCKET_MIN, DESCRIPTION_MAX, KAFKA_VERSIONS, NETWORK_ID_MAX,
    NETWORK_ID_MIN, NETWORK_PREFIXES, RESOURCE_NAME_MAX, TAGS_MAX, TAG_KEY_MAX, TAG_KEY_SYMBOLS,
    TAG_VALUE_MAX,
};
use crate::domain::license::{MAX_INSTANCE_AKU, MIN_INSTANCE_AKU};
use crate::domain::{account, instance, kafka_user, topic};
use crate::server::instances::view;
use crate::wire::audit;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;

/// A schema-only type: `$name` in `components/schemas`, `$schema` its rules.
macro_rules! rule {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn integer(description: &str, minimum: u32, maximum: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(description))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

/// JSON Schema keywords utoipa has no field for (`not`, `if`/`then`): its extensions are
/// written into the schema object as they are.
pub fn keywords(pairs: impl IntoIterator<Item = (&'static str, serde_json::Value)>) -> Extensions {
    Extensions::from_iter(pairs)
}

/// A regular expression (ECMA-262, as JSON Schema reads it, and Python's alike) matching
/// exactly `text`.
fn literal(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '^' | '$' | '\\' | '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|'
            | '/' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect()
}

/// The inside of a character class holding exactly the characters of `text`.
fn members(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\\' | ']' | '[' | '^' | '-' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect()
}

/// The inside of a character class holding exactly the characters for which `test` holds,
/// as ranges of `\uXXXX` (all of them in the Basic Multilingual Plane, which both dialects
/// write alike).
fn class_of(test: fn(char) -> bool) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for c in (0..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|c| test(*c))
    {
        let c = u32::from(c);
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            _ => ranges.push((c, c)),
        }
    }
    ranges
        .into_iter()
        .map(|(start, end)| {
            assert!(end <= 0xFFFF, "outside the BMP: {end:x}");
            if start == end {
                format!("\\u{start:04x}")
            } else {
                format!("\\u{start:04x}-\\u{end:04x}")
            }
        })
        .collect()
}

/// Free text as the domain takes it once trimmed, and as the API takes it (it does not trim):
/// no control characters (line breaks allowed if `line_breaks`), no white space at either end.
fn free_text(line_breaks: bool) -> String {
    let edge = class_of(|c| c.is_control() || c.is_whitespace());
    let inner = if line_breaks {
        class_of(|c| c.is_control() && c != '\n')
    } else {
        class_of(|c| c.is_control())
    };
    format!("^([^{edge}]([^{inner}]*[^{edge}])?)?$")
}

rule!(
    /// An instance's name.
    InstanceName => string(
        "Lowercase letters, digits and hyphens; starts with a letter, does not end with a \
         hyphen (a DNS label). Unique among the instances not deleted (else 409).",
    )
    .min_length(Some(instance::NAME_MIN))
    .max_length(Some(instance::NAME_MAX))
    .pattern(Some("^[a-z]([a-z0-9-]*[a-z0-9])?$"))
);

rule!(
    /// What an instance is for.
    InstanceDescription => string(
        "Free text without control characters (line breaks allowed) and without white space \
         at either end.",
    )
    .max_length(Some(DESCRIPTION_MAX))
    .pattern(Some(free_text(true)))
);

rule!(
    /// A supported Kafka version.
    KafkaVersion => string("A Kafka version the console runs, newest first.")
        .enum_values(Some(KAFKA_VERSIONS.iter().map(|v| v.id)))
);

/// A network identifier's rule: `prefix` and letters or digits, or a resource name where the
/// cloud has no prefix.
fn network_id(what: &str, prefix: Option<&str>) -> ObjectBuilder {
    match prefix {
        Some(prefix) => string(&format!(
            "{what}: `{prefix}` and {NETWORK_ID_MIN} to {NETWORK_ID_MAX} lowercase letters or digits."
        ))
        .pattern(Some(format!(
            "^{}[a-z0-9]{{{NETWORK_ID_MIN},{NETWORK_ID_MAX}}}$",
            literal(prefix)
        ))),
        None => string(&format!(
            "{what}: a resource name, lowercase letters, digits and hyphens, starting with a letter."
        ))
        .max_length(Some(RESOURCE_NAME_MAX))
        .pattern(Some("^[a-z][a-z0-9-]*$")),
    }
}

/// Which of a cloud's prefixes (VPC or subnet).
#[derive(Clone, Copy)]
pub enum Network {
    Vpc,
    Subnet,
}

/// The VPC or subnet identifier's schema on `provider`'s cloud; for no provider (before
/// setup), any cloud's.
pub fn network_schema(network: Network, provider: Option<&str>) -> RefOr<Schema> {
    let what = match network {
        Network::Vpc => "The VPC's ID",
        Network::Subnet => "A subnet's ID",
    };
    let prefix = |cloud: &str| {
        NETWORK_PREFIXES.iter().find(|(c, _, _)| *c == cloud).map(
            |(_, vpc, subnet)| match network {
                Network::Vpc => *vpc,
                Network::Subnet => *subnet,
            },
        )
    };
    match provider {
        Some(provider) => network_id(what, prefix(provider)).into(),
        None => {
            let mut forms: Vec<Option<&str>> = NETWORK_PREFIXES
                .iter()
                .map(|(cloud, _, _)| prefix(cloud))
                .collect();
            forms.dedup();
            forms.push(None);
            let mut any = AnyOfBuilder::new().description(Some(format!(
                "{what}, as the environment's cloud spells it."
            )));
            for form in forms {
                any = any.item(network_id(what, form));
            }
            any.into()
        }
    }
}

rule!(
    /// The VPC the instance is placed in (the document served states the environment's cloud).
    VpcId => network_schema(Network::Vpc, None)
);

rule!(
    /// A subnet of the VPC (the document served states the environment's cloud).
    SubnetId => network_schema(Network::Subnet, None)
);

/// How many subnets (one per zone) a deployment takes.
pub fn zones(deployment: Deployment) -> usize {
    match deployment {
        Deployment::SingleZone => 1,
        Deployment::ThreeZones => 3,
    }
}

rule!(
    /// The subnets, one per zone in zone order: as many as the deployment has zones.
    Subnets => ArrayBuilder::new()
        .description(Some(
            "One subnet per zone, in zone order, each its own: as many as the deployment has \
             zones.",
        ))
        .items(utoipa::openapi::Ref::from_schema_name("SubnetId"))
        .min_items(Deployment::ALL.iter().map(|d| zones(*d)).min())
        .max_items(Deployment::ALL.iter().map(|d| zones(*d)).max())
        .unique_items(true)
);

rule!(
    /// The bucket of the instance's data.
    DataBucket => string(
        "A bucket name as S3 and OSS take it: lowercase letters, digits, hyphens and dots, \
         beginning and ending with a letter or digit, no two dots in a row.",
    )
    .min_length(Some(BUCKET_MIN))
    .max_length(Some(BUCKET_MAX))
    .pattern(Some("^[a-z0-9](([a-z0-9-]|\\.[a-z0-9-])*\\.?[a-z0-9])?$"))
);

/// A tag key's characters, as a class body (ASCII letters and digits, and the symbols).
fn tag_key_class(with_space: bool) -> String {
    let symbols: String = TAG_KEY_SYMBOLS
        .chars()
        .filter(|c| with_space || *c != ' ')
        .collect();
    format!("A-Za-z0-9{}", members(&symbols))
}

rule!(
    /// Tags put on the instance's cloud resources.
    Tags => ObjectBuilder::new()
        .description(Some(format!(
            "Key and value: keys of letters, digits, spaces and `{}`, not beginning or ending \
             with a space; values without control characters or white space at either end.",
            TAG_KEY_SYMBOLS.trim()
        )))
        .max_properties(Some(TAGS_MAX))
        .property_names(Some(
            string("A tag key.")
                .min_length(Some(1))
                .max_length(Some(TAG_KEY_MAX))
                .pattern(Some(format!(
                    "^[{edge}]([{all}]*[{edge}])?$",
                    edge = tag_key_class(false),
                    all = tag_key_class(true)
                ))),
        ))
        .additional_properties(Some(
            string("A tag value.")
                .max_length(Some(TAG_VALUE_MAX))
                .pattern(Some(free_text(false))),
        ))
);

rule!(
    /// An instance's size.
    InstanceSize => integer(
        "AKU (Kafka units). At most the license's largest instance (else 409), and the quota \
         (else 409).",
        MIN_INSTANCE_AKU,
        MAX_INSTANCE_AKU,
    )
);

rule!(
    /// A topic's name.
    TopicName => string(
        "Letters, digits, `.`, `_` and `-`; not `.` or `..`, and not starting with `__` \
         (Kafka's internal topics).",
    )
    .min_length(Some(1))
    .max_length(Some(topic::NAME_MAX))
    .pattern(Some(
        "^([a-zA-Z0-9-][a-zA-Z0-9._-]*|_([a-zA-Z0-9.-][a-zA-Z0-9._-]*)?\
         |\\.[a-zA-Z0-9_-][a-zA-Z0-9._-]*|\\.\\.[a-zA-Z0-9._-]+)$",
    ))
);

rule!(
    /// A consumer group's id.
    GroupId => string(
        "Any text of 1 to 255 characters with something besides white space, no control \
         characters (surrounding white space is not part of the id).",
    )
    .min_length(Some(1))
    .max_length(Some(crate::domain::group_form::GROUP_MAX))
    .pattern(Some(
        "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$",
    ))
);

rule!(
    /// A topic's partitions.
    Partitions => integer(
        "Partitions of the topic.",
        topic::PARTITIONS_MIN,
        topic::PARTITIONS_MAX,
    )
);

rule!(
    /// How long a topic keeps its messages.
    RetentionHours => integer(
        "Hours to keep messages; 0: forever.",
        0,
        topic::RETENTION_HOURS_MAX,
    )
);

/// A regular expression matching `text` in any case of its ASCII letters.
fn any_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                literal(&c.to_string())
            }
        })
        .collect()
}

rule!(
    /// A Kafka (SASL/SCRAM) user's name.
    KafkaUserName => string(&format!(
        "Letters, digits, `.`, `_` and `-`, starting with a letter or digit; none of {} (the \
         console's own user and the names of Kafka's own principals, in any case).",
        kafka_user::RESERVED_USERS.map(|r| format!("`{r}`")).join(", ")
    ))
    .min_length(Some(1))
    .max_length(Some(kafka_user::NAME_MAX))
    .pattern(Some("^[a-zA-Z0-9][a-zA-Z0-9._-]*$"))
    .extensions(Some(keywords([(
        "not",
        serde_json::json!({ "pattern": format!("^{}$", any_case(kafka_user::CONSOLE_USER)) }),
    )])))
);

rule!(
    /// A service account's name.
    ServiceAccountName => string(
        "Lowercase letters, digits, `.`, `_` and `-`, starting with a letter. Unique among \
         the service accounts (else 409).",
    )
    .min_length(Some(account::USERNAME_MIN))
    .max_length(Some(account::USERNAME_MAX))
    .pattern(Some("^[a-z][a-z0-9._-]*$"))
);

/// The last day there is a next day of (the expiry is the end of the day named).
pub const LAST_DAY: &str = "9999-12-31";

rule!(
    /// A service account's last day.
    ExpiryDate => AnyOfBuilder::new()
        .description(Some(
            "YYYY-MM-DD, the last day the account works (UTC): today or later (else 409). \
             Empty (or absent, or null): no expiry.",
        ))
        .item(string("No expiry.").max_length(Some(0)))
        .item(
            string("The last day.")
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .extensions(Some(keywords([(
                    "not",
                    serde_json::json!({ "enum": [LAST_DAY] }),
                )]))),
        )
);

rule!(
    /// A day of the audit log's filter.
    AuditDay => AnyOfBuilder::new()
        .description(Some("YYYY-MM-DD (UTC), inclusive; empty: no bound."))
        .item(string("No bound.").max_length(Some(0)))
        .item(string("A day.").format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
);

/// The last month: its end (the first of the next) is past the last day the console counts.
pub const LAST_MONTH: &str = "9999-12";

rule!(
    /// A month of the usage.
    UsageMonth => string(&format!(
        "YYYY-MM, from 2000-01 to before {LAST_MONTH}; this month when absent or empty."
    ))
    .pattern(Some("^(([2-9][0-9]{3})-(0[1-9]|1[0-2]))?$"))
    .extensions(Some(keywords([("not", serde_json::json!({ "enum": [LAST_MONTH] }))])))
);

rule!(
    /// Where a page of a list starts.
    Cursor => string(
        "Opaque: the `next` of the previous page, passed on as it is. A cursor this console \
         did not make, or whose position is gone, is answered 404.",
    )
);

/// A page size's rule: from 1 to `limit`, `default` when absent.
fn page_size(limit: u32, default: u32) -> ObjectBuilder {
    integer(&format!("At most this many (default {default})."), 1, limit)
        .default(Some(default.into()))
}

rule!(
    /// The size of a page of instances.
    InstancePageSize => page_size(view::PAGE_LIMIT, view::PAGE_DEFAULT)
);

rule!(
    /// The size of a page of the audit log.
    AuditPageSize => page_size(audit::PAGE_LIMIT, audit::PAGE_SIZE)
);

rule!(
    /// The `Idempotency-Key` header's value.
    IdempotencyKeyValue => string(
        "Visible ASCII characters, kept 24 hours per service account: a retry with the same \
         key and body gets the first answer; another body with it is refused (422).",
    )
    .min_length(Some(1))
    .max_length(Some(super::idempotency::KEY_MAX))
    .pattern(Some("^[!-~]*$"))
);

/// A product key's text, where white space anywhere is ignored (mail clients wrap keys):
/// `prefix`, a dot, base64url, a dot, base64url.
fn product_key_pattern(prefix: &str) -> String {
    let space = class_of(char::is_whitespace);
    let gap = format!("[{space}]*");
    let spaced: String = prefix
        .chars()
        .map(|c| format!("{}{gap}", literal(&c.to_string())))
        .collect();
    let base64 = format!("([A-Za-z0-9_-]{gap})+");
    format!("^{gap}{spaced}\\.{gap}{base64}\\.{gap}{base64}$")
}

rule!(
    /// A product key.
    ProductKeyText => string(&format!(
        "The product key as the vendor sent it (`{}.`…); white space anywhere in it is ignored. \
         A key that is not signed by a vendor key this console trusts, or not for this \
         installation, is refused (422; no schema can state a signature).",
        crate::domain::license::PREFIX
    ))
    .pattern(Some(product_key_pattern(crate::domain::license::PREFIX)))
);

#[cfg(test)]
mod tests;
