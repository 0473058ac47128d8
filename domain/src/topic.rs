//! Kafka topic names and partition counts, as the console accepts them.

use crate::instance_spec::SpecError;

/// Kafka's own limit on a topic name.
pub const NAME_MAX: usize = 249;
/// Partitions one topic has at least, and at most on this console's brokers (one broker
/// process per instance).
pub const PARTITIONS_MIN: u32 = 1;
pub const PARTITIONS_MAX: u32 = 64;

/// A refused topic field: the same shape as the instance settings' errors.
pub type TopicError = SpecError;

fn name_error(message: impl Into<String>) -> TopicError {
    TopicError {
        field: "topic",
        message: message.into(),
    }
}

/// A topic name: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`, and not starting with
/// `__` (Kafka's internal topics).
pub fn parse_name(input: &str) -> Result<String, TopicError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(name_error("Enter a topic name."));
    }
    if name.chars().count() > NAME_MAX {
        return Err(name_error(format!(
            "A topic name has at most {NAME_MAX} characters; this one has {}.",
            name.chars().count()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(name_error(format!(
            "A topic name may use letters, digits, '.', '_' and '-' only; {bad:?} is not allowed."
        )));
    }
    if name == "." || name == ".." {
        return Err(name_error("A topic cannot be named '.' or '..'."));
    }
    if name.starts_with("__") {
        return Err(name_error(
            "Names starting with '__' are kept for Kafka's internal topics.",
        ));
    }
    Ok(name.to_string())
}

/// A partition count from [`PARTITIONS_MIN`] to [`PARTITIONS_MAX`].
pub fn parse_partitions(input: &str) -> Result<u32, TopicError> {
    let error = || TopicError {
        field: "partitions",
        message: format!(
            "Partitions must be a whole number from {PARTITIONS_MIN} to {PARTITIONS_MAX}."
        ),
    };
    let n: u32 = input.trim().parse().map_err(|_| error())?;
    if (PARTITIONS_MIN..=PARTITIONS_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(error())
    }
}

/// How long a topic keeps its messages when it sets nothing: Kafka's default
/// (`log.retention.hours`, 7 days; the engine's nodes do not change it).
pub const DEFAULT_RETENTION_HOURS: u32 = 168;
/// The longest retention the console sets in hours (ten years); longer is "forever".
pub const RETENTION_HOURS_MAX: u32 = 87_600;
const HOUR_MS: i64 = 3_600_000;

/// A topic's retention (Kafka's `retention.ms`): messages older than this are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Hours(u32),
    /// Never deleted for age (`retention.ms=-1`).
    Forever,
}

impl Retention {
    /// Kafka's `retention.ms` value.
    pub fn as_ms(self) -> i64 {
        match self {
            Retention::Hours(h) => i64::from(h) * HOUR_MS,
            Retention::Forever => -1,
        }
    }

    /// What a topic's stored `retention.ms` means, as the page says it.
    pub fn describe_ms(ms: Option<i64>) -> String {
        match ms {
            None => format!("{DEFAULT_RETENTION_HOURS} hours (the broker's default)"),
            Some(ms) if ms < 0 => "forever".into(),
            Some(HOUR_MS) => "1 hour".into(),
            Some(ms) if ms % HOUR_MS == 0 => format!("{} hours", ms / HOUR_MS),
            Some(ms) => format!("{ms} ms"),
        }
    }
}

/// A retention field: blank for the broker's default (`None`), `forever`, or a whole number of
/// hours from 1 to [`RETENTION_HOURS_MAX`].
pub fn parse_retention(input: &str) -> Result<Option<Retention>, TopicError> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    if input.eq_ignore_ascii_case("forever") {
        return Ok(Some(Retention::Forever));
    }
    match input.parse::<u32>() {
        Ok(h) if (1..=RETENTION_HOURS_MAX).contains(&h) => Ok(Some(Retention::Hours(h))),
        _ => Err(TopicError {
            field: "retention_hours",
            message: format!(
                "Retention is a whole number of hours from 1 to {RETENTION_HOURS_MAX}, or \
                 \"forever\"; leave it blank for the broker's default ({DEFAULT_RETENTION_HOURS} hours)."
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name(" orders.v1_eu-2 "), Ok("orders.v1_eu-2".into()));
        assert_eq!(parse_name("").unwrap_err().field, "topic");
        assert!(parse_name("orders/eu")
            .unwrap_err()
            .message
            .contains("'/' is not allowed"));
        assert!(parse_name("..").is_err());
        assert!(parse_name("__consumer_offsets").is_err());
        assert!(parse_name(&"a".repeat(NAME_MAX)).is_ok());
        assert!(parse_name(&"a".repeat(NAME_MAX + 1)).is_err());
    }

    #[test]
    fn partitions() {
        assert_eq!(parse_partitions("3"), Ok(3));
        assert_eq!(parse_partitions("64"), Ok(64));
        for bad in ["0", "65", "-1", "two", ""] {
            assert_eq!(parse_partitions(bad).unwrap_err().field, "partitions");
        }
    }

    #[test]
    fn retention() {
        assert_eq!(parse_retention(""), Ok(None));
        assert_eq!(parse_retention(" 48 "), Ok(Some(Retention::Hours(48))));
        assert_eq!(parse_retention("Forever"), Ok(Some(Retention::Forever)));
        assert_eq!(
            parse_retention("87600"),
            Ok(Some(Retention::Hours(RETENTION_HOURS_MAX)))
        );
        for bad in ["0", "87601", "-1", "1.5", "two days"] {
            assert_eq!(
                parse_retention(bad).unwrap_err().field,
                "retention_hours",
                "{bad}"
            );
        }
        assert_eq!(Retention::Hours(2).as_ms(), 7_200_000);
        assert_eq!(Retention::Forever.as_ms(), -1);
        assert_eq!(Retention::describe_ms(Some(7_200_000)), "2 hours");
        assert_eq!(Retention::describe_ms(Some(3_600_000)), "1 hour");
        assert_eq!(Retention::describe_ms(Some(-1)), "forever");
        assert_eq!(Retention::describe_ms(Some(1500)), "1500 ms");
        assert!(Retention::describe_ms(None).contains("default"));
    }
}
