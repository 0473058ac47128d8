//! Kafka topic names and partition counts, as the console accepts them.

use crate::instance_spec::SpecError;

/// Kafka's own limit on a topic name.
pub const NAME_MAX: usize = 249;
/// Partitions one topic may have on this console's brokers (one broker process per instance).
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

/// A partition count from 1 to [`PARTITIONS_MAX`].
pub fn parse_partitions(input: &str) -> Result<u32, TopicError> {
    let error = || TopicError {
        field: "partitions",
        message: format!("Partitions must be a whole number from 1 to {PARTITIONS_MAX}."),
    };
    let n: u32 = input.trim().parse().map_err(|_| error())?;
    if (1..=PARTITIONS_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(error())
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
}
