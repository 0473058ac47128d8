//! The message browser's rules: what a read may ask for (a topic's newest messages, from a
//! partition's offset, or from a time), how many, how a value is shown (text, pretty JSON or
//! hex) within a stated size, and the filters applied within the page read.

use crate::instance_spec::SpecError;
use serde::{Deserialize, Serialize};

/// Messages one read shows at most, and when none is asked.
pub const LIMIT_MAX: u32 = 100;
pub const LIMIT_DEFAULT: u32 = 20;
/// Bytes of a key, a value or a header shown at most; the rest is cut, and the page says so.
pub const SHOWN_BYTES_MAX: usize = 4096;
/// Bytes of record batches one read fetches at most, over all partitions.
pub const READ_BYTES_MAX: i32 = 1024 * 1024;

fn refuse(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "from", content = "at")]
pub enum Start {
    /// The newest messages (of the partition, or of every partition).
    Newest,
    /// A partition's offset (a partition must be chosen).
    Offset(i64),
    /// The first message at or after a time (milliseconds since the epoch).
    Timestamp(i64),
}

/// How values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Json,
    Hex,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Text, Format::Json, Format::Hex];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Hex => "hex",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Text => "Text",
            Format::Json => "JSON (pretty)",
            Format::Hex => "Hex",
        }
    }
}

/// A read as typed (the page's GET form, the API's query): every field a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct BrowseInput {
    pub topic: String,
    /// Blank: every partition (newest or from a time only).
    #[serde(default)]
    pub partition: String,
    /// `newest` (default), `offset` or `timestamp`.
    #[serde(default)]
    pub from: String,
    /// The offset, or the time (RFC 3339, e.g. 2026-12-07T10:00:00Z, or milliseconds).
    #[serde(default)]
    pub at: String,
    /// 1 to 100 (default 20).
    #[serde(default)]
    pub limit: String,
    /// `text` (default), `json` or `hex`.
    #[serde(default)]
    pub format: String,
    /// Only messages whose key contains this text (within the page read).
    #[serde(default)]
    pub key: String,
    /// Only messages whose value contains this text (within the page read).
    #[serde(default)]
    pub text: String,
}

/// A checked read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Browse {
    pub topic: String,
    pub partition: Option<i32>,
    pub start: Start,
    pub limit: u32,
    pub format: Format,
    pub key_filter: Option<String>,
    pub text_filter: Option<String>,
}

/// Checks a read; `now_ms` is the time now (a time in the future is refused).
pub fn parse(input: &BrowseInput, now_ms: i64) -> Result<Browse, SpecError> {
    let topic = crate::topic::parse_name(&input.topic).map_err(|e| refuse("topic", e.message))?;
    let partition = match input.partition.trim() {
        "" | "all" => None,
        p => Some(p.parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| {
            refuse(
                "partition",
                "Enter a partition number (0 or more), or leave it blank for every partition.",
            )
        })?),
    };
    let at = input.at.trim();
    let start = match input.from.trim() {
        "" | "newest" => Start::Newest,
        "offset" => {
            let offset = at.parse::<i64>().ok().filter(|o| *o >= 0).ok_or_else(|| {
                refuse(
                    "at",
                    "Enter the offset to start from: a whole number, 0 or more.",
                )
            })?;
            if partition.is_none() {
                return Err(refuse(
                    "partition",
                    "An offset belongs to one partition: choose the partition to read from.",
                ));
            }
            Start::Offset(offset)
        }
        "timestamp" => {
            let ms = parse_time(at).ok_or_else(|| {
                refuse(
                    "at",
                    "Enter a time as RFC 3339 (e.g. 2026-12-07T10:00:00Z) or milliseconds since 1970.",
                )
            })?;
            if ms > now_ms {
                return Err(refuse(
                    "at",
                    "That time is in the future: no message has been written at or after it yet.",
                ));
            }
            Start::Timestamp(ms)
        }
        _ => {
            return Err(refuse(
                "from",
                "Choose where to start: newest, offset or timestamp.",
            ))
        }
    };
    let limit = match input.limit.trim() {
        "" => LIMIT_DEFAULT,
        l => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=LIMIT_MAX).contains(l))
            .ok_or_else(|| refuse("limit", format!("Show 1 to {LIMIT_MAX} messages.")))?,
    };
    let format = match input.format.trim() {
        "" => Format::Text,
        f => Format::ALL
            .into_iter()
            .find(|x| x.as_str() == f)
            .ok_or_else(|| refuse("format", "Show values as text, json or hex."))?,
    };
    let filter = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Browse {
        topic,
        partition,
        start,
        limit,
        format,
        key_filter: filter(&input.key),
        text_filter: filter(&input.text),
    })
}

fn parse_time(at: &str) -> Option<i64> {
    if let Ok(ms) = at.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A key, value or header as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shown {
    /// What the page prints.
    pub text: String,
    /// How it is shown: text, json, hex; or `null` (no bytes at all).
    pub shown_as: String,
    /// Its full size in bytes.
    pub bytes: usize,
    /// Whether only the first [`SHOWN_BYTES_MAX`] bytes are shown.
    pub cut: bool,
}

/// `bytes` shown as asked: JSON pretty-printed when it is JSON (else as text), text when it is
/// UTF-8 (else hex), hex when asked. Cut at [`SHOWN_BYTES_MAX`] bytes.
pub fn show(bytes: Option<&[u8]>, format: Format) -> Shown {
    let Some(bytes) = bytes else {
        return Shown {
            text: String::new(),
            shown_as: "null".into(),
            bytes: 0,
            cut: false,
        };
    };
    let cut = bytes.len() > SHOWN_BYTES_MAX;
    let head = &bytes[..bytes.len().min(SHOWN_BYTES_MAX)];
    let hex = |b: &[u8]| {
        b.chunks(16)
            .map(|line| {
                line.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (text, shown_as) = match format {
        Format::Hex => (hex(head), "hex"),
        Format::Json => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) if !cut => (serde_json::to_string_pretty(&v).unwrap_or_default(), "json"),
            _ => match std::str::from_utf8(head) {
                Ok(t) => (t.to_string(), "text"),
                Err(_) => (hex(head), "hex"),
            },
        },
        Format::Text => match utf8_prefix(head, cut) {
            Some(t) => (t.to_string(), "text"),
            None => (hex(head), "hex"),
        },
    };
    Shown {
        text,
        shown_as: shown_as.into(),
        bytes: bytes.len(),
        cut,
    }
}

/// `head` as text when it is UTF-8; when cut, a character split at the cut is left out.
fn utf8_prefix(head: &[u8], cut: bool) -> Option<&str> {
    match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// Whether a message passes the read's filters (case-insensitive containment, on the key's
/// and the value's bytes read as UTF-8, lossily).
pub fn passes(browse: &Browse, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
    let contains = |hay: Option<&[u8]>, needle: &Option<String>| match needle {
        None => true,
        Some(n) => hay.is_some_and(|h| {
            String::from_utf8_lossy(h)
                .to_lowercase()
                .contains(&n.to_lowercase())
        }),
    };
    contains(key, &browse.key_filter) && contains(value, &browse.text_filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_765_000_000_000;

    fn input(pairs: &[(&str, &str)]) -> BrowseInput {
        let mut i = BrowseInput {
            topic: "orders".into(),
            ..Default::default()
        };
        for (k, v) in pairs {
            let v = v.to_string();
            match *k {
                "partition" => i.partition = v,
                "from" => i.from = v,
                "at" => i.at = v,
                "limit" => i.limit = v,
                "format" => i.format = v,
                "key" => i.key = v,
                "text" => i.text = v,
                "topic" => i.topic = v,
                _ => unreachable!(),
            }
        }
        i
    }

    #[test]
    fn defaults_are_the_newest_twenty_as_text_of_every_partition() {
        let b = parse(&input(&[]), NOW).unwrap();
        assert_eq!(b.start, Start::Newest);
        assert_eq!((b.partition, b.limit, b.format), (None, 20, Format::Text));
        assert_eq!((b.key_filter, b.text_filter), (None, None));
    }

    #[test]
    fn starts_are_checked_by_field() {
        let b = parse(
            &input(&[("partition", "2"), ("from", "offset"), ("at", "40")]),
            NOW,
        )
        .unwrap();
        assert_eq!((b.partition, b.start), (Some(2), Start::Offset(40)));
        let b = parse(
            &input(&[("from", "timestamp"), ("at", "2025-12-01T00:00:10Z")]),
            NOW,
        )
        .unwrap();
        assert_eq!(b.start, Start::Timestamp(1_764_547_210_000));
        let field = |pairs: &[(&str, &str)]| parse(&input(pairs), NOW).unwrap_err().field;
        assert_eq!(field(&[("from", "offset"), ("at", "4")]), "partition");
        assert_eq!(
            field(&[("partition", "0"), ("from", "offset"), ("at", "-1")]),
            "at"
        );
        assert_eq!(field(&[("from", "timestamp"), ("at", "yesterday")]), "at");
        let future = parse(
            &input(&[("from", "timestamp"), ("at", &(NOW + 1).to_string())]),
            NOW,
        )
        .unwrap_err();
        assert_eq!(future.field, "at");
        assert!(future.message.contains("future"), "{future}");
        assert_eq!(field(&[("from", "middle")]), "from");
        assert_eq!(field(&[("partition", "-1")]), "partition");
        assert_eq!(field(&[("limit", "0")]), "limit");
        assert_eq!(field(&[("limit", "101")]), "limit");
        assert_eq!(field(&[("format", "xml")]), "format");
        assert_eq!(field(&[("topic", "no/such")]), "topic");
    }

    #[test]
    fn values_are_shown_as_asked_or_as_what_they_are() {
        let json = br#"{"id":7,"tags":["a"]}"#;
        let s = show(Some(json), Format::Json);
        assert_eq!(s.shown_as, "json");
        assert!(s.text.contains("\n  \"id\": 7"), "{}", s.text);
        assert_eq!(show(Some(b"plain"), Format::Json).shown_as, "text");
        assert_eq!(show(Some(b"plain"), Format::Text).text, "plain");
        let binary = [0u8, 159, 146, 150];
        let s = show(Some(&binary), Format::Text);
        assert_eq!(
            (s.text.as_str(), s.shown_as.as_str()),
            ("00 9f 92 96", "hex")
        );
        assert_eq!(show(Some(b"AB"), Format::Hex).text, "41 42");
        assert_eq!(show(None, Format::Text).shown_as, "null");
    }

    #[test]
    fn large_values_are_cut_at_the_stated_size_never_inside_a_character() {
        let mut big = "é".repeat(SHOWN_BYTES_MAX);
        big.push('x');
        let s = show(Some(big.as_bytes()), Format::Text);
        assert!(s.cut);
        assert_eq!(s.bytes, big.len());
        assert_eq!(s.text.len(), SHOWN_BYTES_MAX);
        let odd = format!("a{}", "é".repeat(SHOWN_BYTES_MAX));
        let s = show(Some(odd.as_bytes()), Format::Text);
        assert_eq!(
            (s.shown_as.as_str(), s.text.len()),
            ("text", SHOWN_BYTES_MAX - 1)
        );
    }

    #[test]
    fn filters_look_inside_the_key_and_the_value() {
        let b = parse(&input(&[("key", "Order-7"), ("text", "PAID")]), NOW).unwrap();
        assert!(passes(&b, Some(b"order-7"), Some(b"{\"state\":\"paid\"}")));
        assert!(!passes(&b, Some(b"order-8"), Some(b"paid")));
        assert!(!passes(&b, None, Some(b"paid")));
        let all = parse(&input(&[]), NOW).unwrap();
        assert!(passes(&all, None, None));
    }
}
