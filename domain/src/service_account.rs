//! Service accounts: automation's identities for the REST API. The rules for their names,
//! expiry and status, and the form of their bearer token. The token carries the account's id
//! (to find the row without a scan) and a long random secret, of which only the SHA-256 is
//! stored: a 256-bit random value cannot be guessed, so a slow hash would add nothing but
//! time on every request.

use crate::account::Username;
use std::fmt;
use time::{macros::format_description, Date, OffsetDateTime, Time};

/// Every token starts with this, so that secret scanners and people can tell what it is.
pub const TOKEN_PREFIX: &str = "byoc_sa_";
/// Random bytes in a secret (shown as 43 base64url characters).
pub const SECRET_BYTES: usize = 32;

/// Names follow the user-name rules (3 to 32 lowercase letters, digits, `.`, `_`, `-`,
/// starting with a letter), with "Service account name" in the messages.
pub fn parse_name(input: &str) -> Result<String, String> {
    Username::parse(input)
        .map(|name| name.as_str().to_string())
        .map_err(|e| {
            e.to_string()
                .replacen("User name", "Service account name", 1)
        })
}

/// The expiry typed in the form: empty for none, else a date (YYYY-MM-DD, UTC) after today;
/// the account stops working at the end of that day.
pub fn parse_expiry(input: &str, now: i64) -> Result<Option<i64>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let date = Date::parse(input, format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("Expiry must be a date as YYYY-MM-DD (got {input:?})."))?;
    let end = date
        .next_day()
        .map(|d| d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp())
        .ok_or_else(|| "Expiry is too far away.".to_string())?;
    if end <= now {
        return Err("Expiry must be today or later.".into());
    }
    Ok(Some(end))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Expired,
    Revoked,
}

impl Status {
    pub fn of(expires_at: Option<i64>, revoked_at: Option<i64>, now: i64) -> Status {
        match (revoked_at, expires_at) {
            (Some(_), _) => Status::Revoked,
            (None, Some(end)) if end <= now => Status::Expired,
            _ => Status::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

/// A bearer token: `byoc_sa_<id>_<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub account_id: i64,
    pub secret: String,
}

// The secret must not reach a log through `{:?}`.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token {{ account_id: {}, secret: … }}", self.account_id)
    }
}

impl Token {
    /// Reads an `Authorization` header's value (`Bearer <token>`); None for anything else.
    pub fn from_header(value: &str) -> Option<Token> {
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let account_id: i64 = id.parse().ok().filter(|id| *id > 0)?;
        let well_formed = secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Token {
            account_id,
            secret: secret.to_string(),
        })
    }

    pub fn text(&self) -> String {
        format!("{TOKEN_PREFIX}{}_{}", self.account_id, self.secret)
    }
}

/// When a use is written down: at most once a minute per account.
pub fn use_due(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|at| now - at >= 60)
}

/// The day an expiry falls on, for the list (the last day the account works).
pub fn expiry_day(expires_at: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(expires_at - 1)
        .ok()
        .map(|t| t.date())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_x";

    #[test]
    fn a_token_reads_back_from_its_header() {
        let token = Token {
            account_id: 7,
            secret: SECRET.into(),
        };
        let header = format!("Bearer {}", token.text());
        assert_eq!(Token::from_header(&header), Some(token.clone()));
        assert_eq!(
            Token::from_header(&format!("bearer  {}", token.text())),
            Some(token)
        );
    }

    #[test]
    fn anything_else_is_no_token() {
        for bad in [
            "",
            "Bearer",
            &format!("Basic byoc_sa_7_{SECRET}"),
            &format!("Bearer byoc_xx_7_{SECRET}"),
            &format!("Bearer byoc_sa_0_{SECRET}"),
            &format!("Bearer byoc_sa_-1_{SECRET}"),
            &format!("Bearer byoc_sa_x_{SECRET}"),
            "Bearer byoc_sa_7_short",
            &format!("Bearer byoc_sa_7_{}", SECRET.replace('x', "!")),
        ] {
            assert_eq!(Token::from_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let token = Token {
            account_id: 7,
            secret: SECRET.into(),
        };
        assert!(!format!("{token:?}").contains(SECRET));
    }

    #[test]
    fn names_follow_the_user_name_rules_with_their_own_words() {
        assert_eq!(parse_name(" Terraform-CI ").unwrap(), "terraform-ci");
        let error = parse_name("x").unwrap_err();
        assert!(
            error.starts_with("Service account name must be 3 to 32"),
            "{error}"
        );
    }

    #[test]
    fn expiry_is_the_end_of_a_day_not_yet_over() {
        let now = 1_767_225_600; // 2026-01-01T00:00:00Z
        assert_eq!(parse_expiry("", now), Ok(None));
        assert_eq!(parse_expiry("2026-01-01", now), Ok(Some(now + 86_400)));
        assert!(parse_expiry("2025-12-31", now).is_err());
        assert!(parse_expiry("tomorrow", now)
            .unwrap_err()
            .contains("YYYY-MM-DD"));
        assert_eq!(
            expiry_day(now + 86_400).map(|d| d.to_string()),
            Some("2026-01-01".into())
        );
    }

    #[test]
    fn status_revoked_wins_then_expiry() {
        assert_eq!(Status::of(None, None, 10), Status::Active);
        assert_eq!(Status::of(Some(11), None, 10), Status::Active);
        assert_eq!(Status::of(Some(10), None, 10), Status::Expired);
        assert_eq!(Status::of(Some(11), Some(5), 10), Status::Revoked);
    }

    #[test]
    fn uses_are_written_at_most_once_a_minute() {
        assert!(use_due(None, 100));
        assert!(!use_due(Some(100), 159));
        assert!(use_due(Some(100), 160));
    }
}
