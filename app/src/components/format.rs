//! Display formats used across pages.

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

#[cfg(test)]
mod tests {
    #[test]
    fn formats_in_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_795_385_100), "2026-11-22 22:05 UTC");
    }
}
