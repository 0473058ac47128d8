//! Kafka instances as the pages show them: the list, the create form's context, the detail
//! page, and the quota preview.

use crate::domain::instance::State;
use crate::domain::instance_spec::{
    ClientAuth, Deployment, EndpointExposure, TransitEncryption, WalMode,
};
use crate::domain::operation::OperationKind;
use serde::{Deserialize, Serialize};
/// The quota as the instance pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaView {
    pub used_aku: u32,
    /// None: uncapped pay-as-you-go.
    pub quota: Option<u32>,
    pub max_per_instance: u32,
    /// Why nothing can grow now (license state), if so.
    pub growth_blocked: Option<String>,
}

impl QuotaView {
    /// Whether `extra` more AKU may be taken, with the exact shortfall if not: the same rule
    /// and wording as the server's check (which decides; this is the live preview).
    pub fn check(&self, extra: u32) -> Result<(), String> {
        if let Some(reason) = &self.growth_blocked {
            return Err(reason.clone());
        }
        crate::domain::quota::check_fits(self.quota, self.used_aku, extra)
            .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceSummary {
    pub id: i64,
    pub name: String,
    pub state: State,
    pub state_reason: Option<String>,
    pub size_aku: u32,
    /// The size a scale in progress moves to.
    pub target_aku: Option<u32>,
    pub kafka_version: String,
    pub zones: Vec<String>,
    pub bootstrap: String,
    pub created_at: i64,
    /// "step 2 of 5: …" while an operation runs.
    pub progress: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceList {
    /// A page of the list, newest first.
    pub instances: Vec<InstanceSummary>,
    /// The cursor of the next page; None on the last.
    pub next: Option<String>,
    /// Instances per state (not deleted), for the filter.
    pub counts: Vec<(State, u32)>,
    pub quota: QuotaView,
    pub can_change: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewInstanceContext {
    pub quota: QuotaView,
    /// The region's three zones, in order (one zone uses the first).
    pub zones: Vec<String>,
    pub region: String,
    pub vpc_example: String,
    pub subnet_example: String,
    pub can_change: bool,
    /// The client authentication and transit encryption choices the provisioner can put in
    /// force (`None`: all of them).
    pub allowed_client_auth: Option<Vec<String>>,
    pub allowed_transit_encryption: Option<Vec<String>>,
    pub allowed_endpoint_exposure: Option<Vec<String>>,
    /// Why the choices not allowed are not (one line each).
    pub security_notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperationLine {
    pub id: i64,
    pub kind: Option<OperationKind>,
    pub requested_by: String,
    pub requested_from: Option<String>,
    pub requested_at: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::domain::instance::State))]
    pub from_state: String,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::domain::instance::State))]
    pub to_state: String,
    pub from_aku: Option<u32>,
    pub to_aku: Option<u32>,
    /// running, succeeded or failed.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::domain::operation::OperationStatus))]
    pub status: String,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StepLine {
    pub label: String,
    pub status: StepStatus,
    pub attempts: i64,
    /// What the step did, or, while it runs, how far it is (a scale's partitions moved of
    /// the total).
    #[serde(default)]
    pub detail: Option<String>,
}

/// Where a step of an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Waiting,
    Running,
    Done,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Running => "running",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceDetail {
    pub summary: InstanceSummary,
    pub description: String,
    pub deployment: Deployment,
    pub vpc_id: String,
    /// (zone, subnet)
    pub placement: Vec<(String, String)>,
    pub data_bucket: String,
    pub wal_mode: WalMode,
    pub client_auth: ClientAuth,
    pub transit_encryption: TransitEncryption,
    pub endpoint_exposure: EndpointExposure,
    pub tags: Vec<(String, String)>,
    pub created_by: String,
    /// Write and read MiB/s the current size serves.
    pub capacity: (u32, u32),
    /// A page of the operation history, newest first.
    pub operations: Vec<OperationLine>,
    /// The cursor of the older operations; absent on the last page.
    pub operations_next: Option<String>,
    /// The steps of the latest operation.
    pub steps: Vec<StepLine>,
    pub quota: QuotaView,
    pub can_change: bool,
}

/// One recent operation with its instance's name (overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecentOperation {
    pub instance_id: i64,
    pub instance_name: String,
    pub operation: OperationLine,
}

/// One operation with its steps (what a REST client polls after a 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperationDetail {
    pub instance_id: i64,
    pub operation: OperationLine,
    pub steps: Vec<StepLine>,
}
