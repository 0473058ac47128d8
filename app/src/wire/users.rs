//! Users as the pages show them: the admins' list and the own account.

use crate::domain::account::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserLine {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub must_change_password: bool,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsersData {
    /// A page of the list.
    pub users: Vec<UserLine>,
    /// The cursor of the next page; absent on the last.
    pub next: Option<String>,
    /// The signed-in admin (who cannot disable or demote themselves by accident: the page
    /// still allows it when another admin exists).
    pub me: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountData {
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
    pub last_login_at: Option<i64>,
}
