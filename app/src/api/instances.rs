//! Kafka instances: the list, the create form's context, the detail page, and the changes
//! (create, scale, delete, retry). Reads need a viewer; changes need an operator.

use super::error::AppError;
use crate::domain::instance::State;
use crate::domain::operation::OperationKind;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator, Viewer};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The quota as the instance pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct InstanceList {
    pub instances: Vec<InstanceSummary>,
    /// Instances per state (not deleted), for the filter.
    pub counts: Vec<(State, u32)>,
    pub quota: QuotaView,
    pub can_change: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct OperationLine {
    pub id: i64,
    pub kind: Option<OperationKind>,
    pub requested_by: String,
    pub requested_from: Option<String>,
    pub requested_at: i64,
    pub from_state: String,
    pub to_state: String,
    pub from_aku: Option<u32>,
    pub to_aku: Option<u32>,
    /// running, succeeded or failed.
    pub status: String,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLine {
    pub label: String,
    /// done, running, failed or waiting.
    pub status: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDetail {
    pub summary: InstanceSummary,
    pub description: String,
    pub deployment: String,
    pub vpc_id: String,
    /// (zone, subnet)
    pub placement: Vec<(String, String)>,
    pub data_bucket: String,
    pub wal_mode: String,
    pub client_auth: String,
    pub transit_encryption: String,
    pub endpoint_exposure: String,
    pub tags: Vec<(String, String)>,
    pub created_by: String,
    /// Write and read MiB/s the current size serves.
    pub capacity: (u32, u32),
    pub operations: Vec<OperationLine>,
    /// The steps of the latest operation.
    pub steps: Vec<StepLine>,
    pub quota: QuotaView,
    pub can_change: bool,
}

/// One recent operation with its instance's name (overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentOperation {
    pub instance_id: i64,
    pub instance_name: String,
    pub operation: OperationLine,
}

#[cfg(feature = "ssr")]
pub(crate) mod convert {
    use super::*;
    use crate::domain::license_state::Phase;
    use crate::domain::operation;
    use crate::server::license::LicenseNow;
    use crate::server::store::instances::InstanceRow;
    use crate::server::store::operations::{OperationRow, StepRow};

    pub fn summary(row: &InstanceRow, running: Option<&OperationRow>) -> InstanceSummary {
        InstanceSummary {
            id: row.id,
            name: row.name.clone(),
            state: row.state(),
            state_reason: row.state_reason.clone(),
            size_aku: row.size(),
            target_aku: row.target(),
            kafka_version: row.kafka_version.clone(),
            zones: row.zones(),
            bootstrap: row.bootstrap.clone(),
            created_at: row.created_at,
            progress: running.and_then(|op| {
                let done = usize::try_from(op.steps_done).ok()?;
                Some(operation::progress(op.kind(), done))
            }),
        }
    }

    pub fn operation_line(op: &OperationRow) -> OperationLine {
        let aku = |a: Option<i64>| a.and_then(|a| u32::try_from(a).ok());
        OperationLine {
            id: op.id,
            kind: Some(op.kind()),
            requested_by: op.requested_by.clone(),
            requested_from: op.requested_from.clone(),
            requested_at: op.requested_at,
            from_state: op.from_state.as_str().to_string(),
            to_state: op.to_state.as_str().to_string(),
            from_aku: aku(op.from_aku),
            to_aku: aku(op.to_aku),
            status: op.status.as_str().to_string(),
            finished_at: op.finished_at,
            error: op.error.clone(),
        }
    }

    pub fn steps(op: &OperationRow, rows: &[StepRow]) -> Vec<StepLine> {
        op.kind()
            .steps()
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let row = rows.iter().find(|r| r.step_index == i as i64);
                let status = match row.and_then(|r| r.succeeded) {
                    Some(true) => "done",
                    Some(false) => "failed",
                    None if row.is_some()
                        && op.status == crate::domain::operation::OperationStatus::Running =>
                    {
                        "running"
                    }
                    None => "waiting",
                };
                StepLine {
                    label: step.label.to_string(),
                    status: status.to_string(),
                    attempts: row.map(|r| r.attempts).unwrap_or(0),
                }
            })
            .collect()
    }

    pub fn quota(now: &LicenseNow) -> QuotaView {
        let payload = now.current.as_ref().map(|c| &c.payload);
        let growth_blocked = crate::domain::quota::check_growth(&now.status, None, now.used_aku, 0)
            .err()
            .map(|e| e.to_string());
        QuotaView {
            used_aku: now.used_aku,
            quota: payload.and_then(|p| p.aku_quota),
            max_per_instance: payload
                .map(|p| p.max_aku_per_instance)
                .unwrap_or(crate::domain::license::MAX_INSTANCE_AKU),
            growth_blocked: match now.status.phase {
                Phase::Unactivated => Some("The environment is not activated.".into()),
                _ => growth_blocked,
            },
        }
    }

    pub fn labels(row: &InstanceRow) -> [String; 5] {
        [
            row.deployment.label().to_string(),
            row.wal_mode.label().to_string(),
            row.client_auth.label().to_string(),
            row.transit_encryption.label().to_string(),
            row.endpoint_exposure.label().to_string(),
        ]
    }
}

#[server(prefix = "/api", endpoint = "instances")]
pub async fn list_instances(state_filter: Option<String>) -> Result<InstanceList, AppError> {
    use crate::domain::account::Role;
    use crate::server::store::instances as store;
    use crate::server::store::operations as ops;
    use crate::server::{auth, error::respond, license};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let filter = state_filter
            .filter(|s| !s.is_empty())
            .map(|s| {
                crate::domain::instance::State::parse(&s).ok_or_else(|| {
                    AppError::invalid("state_filter", format!("There is no instance state {s:?}."))
                })
            })
            .transpose()?;
        let rows = store::list(&state.pool, filter).await?;
        let running = ops::running_operations_by_instance(&state.pool).await?;
        let instances = rows
            .iter()
            .map(|row| convert::summary(row, running.get(&row.id)))
            .collect();
        let counts = store::count_by_state(&state.pool).await?;
        let now = license::now(&state).await?;
        Ok(InstanceList {
            instances,
            counts,
            quota: convert::quota(&now),
            can_change: user.may(Role::Operator),
        })
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_form")]
pub async fn instance_form_context() -> Result<NewInstanceContext, AppError> {
    use crate::domain::{account::Role, environment};
    use crate::server::{auth, error::respond, license, store, ServerError};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let env = store::environment::get(&state.pool)
            .await?
            .ok_or_else(|| ServerError::Other("no environment before setup".into()))?;
        let now = license::now(&state).await?;
        let security = state.operations.provisioner().supported_security();
        let owned = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let allowed = |choices: &[(&str, Option<&str>)]| {
            choices
                .iter()
                .filter(|(_, refused)| refused.is_none())
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
        };
        let notes = |s: &crate::server::provisioner::SupportedSecurity| {
            let refused = s.client_auth.iter().chain(&s.transit_encryption);
            refused
                .filter_map(|(_, why)| why.map(str::to_string))
                .chain(s.internet.map(str::to_string))
                .collect::<Vec<_>>()
        };
        let (vpc_example, subnet_example) = match env.cloud_provider.as_str() {
            "aws" => ("vpc-0a1b2c3d4e", "subnet-0a1b2c3d"),
            "alibaba" => ("vpc-bp1a2b3c4d", "vsw-bp1a2b3c4d"),
            _ => ("prod-network", "prod-subnet-a"),
        };
        Ok(NewInstanceContext {
            quota: convert::quota(&now),
            zones: environment::zones(&env.cloud_provider, &env.region).to_vec(),
            region: env.region,
            vpc_example: vpc_example.into(),
            subnet_example: subnet_example.into(),
            can_change: user.may(Role::Operator),
            allowed_client_auth: security.as_ref().map(|s| allowed(&s.client_auth)),
            allowed_transit_encryption: security.as_ref().map(|s| allowed(&s.transit_encryption)),
            allowed_endpoint_exposure: security.as_ref().map(|s| match s.internet {
                Some(_) => owned(&["vpc"]),
                None => owned(&["vpc", "internet"]),
            }),
            security_notes: security.as_ref().map(notes).unwrap_or_default(),
        })
    })
    .await
}

#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "instance_create")]
pub async fn create_instance(
    name: String,
    description: String,
    kafka_version: String,
    deployment: String,
    vpc_id: String,
    subnet_1: String,
    #[server(default)] subnet_2: String,
    #[server(default)] subnet_3: String,
    data_bucket: String,
    wal_mode: String,
    client_auth: String,
    transit_encryption: String,
    endpoint_exposure: String,
    #[server(default)] tags: String,
    size_aku: String,
) -> Result<i64, AppError> {
    use crate::domain::instance_spec::InstanceInput;
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        let input = InstanceInput {
            name,
            description,
            kafka_version,
            deployment,
            vpc_id,
            subnet_1,
            subnet_2,
            subnet_3,
            data_bucket,
            wal_mode,
            client_auth,
            transit_encryption,
            endpoint_exposure,
            tags,
            size_aku,
        };
        let id = instances::create(&state, &who, &input).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(id)
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance")]
pub async fn get_instance(id: i64) -> Result<InstanceDetail, AppError> {
    use crate::domain::{account::Role, sizing};
    use crate::server::store::instances as store;
    use crate::server::store::operations as ops;
    use crate::server::{auth, error::respond, license};
    respond(async move {
        let state = auth::state()?;
        let user = access::require::<Viewer>(&state).await?;
        let mut conn = state.pool.acquire().await?;
        // Deleted instances stay readable: their settings and history are kept.
        let row = store::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?;
        let running = ops::running_operation_of(&mut conn, id).await?;
        drop(conn);
        let operations = ops::operations_of(&state.pool, id).await?;
        let steps = match operations.first() {
            Some(latest) => convert::steps(latest, &ops::steps_of(&state.pool, latest.id).await?),
            None => Vec::new(),
        };
        let [deployment, wal_mode, client_auth, transit_encryption, endpoint_exposure] =
            convert::labels(&row);
        let now = license::now(&state).await?;
        Ok(InstanceDetail {
            summary: convert::summary(&row, running.as_ref()),
            description: row.description.clone(),
            deployment,
            vpc_id: row.vpc_id.clone(),
            placement: row.zones().into_iter().zip(row.subnets()).collect(),
            data_bucket: row.data_bucket.clone(),
            wal_mode,
            client_auth,
            transit_encryption,
            endpoint_exposure,
            tags: row.tags(),
            created_by: row.created_by.clone(),
            capacity: sizing::capacity(row.size()),
            operations: operations.iter().map(convert::operation_line).collect(),
            steps,
            quota: convert::quota(&now),
            can_change: user.may(Role::Operator),
        })
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_scale")]
pub async fn scale_instance(id: i64, size_aku: String) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::scale(&state, &who, id, &size_aku).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_delete")]
pub async fn delete_instance(id: i64, confirm_name: String) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::delete(&state, &who, id, &confirm_name).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_retry")]
pub async fn retry_instance(id: i64) -> Result<(), AppError> {
    use crate::server::{auth, error::respond, instances};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        instances::retry(&state, &who, id).await?;
        leptos_axum::redirect(&format!("/instances/{id}"));
        Ok(())
    })
    .await
}
