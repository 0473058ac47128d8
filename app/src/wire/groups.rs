//! An instance's consumer groups as the page and the REST API show them: each group's state,
//! protocol, members and lag; one group's partitions (committed, end, lag) and members; what
//! an offset reset would do (the preview) and did. Reads need a viewer; resets and deletes an
//! operator.

use serde::{Deserialize, Serialize};

/// One group in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupSummary {
    pub group: String,
    /// Kafka's word for it: `Stable`, `Empty`, `PreparingRebalance`, `Dead`...
    pub state: String,
    /// `classic` or `consumer` (the new consumer protocol, KIP-848).
    pub protocol: String,
    pub members: usize,
    /// The sum of the partitions' lags (end offset less committed offset, at least 0).
    pub total_lag: i64,
    /// Partitions left out of the total: no commit, or no end offset.
    pub partitions_without_lag: usize,
}

/// One partition of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupPartition {
    pub topic: String,
    pub partition: i32,
    /// The next offset the group reads; absent: no commit.
    pub committed: Option<i64>,
    /// The partition's end offset (the next offset written); absent: the topic is gone.
    pub end: Option<i64>,
    /// `end - committed`, at least 0; absent without either.
    pub lag: Option<i64>,
    /// The client id of the member it is assigned to, if any.
    pub member: Option<String>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupMemberView {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Assigned partitions as `topic-partition`.
    pub assigned: Vec<String>,
}

/// One group in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupDetail {
    pub group: String,
    pub state: String,
    pub protocol: String,
    /// The partition assignor (`range`, `uniform`...), blank when none.
    pub assignor: String,
    pub members: Vec<GroupMemberView>,
    pub partitions: Vec<GroupPartition>,
    pub total_lag: i64,
}

/// What a reset does to one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResetRow {
    pub topic: String,
    pub partition: i32,
    /// The committed offset now (absent: no commit).
    pub current: Option<i64>,
    pub new: i64,
    /// Set when the target was outside the partition's offsets: `earliest` or `latest`, the
    /// end it was moved to.
    pub clamped: Option<String>,
    /// Messages read again (moving back).
    pub rereads: i64,
    /// Messages skipped (moving forward).
    pub skips: i64,
}

/// A reset's preview (or, once applied, what was committed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResetView {
    pub group: String,
    /// The reset in words ("to earliest, all topics").
    pub reset: String,
    pub partitions: Vec<ResetRow>,
    pub rereads: i64,
    pub skips: i64,
    /// Whether the offsets were committed (false: a preview).
    pub applied: bool,
}

/// The instance page's consumer-groups section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsPanel {
    /// Largest total lag first.
    pub groups: Vec<GroupSummary>,
    /// Why there is nothing to show (simulated provisioner, instance not running).
    pub note: Option<String>,
    /// The cluster's answer when listing failed.
    pub error: Option<String>,
    pub can_change: bool,
}
