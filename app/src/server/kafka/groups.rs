//! Consumer groups of a Kafka cluster through the console's Admin client (the engine's
//! `admin::groups` and `admin::group_offsets`): listed with their lag, described, their
//! offsets reset (previewed, then applied) and deleted. Kafka's refusals come back typed
//! ([`GroupRefusal`]) so that the pages put them next to the field they are about.

use super::{kafka_error, KafkaProvisioner};
use crate::domain::offset_reset::{ResetPreview, ResetSpec};
use crate::server::provisioner::{GroupRefusal, ProvisionError};
use crate::server::store::instances::InstanceRow;
use crate::wire::groups::{GroupDetail, GroupMemberView, GroupPartition, GroupSummary};
use byoc_engine::admin::groups::{GroupDescription, GroupProtocol};
use byoc_engine::admin::{code, AdminClient, AdminError};

/// An Admin error as the console reads it: a group with members, a group that does not
/// exist and a reset's rule are refusals of their own; the rest are the cluster's words.
fn group_error(group: &str, error: AdminError) -> ProvisionError {
    match error {
        e @ AdminError::GroupNotEmpty { .. } => GroupRefusal::NotEmpty(e.to_string()).into(),
        AdminError::Reset(e) => GroupRefusal::Invalid {
            field: e.field,
            message: e.message,
        }
        .into(),
        e if e.is_code(code::NON_EMPTY_GROUP) => GroupRefusal::NotEmpty(format!(
            "group {group} has active members: it can be deleted only while no consumer of \
             the group runs"
        ))
        .into(),
        e if e.is_code(code::GROUP_ID_NOT_FOUND) => GroupRefusal::Missing(group.into()).into(),
        e => kafka_error(e),
    }
}

fn protocol(d: &GroupDescription) -> &'static str {
    match d.protocol {
        GroupProtocol::Classic => "classic",
        GroupProtocol::Consumer => "consumer",
    }
}

async fn detail(admin: &AdminClient, group: &str) -> Result<GroupDetail, ProvisionError> {
    let d = admin
        .describe_group(group)
        .await
        .map_err(|e| group_error(group, e))?;
    let lag = admin
        .group_lag(&d)
        .await
        .map_err(|e| group_error(group, e))?;
    let client_of = |member: &str| {
        let found = d.members.iter().find(|m| m.member_id == member);
        found.map(|m| m.client_id.clone())
    };
    let partitions = lag.partitions.iter().map(|p| GroupPartition {
        topic: p.topic.clone(),
        partition: p.partition,
        committed: p.committed,
        end: p.end,
        lag: p.lag,
        member: p.member.as_deref().and_then(client_of),
    });
    let members = d.members.iter().map(|m| {
        let assigned = m.assignment.iter().flatten();
        let assigned = assigned.flat_map(|(t, ps)| ps.iter().map(move |p| format!("{t}-{p}")));
        GroupMemberView {
            member_id: m.member_id.clone(),
            client_id: m.client_id.clone(),
            host: m.host.clone(),
            assigned: assigned.collect(),
        }
    });
    Ok(GroupDetail {
        group: d.group_id.clone(),
        state: d.state.clone(),
        protocol: protocol(&d).into(),
        assignor: d.assignor.clone(),
        members: members.collect(),
        partitions: partitions.collect(),
        total_lag: lag.total.total,
    })
}

impl KafkaProvisioner {
    /// Every consumer group (groups of other protocol types, e.g. Connect's, left out),
    /// described with its lag; the largest total lag first.
    pub(super) async fn groups_list(
        &self,
        instance: &InstanceRow,
    ) -> Result<Vec<GroupSummary>, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        let listed = admin.list_groups().await.map_err(kafka_error)?;
        let mut out = Vec::with_capacity(listed.len());
        for g in listed {
            if !(g.protocol_type.is_empty() || g.protocol_type == "consumer") {
                continue;
            }
            let d = match detail(&admin, &g.group_id).await {
                Ok(d) => d,
                // Deleted between the list and its description.
                Err(e)
                    if matches!(
                        e.downcast_ref::<GroupRefusal>(),
                        Some(GroupRefusal::Missing(_))
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let without = d.partitions.iter().filter(|p| p.lag.is_none()).count();
            out.push(GroupSummary {
                group: d.group,
                state: d.state,
                protocol: d.protocol,
                members: d.members.len(),
                total_lag: d.total_lag,
                partitions_without_lag: without,
            });
        }
        out.sort_by(|a, b| b.total_lag.cmp(&a.total_lag).then(a.group.cmp(&b.group)));
        Ok(out)
    }

    pub(super) async fn group_detail(
        &self,
        instance: &InstanceRow,
        group: &str,
    ) -> Result<GroupDetail, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        detail(&admin, group).await
    }

    pub(super) async fn group_reset_preview(
        &self,
        instance: &InstanceRow,
        group: &str,
        spec: &ResetSpec,
        now_ms: i64,
    ) -> Result<ResetPreview, ProvisionError> {
        let admin = self.admin_of(instance).await?;
        admin
            .preview_offset_reset(group, spec, now_ms)
            .await
            .map_err(|e| group_error(group, e))
    }

    pub(super) async fn group_reset_apply(
        &self,
        instance: &InstanceRow,
        group: &str,
        preview: &ResetPreview,
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        admin
            .apply_offset_reset(group, preview)
            .await
            .map_err(|e| group_error(group, e))
    }

    pub(super) async fn group_delete(
        &self,
        instance: &InstanceRow,
        group: &str,
    ) -> Result<(), ProvisionError> {
        let admin = self.admin_of(instance).await?;
        admin
            .delete_group(group)
            .await
            .map_err(|e| group_error(group, e))
    }
}

/// How often the background sampler reads each running cluster's group lag for `/metrics`.
pub const LAG_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Groups per instance on `/metrics`: those with the largest total lag.
pub const GROUPS_EXPORTED: usize = 100;

impl KafkaProvisioner {
    /// The last sample of every instance's group lag: the [`GROUPS_EXPORTED`] groups with
    /// the largest total lag, by instance id.
    pub(super) fn lag_samples(&self) -> Vec<(i64, Vec<(String, i64)>)> {
        let Ok(samples) = self.group_lags.lock() else {
            return Vec::new();
        };
        samples.iter().map(|(id, g)| (*id, g.clone())).collect()
    }

    async fn sample_lag(&self, id: i64) -> Option<Vec<(String, i64)>> {
        let row = {
            let mut conn = self.pool.acquire().await.ok()?;
            crate::server::store::instances::get(&mut conn, id)
                .await
                .ok()??
        };
        let groups = match self.groups_list(&row).await {
            Ok(groups) => groups,
            Err(error) => {
                tracing::debug!(instance = id, error = %format!("{error:#}"), "group lag not sampled");
                return None;
            }
        };
        let top = groups.into_iter().take(GROUPS_EXPORTED);
        Some(top.map(|g| (g.group, g.total_lag)).collect())
    }
}

/// Samples every running cluster's group lag every [`LAG_SAMPLE_EVERY`] for `/metrics`, for
/// as long as the provisioner lives: a scrape reads the last sample and asks Kafka nothing.
pub(super) fn spawn_lag_sampling(provisioner: std::sync::Weak<KafkaProvisioner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(LAG_SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(provisioner) = provisioner.upgrade() else {
                return;
            };
            let running = provisioner.running_instances();
            let mut fresh = Vec::with_capacity(running.len());
            for id in running {
                if let Some(sample) = provisioner.sample_lag(id).await {
                    fresh.push((id, sample));
                }
            }
            let kept = provisioner.group_lags.lock();
            if let Ok(mut samples) = kept {
                samples.clear();
                samples.extend(fresh);
            }
        }
    });
}
