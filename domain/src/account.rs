//! User names and roles.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;

/// A validated user name: 3 to 32 characters of lowercase letters, digits, `.`, `_`, `-`,
/// starting with a letter. Input is trimmed and lowercased first, so `Alice` is `alice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernameError {
    Length { chars: usize },
    FirstNotLetter,
    BadCharacter(char),
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernameError::Length { chars } => write!(
                f,
                "User name must be {USERNAME_MIN} to {USERNAME_MAX} characters long (this one has {chars})."
            ),
            UsernameError::FirstNotLetter => write!(f, "User name must start with a letter."),
            UsernameError::BadCharacter(c) => write!(
                f,
                "User name may contain only letters, digits, '.', '_' and '-' (found {c:?})."
            ),
        }
    }
}

impl Username {
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let name = input.trim().to_lowercase();
        let chars = name.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&chars) {
            return Err(UsernameError::Length { chars });
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(UsernameError::FirstNotLetter);
        }
        if let Some(bad) = name.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(UsernameError::BadCharacter(bad));
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do. Ordered: each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role includes the rights of `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change that would leave no active administrator: nobody could manage users or apply a
/// product key any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAdmin;

impl fmt::Display for LastAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "This is the last active administrator: make another user an administrator first.",
        )
    }
}

/// Whether a change to a user keeps at least one active admin. `target_is_active_admin`: the
/// user is an admin and not disabled; `takes_admin_away`: the change disables or demotes them.
pub fn keeps_an_admin(
    active_admins: u32,
    target_is_active_admin: bool,
    takes_admin_away: bool,
) -> Result<(), LastAdmin> {
    if target_is_active_admin && takes_admin_away && active_admins <= 1 {
        Err(LastAdmin)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_admin_stays() {
        assert_eq!(keeps_an_admin(1, true, true), Err(LastAdmin));
        assert_eq!(keeps_an_admin(2, true, true), Ok(()));
        assert_eq!(keeps_an_admin(1, false, true), Ok(()), "not an admin");
        assert_eq!(
            keeps_an_admin(1, true, false),
            Ok(()),
            "e.g. a password reset"
        );
    }

    #[test]
    fn username_is_normalised() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn username_rules() {
        assert_eq!(
            Username::parse("ab"),
            Err(UsernameError::Length { chars: 2 })
        );
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err(UsernameError::Length { chars: 33 })
        );
        assert_eq!(
            Username::parse("1admin"),
            Err(UsernameError::FirstNotLetter)
        );
        assert_eq!(
            Username::parse("ad min"),
            Err(UsernameError::BadCharacter(' '))
        );
        assert_eq!(
            Username::parse("adm'in"),
            Err(UsernameError::BadCharacter('\''))
        );
        assert!(Username::parse("ops.team_1-a").is_ok());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
        for role in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
