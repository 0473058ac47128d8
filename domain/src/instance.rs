//! Kafka instances: the name rule and the state machine.
//!
//! ```text
//! creating -> running            running -> changing -> running (scaling)
//! running -> deleting -> deleted running -> suspended -> running (license lapsed / renewed)
//! any live state -> abnormal     abnormal -> (retry) creating | changing | deleting
//! ```
//! No other change is accepted while an instance is creating, changing or deleting.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const NAME_MIN: usize = 3;
pub const NAME_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Length { chars: usize },
    FirstNotLetter,
    BadCharacter(char),
    EndsWithHyphen,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Length { chars } => write!(
                f,
                "Instance name must be {NAME_MIN} to {NAME_MAX} characters long (this one has {chars})."
            ),
            NameError::FirstNotLetter => write!(f, "Instance name must start with a lowercase letter."),
            NameError::BadCharacter(c) => write!(
                f,
                "Instance name may contain only lowercase letters, digits and hyphens (found {c:?})."
            ),
            NameError::EndsWithHyphen => write!(f, "Instance name must not end with a hyphen."),
        }
    }
}

/// 3 to 64 characters: lowercase letters, digits, hyphens, starting with a letter (and, as
/// DNS labels require, not ending with a hyphen). Not trimmed or lowercased: the name is shown
/// back exactly as it will be used.
pub fn parse_name(input: &str) -> Result<String, NameError> {
    let chars = input.chars().count();
    if !(NAME_MIN..=NAME_MAX).contains(&chars) {
        return Err(NameError::Length { chars });
    }
    if !input.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(NameError::FirstNotLetter);
    }
    if let Some(bad) = input
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadCharacter(bad));
    }
    if input.ends_with('-') {
        return Err(NameError::EndsWithHyphen);
    }
    Ok(input.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum State {
    Creating,
    Running,
    Changing,
    Deleting,
    Deleted,
    Suspended,
    Abnormal,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Creating,
        State::Running,
        State::Changing,
        State::Deleting,
        State::Deleted,
        State::Suspended,
        State::Abnormal,
    ];

    /// The state named by its one string form ([`State::as_str`]); `None` for anything else.
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Running => "running",
            State::Changing => "changing",
            State::Deleting => "deleting",
            State::Deleted => "deleted",
            State::Suspended => "suspended",
            State::Abnormal => "abnormal",
        }
    }

    /// An operation is in flight: no other change is accepted.
    pub fn is_busy(self) -> bool {
        matches!(self, State::Creating | State::Changing | State::Deleting)
    }
}

/// Whether the state machine allows `from -> to`.
pub fn can_move(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Creating, Running)
            | (Running, Changing)
            | (Changing, Running)
            | (Running, Deleting)
            | (Suspended, Deleting)
            | (Abnormal, Deleting)
            | (Deleting, Deleted)
            | (Running, Suspended)
            | (Suspended, Running)
            | (
                Creating | Running | Changing | Deleting | Suspended,
                Abnormal
            )
            | (Abnormal, Creating | Changing)
            // The broker process came back (restarted by the supervisor or a retry).
            | (Abnormal, Running)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert_eq!(parse_name("orders-eu-1"), Ok("orders-eu-1".into()));
        assert_eq!(parse_name("ab"), Err(NameError::Length { chars: 2 }));
        assert!(parse_name(&"a".repeat(64)).is_ok());
        assert_eq!(
            parse_name(&"a".repeat(65)),
            Err(NameError::Length { chars: 65 })
        );
        assert_eq!(parse_name("1orders"), Err(NameError::FirstNotLetter));
        assert_eq!(parse_name("Orders"), Err(NameError::FirstNotLetter));
        assert_eq!(parse_name("orders_eu"), Err(NameError::BadCharacter('_')));
        assert_eq!(parse_name("orders-"), Err(NameError::EndsWithHyphen));
    }

    #[test]
    fn the_documented_transitions() {
        use State::*;
        for (from, to) in [
            (Creating, Running),
            (Running, Changing),
            (Changing, Running),
            (Running, Deleting),
            (Deleting, Deleted),
            (Running, Suspended),
            (Suspended, Running),
            (Changing, Abnormal),
            (Abnormal, Deleting),
        ] {
            assert!(can_move(from, to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn nothing_else_moves() {
        use State::*;
        for (from, to) in [
            (Creating, Changing),
            (Changing, Deleting),
            (Deleting, Running),
            (Deleted, Running),
            (Deleted, Abnormal),
            (Suspended, Changing),
        ] {
            assert!(!can_move(from, to), "{from:?} -> {to:?}");
        }
        assert!(Creating.is_busy() && Changing.is_busy() && Deleting.is_busy());
        assert!(!Running.is_busy() && !Abnormal.is_busy());
    }
}
