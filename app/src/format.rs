//! Display formats used by the pages and by the server (audit details, exports): times in
//! UTC, counts of days. Imports nothing of the app.

use time::{macros::format_description, OffsetDateTime};

/// `2026-11-22 21:05 UTC` from unix seconds (the console shows times in UTC everywhere, the
/// zone the license and the audit log are kept in).
pub fn utc(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// `2026-11-22 21:05:07.042 UTC` from unix milliseconds: a message's timestamp, to the
/// millisecond Kafka keeps.
pub fn utc_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_in_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_795_385_100), "2026-11-22 22:05 UTC");
        assert_eq!(
            super::utc_ms(1_795_385_107_042),
            "2026-11-22 22:05:07.042 UTC"
        );
    }
}

/// `2026-11-22` from unix seconds (UTC).
pub fn utc_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `1 day`, `12 days`.
pub fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// `300 AKU`, or `no cap` for an uncapped pay-as-you-go license.
pub fn quota(q: Option<u32>) -> String {
    q.map(|q| format!("{q} AKU"))
        .unwrap_or_else(|| "no cap".into())
}

#[cfg(test)]
mod more_tests {
    #[test]
    fn small_formats() {
        assert_eq!(super::utc_date(0), "1970-01-01");
        assert_eq!(super::days(1), "1 day");
        assert_eq!(super::days(0), "0 days");
        assert_eq!(super::quota(Some(300)), "300 AKU");
        assert_eq!(super::quota(None), "no cap");
    }
}

/// `path` with `pairs` as its query string, each value percent-encoded: the pages' links to
/// a position in a list (plain links: they work without JavaScript and can be bookmarked).
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // Everything but RFC 3986's unreserved characters, which stay readable in the URL.
    const VALUE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VALUE)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod link_tests {
    #[test]
    fn values_are_encoded_and_an_empty_query_is_left_out() {
        assert_eq!(super::link("/usage", &[]), "/usage");
        assert_eq!(
            super::link(
                "/usage",
                &[("month", "2026-11"), ("rows_after", "86400.a_b c&d=e/f")]
            ),
            "/usage?month=2026-11&rows_after=86400.a_b%20c%26d%3De%2Ff"
        );
    }
}
