//! Consumer groups as operators type them into the console: a group id, and an offset reset
//! as a form says it (where to, a value, all topics or one). Turned into the rule's
//! [`ResetSpec`] here, so the pages, the form endpoints and the REST API refuse the same
//! input with the same words; the reset's own rules are [`crate::offset_reset`]'s.

use crate::offset_reset::{ResetError, ResetScope, ResetSpec, ResetTo};
use crate::topic;

/// The longest group id the console takes (Kafka has no limit of its own; its tools show
/// ids of this size without trouble).
pub const GROUP_MAX: usize = 255;

/// The choices of "reset to", as forms and the REST API name them.
pub const RESET_TO: [&str; 5] = ["earliest", "latest", "timestamp", "offset", "shift"];

fn refuse(field: &'static str, message: impl Into<String>) -> ResetError {
    ResetError {
        field,
        message: message.into(),
    }
}

/// A group id: not blank, at most [`GROUP_MAX`] characters, no control characters. Kafka
/// allows any other string, so the console does too (surrounding blanks are kept out).
pub fn parse_group(input: &str) -> Result<String, ResetError> {
    let group = input.trim();
    if group.is_empty() {
        return Err(refuse("group", "Name the consumer group."));
    }
    let count = group.chars().count();
    if count > GROUP_MAX {
        return Err(refuse(
            "group",
            format!("A group id has at most {GROUP_MAX} characters; this one has {count}."),
        ));
    }
    if group.chars().any(char::is_control) {
        return Err(refuse(
            "group",
            "A group id cannot contain control characters.",
        ));
    }
    Ok(group.to_string())
}

fn whole(field: &'static str, value: &str, what: &str) -> Result<i64, ResetError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(refuse(field, format!("Enter {what}.")));
    }
    value.parse::<i64>().map_err(|_| {
        refuse(
            field,
            format!("Enter {what} as a whole number; {value:?} is not."),
        )
    })
}

/// A timestamp: Unix milliseconds, or an RFC 3339 time (`2026-12-07T04:00:00Z`).
fn timestamp(value: &str) -> Result<i64, ResetError> {
    let value = value.trim();
    if value.contains('T') {
        let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                refuse(
                    "timestamp",
                    format!(
                        "Enter a time as 2026-12-07T04:00:00Z (RFC 3339) or as milliseconds \
                         since 1970; {value:?} is neither."
                    ),
                )
            })?;
        return i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| refuse("timestamp", "That time is out of range."));
    }
    whole(
        "timestamp",
        value,
        "a time (milliseconds since 1970, or RFC 3339)",
    )
}

/// A reset as a form gives it: `to` one of [`RESET_TO`]; `value` the timestamp, offset or
/// shift it needs (ignored for earliest and latest); `topic` blank for all of the group's
/// topics. Checked by [`ResetSpec::validate`] at `now_ms` as well. Errors name the field the
/// value came from (`to`, `timestamp`, `offset`, `shift`, `topic`).
pub fn parse_reset(
    to: &str,
    value: &str,
    topic_name: &str,
    now_ms: i64,
) -> Result<ResetSpec, ResetError> {
    let to = match to.trim() {
        "earliest" => ResetTo::Earliest,
        "latest" => ResetTo::Latest,
        "timestamp" => ResetTo::Timestamp(timestamp(value)?),
        "offset" => ResetTo::Offset(whole("offset", value, "an offset")?),
        "shift" => {
            let n = whole("shift", value, "a shift (negative: back)")?;
            if n == 0 {
                return Err(refuse(
                    "shift",
                    "A shift of 0 moves nothing; enter N or -N.",
                ));
            }
            ResetTo::Shift(n)
        }
        other => {
            return Err(refuse(
                "to",
                format!(
                    "Reset to one of {}; {other:?} is not one.",
                    RESET_TO.join(", ")
                ),
            ))
        }
    };
    let scope = match topic_name.trim() {
        "" => ResetScope::AllTopics,
        t => ResetScope::Topic(topic::parse_name(t).map_err(|e| refuse("topic", e.message))?),
    };
    let spec = ResetSpec { to, scope };
    spec.validate(now_ms)?;
    Ok(spec)
}

/// The reset in words, for the audit log and the page ("to earliest, all topics").
pub fn describe(spec: &ResetSpec) -> String {
    let to = match spec.to {
        ResetTo::Earliest => "to earliest".to_string(),
        ResetTo::Latest => "to latest".to_string(),
        ResetTo::Timestamp(t) => format!("to timestamp {t} ms"),
        ResetTo::Offset(o) => format!("to offset {o}"),
        ResetTo::Shift(n) => format!("shifted by {n}"),
    };
    match &spec.scope {
        ResetScope::AllTopics => format!("{to}, all topics"),
        ResetScope::Topic(t) => format!("{to}, topic {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn each_choice_parses() {
        let s = parse_reset("earliest", "ignored", "", NOW).unwrap();
        assert_eq!((s.to, s.scope), (ResetTo::Earliest, ResetScope::AllTopics));
        assert_eq!(
            parse_reset("latest", "", "orders", NOW).unwrap().scope,
            ResetScope::Topic("orders".into())
        );
        assert_eq!(
            parse_reset("offset", " 42 ", "", NOW).unwrap().to,
            ResetTo::Offset(42)
        );
        assert_eq!(
            parse_reset("shift", "-10", "", NOW).unwrap().to,
            ResetTo::Shift(-10)
        );
        assert_eq!(
            parse_reset("timestamp", "1000", "", NOW).unwrap().to,
            ResetTo::Timestamp(1000)
        );
        let t = parse_reset("timestamp", "2026-12-07T04:00:00Z", "", NOW).unwrap();
        assert_eq!(t.to, ResetTo::Timestamp(1_796_616_000_000));
    }

    #[test]
    fn bad_input_names_the_field() {
        fn field(to: &str, v: &str, t: &str) -> &'static str {
            parse_reset(to, v, t, NOW).unwrap_err().field
        }
        assert_eq!(field("sideways", "", ""), "to");
        assert_eq!(field("offset", "", ""), "offset");
        assert_eq!(field("offset", "ten", ""), "offset");
        assert_eq!(field("offset", "-1", ""), "offset");
        assert_eq!(field("shift", "0", ""), "shift");
        assert_eq!(field("shift", "x", ""), "shift");
        assert_eq!(field("timestamp", "yesterday-ish", ""), "timestamp");
        assert_eq!(
            field("timestamp", &(NOW + 60_000).to_string(), ""),
            "timestamp"
        );
        assert_eq!(field("earliest", "", "bad topic!"), "topic");
        assert!(parse_reset("timestamp", "2999-01-01T00:00:00Z", "", NOW)
            .unwrap_err()
            .message
            .contains("future"));
    }

    #[test]
    fn group_ids() {
        assert_eq!(parse_group("  app-1 ").unwrap(), "app-1");
        assert_eq!(parse_group("").unwrap_err().field, "group");
        assert_eq!(parse_group("a\nb").unwrap_err().field, "group");
        assert_eq!(
            parse_group(&"g".repeat(GROUP_MAX + 1)).unwrap_err().field,
            "group"
        );
        assert!(parse_group(&"g".repeat(GROUP_MAX)).is_ok());
    }

    #[test]
    fn described() {
        let s = parse_reset("shift", "-5", "orders", NOW).unwrap();
        assert_eq!(describe(&s), "shifted by -5, topic orders");
        assert_eq!(
            describe(&parse_reset("earliest", "", "", NOW).unwrap()),
            "to earliest, all topics"
        );
    }
}
