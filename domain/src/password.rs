//! Password policy (OWASP ASVS 2.1): length only, no composition rules. The check against the
//! list of common passwords needs the bundled dictionary and runs on the server only
//! (`server::password_hash::is_common_password`); this module holds the rules both sides share.

use std::fmt;

/// Fewer characters than this are refused.
pub const MIN_CHARS: usize = 12;
/// More characters than this are refused (bounds the hashing work a request can cause).
pub const MAX_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    TooShort { chars: usize },
    TooLong { chars: usize },
    Common,
    Mismatch,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort { chars } => write!(
                f,
                "Password must be at least {MIN_CHARS} characters long (this one has {chars})."
            ),
            PasswordError::TooLong { chars } => write!(
                f,
                "Password must be at most {MAX_CHARS} characters long (this one has {chars})."
            ),
            PasswordError::Common => write!(
                f,
                "This password is on the list of the most common passwords; choose another."
            ),
            PasswordError::Mismatch => write!(f, "The two passwords do not match."),
        }
    }
}

/// Length rule, counted in Unicode scalar values (what a person calls characters).
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        Err(PasswordError::TooShort { chars })
    } else if chars > MAX_CHARS {
        Err(PasswordError::TooLong { chars })
    } else {
        Ok(())
    }
}

/// The confirmation field must repeat the password exactly.
pub fn check_confirmation(password: &str, confirmation: &str) -> Result<(), PasswordError> {
    if password == confirmation {
        Ok(())
    } else {
        Err(PasswordError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_boundaries() {
        assert_eq!(
            check_length(&"a".repeat(11)),
            Err(PasswordError::TooShort { chars: 11 })
        );
        assert_eq!(check_length(&"a".repeat(12)), Ok(()));
        assert_eq!(check_length(&"a".repeat(128)), Ok(()));
        assert_eq!(
            check_length(&"a".repeat(129)),
            Err(PasswordError::TooLong { chars: 129 })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 12 characters, 36 bytes: long enough.
        assert_eq!(check_length(&"€".repeat(12)), Ok(()));
        assert_eq!(
            check_length(&"€".repeat(11)),
            Err(PasswordError::TooShort { chars: 11 })
        );
    }

    #[test]
    fn no_composition_rules() {
        assert_eq!(check_length("all lower case words"), Ok(()));
    }

    #[test]
    fn confirmation_must_match_exactly() {
        assert_eq!(check_confirmation("correct horse", "correct horse"), Ok(()));
        assert_eq!(
            check_confirmation("correct horse", "correct horse "),
            Err(PasswordError::Mismatch)
        );
    }

    #[test]
    fn messages_name_the_rule_and_numbers() {
        let msg = PasswordError::TooShort { chars: 5 }.to_string();
        assert!(msg.contains("12") && msg.contains('5'), "{msg}");
    }
}
