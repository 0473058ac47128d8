//! The message browser's answers.

use crate::domain::message_browse::{Browse, Shown};
use serde::{Deserialize, Serialize};

/// One message as the browser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub key: Shown,
    pub value: Shown,
    pub headers: Vec<HeaderView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeaderView {
    pub name: String,
    pub value: Shown,
}

/// A partition's range of offsets when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PartitionRange {
    pub partition: i32,
    /// The first offset still kept.
    pub earliest: i64,
    /// The offset the next message will get.
    pub end: i64,
}

/// One page read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub browse: Browse,
    /// Newest first for a read of the newest; in offset (or time) order otherwise.
    pub messages: Vec<MessageView>,
    pub partitions: Vec<PartitionRange>,
    /// Messages read but left out by the key or text filter.
    pub filtered_out: usize,
    /// Bytes of record batches fetched for the page.
    pub read_bytes: usize,
}

/// Whether the instance's messages may be read in the console, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BrowsingState {
    pub enabled: bool,
    /// Set by an admin (else the default for the instance's exposure).
    pub explicit: bool,
    pub reason: String,
    /// Whether the caller may turn it on or off (admins).
    pub can_switch: bool,
    /// Whether the caller may read messages (operators and admins, when enabled).
    pub can_read: bool,
}
