//! The instance page's consumer groups and the REST operations on them, through the
//! provisioner: groups with their lag, one group's partitions and members, offset resets
//! (a preview, then apply) and deleting an empty group. Resets and deletes change nothing of
//! ours, only the cluster: each is audited before Kafka is asked (`…_requested`, with the
//! preview's figures) and again with the outcome, as topics are (`broker_panel`).

use super::access::{Authorized, Operator, Viewer};
use super::audit::{self, Actor, Outcome};
use super::provisioner::{reason, GroupRefusal, ProvisionError};
use super::store::instances as store;
use super::{AppState, ServerError};
use crate::domain::account::Role;
use crate::domain::group_form;
use crate::domain::instance::State;
use crate::domain::offset_reset::{Clamp, ResetPreview, ResetSpec};
use crate::wire::error::AppError;
use crate::wire::groups::{GroupDetail, GroupSummary, GroupsPanel, ResetRow, ResetView};

async fn serving(state: &AppState, id: i64) -> Result<store::InstanceRow, ServerError> {
    serving_for(state, id, "Consumer groups are read and changed").await
}

/// The instance `id`, when a cluster serves it (running, on a real provisioner): else why not,
/// in words that start with `what` ("Consumer groups are read and changed").
pub(super) async fn serving_for(
    state: &AppState,
    id: i64,
    what: &str,
) -> Result<store::InstanceRow, ServerError> {
    let row = {
        let mut conn = state.pool.acquire().await?;
        store::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")))?
    };
    if !state.operations.provisioner().is_real() {
        return Err(AppError::Conflict(super::provisioner::NOT_REAL.into()).into());
    }
    if row.state() != State::Running || row.bootstrap.is_empty() {
        return Err(AppError::Conflict(format!(
            "{what} while the instance is running; {} is {}.",
            row.name,
            row.state().as_str()
        ))
        .into());
    }
    Ok(row)
}

/// A cluster's answer as the pages and the REST API show it: a refusal next to its field
/// (`group`, or the reset's `offset`, `timestamp`, `shift`, `topic`), a missing group as
/// not found, the rest as a conflict in the cluster's words.
fn refusal(error: ProvisionError) -> ServerError {
    match error.downcast_ref::<GroupRefusal>() {
        Some(GroupRefusal::Invalid { field, message }) => AppError::invalid(field, message).into(),
        Some(r @ GroupRefusal::NotEmpty(_)) => AppError::invalid("group", r.to_string()).into(),
        Some(r @ GroupRefusal::Missing(_)) => AppError::NotFound(r.to_string()).into(),
        None => AppError::Conflict(reason(&error)).into(),
    }
}

fn group(input: &str) -> Result<String, ServerError> {
    group_form::parse_group(input).map_err(|e| AppError::invalid(e.field, e.message).into())
}

/// The page's section: the groups, largest lag first, or why there are none to show.
pub async fn panel(
    state: &AppState,
    who: &Authorized<Viewer>,
    id: i64,
) -> Result<GroupsPanel, ServerError> {
    let mut panel = GroupsPanel {
        groups: Vec::new(),
        note: None,
        error: None,
        can_change: who.may(Role::Operator),
    };
    let row = match serving(state, id).await {
        Ok(row) => row,
        Err(e) => {
            let why = match e.app_error() {
                Some(AppError::Conflict(why)) => why.clone(),
                _ => return Err(e),
            };
            panel.note = Some(why);
            return Ok(panel);
        }
    };
    match state.operations.provisioner().consumer_groups(&row).await {
        Ok(groups) => panel.groups = groups,
        Err(error) => panel.error = Some(reason(&error)),
    }
    Ok(panel)
}

/// The groups, largest lag first (REST).
pub async fn list(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
) -> Result<Vec<GroupSummary>, ServerError> {
    let row = serving(state, id).await?;
    let provisioner = state.operations.provisioner();
    provisioner.consumer_groups(&row).await.map_err(refusal)
}

/// One group: members, and per partition committed, end and lag.
pub async fn detail(
    state: &AppState,
    _who: &Authorized<Viewer>,
    id: i64,
    name: &str,
) -> Result<GroupDetail, ServerError> {
    let name = group(name)?;
    let row = serving(state, id).await?;
    let provisioner = state.operations.provisioner();
    provisioner
        .consumer_group(&row, &name)
        .await
        .map_err(refusal)
}

/// A reset as the form gives it (see [`group_form::parse_reset`]).
pub struct ResetForm<'a> {
    pub group: &'a str,
    pub to: &'a str,
    pub value: &'a str,
    pub topic: &'a str,
}

pub(super) fn now_ms(state: &AppState) -> i64 {
    i64::try_from(state.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The form's group and reset, checked (bad input names its field; nothing is asked of Kafka).
pub fn parse(state: &AppState, form: &ResetForm<'_>) -> Result<(String, ResetSpec), ServerError> {
    let name = group(form.group)?;
    let spec = group_form::parse_reset(form.to, form.value, form.topic, now_ms(state))
        .map_err(|e| AppError::invalid(e.field, e.message))?;
    Ok((name, spec))
}

fn view(name: &str, spec: &ResetSpec, preview: &ResetPreview, applied: bool) -> ResetView {
    let rows = preview.partitions.iter().map(|p| ResetRow {
        topic: p.topic.clone(),
        partition: p.partition,
        current: p.current,
        new: p.new,
        clamped: p.clamped.map(|c| match c {
            Clamp::ToEarliest => "earliest".to_string(),
            Clamp::ToLatest => "latest".to_string(),
        }),
        rereads: p.rereads,
        skips: p.skips,
    });
    ResetView {
        group: name.to_string(),
        reset: group_form::describe(spec),
        partitions: rows.collect(),
        rereads: preview.rereads,
        skips: preview.skips,
        applied,
    }
}

/// What the reset would do, partition by partition. Nothing changes, nothing is audited.
pub async fn preview(
    state: &AppState,
    _who: &Authorized<Operator>,
    id: i64,
    form: &ResetForm<'_>,
) -> Result<ResetView, ServerError> {
    let (name, spec) = parse(state, form)?;
    let row = serving(state, id).await?;
    let provisioner = state.operations.provisioner();
    let preview = provisioner
        .preview_group_reset(&row, &name, &spec, now_ms(state))
        .await
        .map_err(refusal)?;
    Ok(view(&name, &spec, &preview, false))
}

/// The preview's figures as the audit log keeps them.
fn figures(name: &str, spec: &ResetSpec, preview: &ResetPreview) -> String {
    let moved = preview.partitions.iter().map(|p| {
        let from = p.current.map_or("none".to_string(), |c| c.to_string());
        format!("{}-{} {from}->{}", p.topic, p.partition, p.new)
    });
    let mut moved: Vec<String> = moved.collect();
    if moved.len() > 20 {
        let more = moved.len() - 20;
        moved.truncate(20);
        moved.push(format!("and {more} more"));
    }
    format!(
        "group {name}, {}: {} partition(s), {} message(s) re-read, {} skipped ({})",
        group_form::describe(spec),
        preview.partitions.len(),
        preview.rereads,
        preview.skips,
        moved.join(", ")
    )
}

/// Previews the reset again (offsets move while people read a preview), then commits it.
/// Refused while the group has members (next to `group`). Audited as requested with the
/// preview's figures, then with the outcome.
pub async fn apply(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    form: &ResetForm<'_>,
) -> Result<ResetView, ServerError> {
    let (name, spec) = parse(state, form)?;
    let row = serving(state, id).await?;
    let provisioner = state.operations.provisioner();
    let preview = provisioner
        .preview_group_reset(&row, &name, &spec, now_ms(state))
        .await
        .map_err(refusal)?;
    let detail = figures(&name, &spec, &preview);
    let call = provisioner.apply_group_reset(&row, &name, &preview);
    on_cluster(
        state,
        who.actor(),
        &row,
        "group_offset_reset",
        &detail,
        call,
    )
    .await?;
    Ok(view(&name, &spec, &preview, true))
}

/// Deletes an empty group and its committed offsets (after the group's name typed again,
/// when `confirm` is given). Audited as requested, then with the outcome.
pub async fn delete(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    name: &str,
    confirm: Option<&str>,
) -> Result<(), ServerError> {
    let name = group(name)?;
    if confirm.is_some_and(|c| c.trim() != name) {
        return Err(AppError::invalid(
            "confirm",
            format!("Type the group's name, {name}, to delete it and its committed offsets."),
        )
        .into());
    }
    let row = serving(state, id).await?;
    let provisioner = state.operations.provisioner();
    let call = provisioner.delete_group(&row, &name);
    let detail = format!("group {name}");
    on_cluster(state, who.actor(), &row, "group_delete", &detail, call).await
}

/// A change made on the cluster, outside any transaction of ours: `ACTION_requested` commits
/// before Kafka is asked, so a crash after leaves a trace; `ACTION` records the outcome.
async fn on_cluster(
    state: &AppState,
    actor: &Actor,
    row: &store::InstanceRow,
    action: &str,
    detail: &str,
    call: impl std::future::Future<Output = Result<(), ProvisionError>>,
) -> Result<(), ServerError> {
    let done = audited_on_cluster(state, actor, row, action, detail, call, |()| String::new());
    done.await?.map_err(refusal)
}

/// [`on_cluster`] for any call: the outcome's entry is `detail` and what `said` makes of the
/// answer; the call's own error is returned inside, for the caller's words.
pub(super) async fn audited_on_cluster<T>(
    state: &AppState,
    actor: &Actor,
    row: &store::InstanceRow,
    action: &str,
    detail: &str,
    call: impl std::future::Future<Output = Result<T, ProvisionError>>,
    said: impl FnOnce(&T) -> String,
) -> Result<Result<T, ProvisionError>, ServerError> {
    let target = Some(row.name.as_str());
    let requested = format!("{action}_requested");
    audit::record(
        state,
        actor,
        &requested,
        target,
        Outcome::Success,
        Some(detail),
    )
    .await?;
    let result = call.await;
    let (outcome, said) = match &result {
        Ok(answer) => (Outcome::Success, format!("{detail}{}", said(answer))),
        Err(error) => (Outcome::Failure, format!("{detail}: {}", reason(error))),
    };
    if let Err(audit_error) =
        audit::record(state, actor, action, target, outcome, Some(&said)).await
    {
        // Kafka did (or refused) it either way; the request's entry is in the log.
        tracing::error!(instance = row.id, error = %audit_error, "could not audit a change on the cluster");
    }
    Ok(result)
}
