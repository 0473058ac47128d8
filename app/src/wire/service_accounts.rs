//! Service accounts as the admins' page and the REST API show them.

use crate::domain::account::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServiceAccountLine {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// active, expired or revoked.
    pub status: String,
    pub created_at: i64,
    pub created_by: String,
    /// Unix seconds when it stops working; none: no expiry.
    pub expires_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// When and from where it was last used (written at most once a minute).
    pub last_used_at: Option<i64>,
    pub last_used_from: Option<String>,
}

/// A secret, shown once: after this answer only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    /// The bearer token: `Authorization: Bearer <token>`.
    pub token: String,
}
