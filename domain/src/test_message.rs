//! A test message an operator writes to a topic from the console: its rules (a partition, a
//! key, a value, headers as `name: value` lines), each refusal naming its field.

use crate::instance_spec::SpecError;

/// Bytes of a test message's value at most (Kafka's default `max.message.bytes` is 1 MiB;
/// a form is not the way to send more, and a request to the console is 64 KiB at most).
pub const VALUE_MAX: usize = 16 * 1024;
/// Bytes of its key at most.
pub const KEY_MAX: usize = 1024;
/// Headers at most.
pub const HEADERS_MAX: usize = 10;

/// A test message as typed (the page's form, the API's body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestMessageInput {
    pub topic: String,
    pub partition: String,
    pub key: String,
    pub value: String,
    /// One header per line, `name: value`.
    pub headers: String,
}

/// A checked test message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMessage {
    pub topic: String,
    pub partition: i32,
    /// Blank: a null key.
    pub key: Option<String>,
    pub value: String,
    pub headers: Vec<(String, String)>,
}

fn refuse(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

/// Checks a test message (the partition's existence is the cluster's to say).
pub fn parse(input: &TestMessageInput) -> Result<TestMessage, SpecError> {
    let topic = crate::topic::parse_name(&input.topic).map_err(|e| refuse("topic", e.message))?;
    let partition = match input.partition.trim() {
        "" => 0,
        p => p.parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| {
            refuse(
                "partition",
                "Enter a partition number, 0 or more (blank: partition 0).",
            )
        })?,
    };
    let key = match input.key.as_str() {
        "" => None,
        k if k.len() > KEY_MAX => {
            return Err(refuse(
                "key",
                format!("A key is at most {KEY_MAX} bytes; this one is {}.", k.len()),
            ))
        }
        k => Some(k.to_string()),
    };
    if input.value.len() > VALUE_MAX {
        return Err(refuse(
            "value",
            format!(
                "A test message's value is at most {} KiB; this one is {} bytes.",
                VALUE_MAX / 1024,
                input.value.len()
            ),
        ));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (n, line) in input.headers.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(refuse(
                "headers",
                format!("Line {}: write a header as name: value.", n + 1),
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(refuse(
                "headers",
                format!("Line {}: a header needs a name before the colon.", n + 1),
            ));
        }
        if headers.iter().any(|(h, _)| h == name) {
            return Err(refuse(
                "headers",
                format!("Line {}: the header {name} is already given.", n + 1),
            ));
        }
        headers.push((name.to_string(), value.trim_start().to_string()));
    }
    if headers.len() > HEADERS_MAX {
        return Err(refuse(
            "headers",
            format!("At most {HEADERS_MAX} headers; {} given.", headers.len()),
        ));
    }
    Ok(TestMessage {
        topic,
        partition,
        key,
        value: input.value.clone(),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(partition: &str, key: &str, value: &str, headers: &str) -> TestMessageInput {
        TestMessageInput {
            topic: "orders".into(),
            partition: partition.into(),
            key: key.into(),
            value: value.into(),
            headers: headers.into(),
        }
    }

    fn field(i: TestMessageInput) -> &'static str {
        parse(&i).unwrap_err().field
    }

    #[test]
    fn a_message_with_headers_is_read_line_by_line() {
        let m = parse(&input(
            "2",
            "k",
            "{\"a\":1}",
            "source: web\n\ntrace:abc: 1\n",
        ))
        .unwrap();
        assert_eq!(m.partition, 2);
        assert_eq!(m.key.as_deref(), Some("k"));
        assert_eq!(
            m.headers,
            vec![
                ("source".to_string(), "web".to_string()),
                ("trace".to_string(), "abc: 1".to_string())
            ]
        );
        let bare = parse(&input("", "", "", "")).unwrap();
        assert_eq!((bare.partition, bare.key, bare.headers.len()), (0, None, 0));
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field(input("-1", "", "", "")), "partition");
        assert_eq!(field(input("x", "", "", "")), "partition");
        assert_eq!(field(input("", &"k".repeat(KEY_MAX + 1), "", "")), "key");
        assert_eq!(
            field(input("", "", &"v".repeat(VALUE_MAX + 1), "")),
            "value"
        );
        assert_eq!(field(input("", "", "", "no colon")), "headers");
        assert_eq!(field(input("", "", "", ": v")), "headers");
        assert_eq!(field(input("", "", "", "a: 1\na: 2")), "headers");
        let many: String = (0..=HEADERS_MAX).map(|i| format!("h{i}: v\n")).collect();
        assert_eq!(field(input("", "", "", &many)), "headers");
        let mut bad_topic = input("", "", "", "");
        bad_topic.topic = "a/b".into();
        assert_eq!(field(bad_topic), "topic");
    }
}
