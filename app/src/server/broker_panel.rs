//! The detail page's Kafka panel (connect, topics, traffic) and topic creation, through the
//! provisioner: a real broker answers, the simulated one says it has nothing to show.

use super::audit::{self, Actor, Outcome};
use super::store::{instances as store, users::UserRow};
use super::{AppState, ServerError};
use crate::api::error::AppError;
use crate::api::kafka::{plaintext_connect_info, KafkaPanel};
use crate::domain::account::Role;
use crate::domain::instance::State;
use crate::domain::topic;

async fn instance(state: &AppState, id: i64) -> Result<store::InstanceRow, ServerError> {
    let mut conn = state.pool.acquire().await?;
    store::get(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")).into())
}

pub async fn panel(state: &AppState, user: &UserRow, id: i64) -> Result<KafkaPanel, ServerError> {
    let row = instance(state, id).await?;
    let provisioner = state.operations.provisioner();
    let mut panel = KafkaPanel {
        real: provisioner.is_real(),
        note: None,
        connect: None,
        topics: Vec::new(),
        topics_error: None,
        traffic: None,
        can_change: user.role().allows(Role::Operator),
    };
    if !panel.real {
        panel.note = Some(super::provisioner::NOT_REAL.into());
        return Ok(panel);
    }
    panel.traffic = provisioner.live_traffic(&row);
    if row.state() != State::Running || row.bootstrap.is_empty() {
        panel.note = Some(format!(
            "The broker serves clients while the instance is running; {} is {}.",
            row.name, row.state
        ));
        return Ok(panel);
    }
    match provisioner.topics(&row).await {
        Ok(topics) => panel.topics = topics,
        Err(error) => panel.topics_error = Some(error),
    }
    let topic = panel.topics.first().map_or("my-topic", |t| t.name.as_str());
    panel.connect = Some(plaintext_connect_info(&row.bootstrap, topic));
    Ok(panel)
}

pub async fn create_topic(
    state: &AppState,
    actor: &Actor,
    id: i64,
    name: &str,
    partitions: &str,
) -> Result<(), ServerError> {
    let name = topic::parse_name(name).map_err(|e| AppError::invalid(e.field, e))?;
    let partitions =
        topic::parse_partitions(partitions).map_err(|e| AppError::invalid(e.field, e))?;
    let row = instance(state, id).await?;
    if row.state() != State::Running {
        return Err(AppError::Conflict(format!(
            "Topics are created while the instance is running; {} is {}.",
            row.name, row.state
        ))
        .into());
    }
    // Carried out on the broker, outside any transaction of ours: the request's entry
    // (`topic_create_requested`) commits before the broker is asked, so a crash after leaves a
    // trace of the request; `topic_create` records the outcome once it is known.
    let detail = format!("{name}, {partitions} partitions");
    let action = "topic_create";
    let target = Some(row.name.as_str());
    audit::record(
        state,
        actor,
        "topic_create_requested",
        target,
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    let provisioner = state.operations.provisioner();
    let result = provisioner.create_topic(&row, &name, partitions).await;
    let (outcome, detail) = match &result {
        Ok(()) => (Outcome::Success, detail),
        Err(error) => (Outcome::Failure, format!("{name}: {error}")),
    };
    if let Err(audit_error) =
        audit::record(state, actor, action, target, outcome, Some(&detail)).await
    {
        // The broker did (or refused) it either way; the request's entry is in the log.
        tracing::error!(instance = row.id, topic = %name, error = %audit_error, "could not audit a topic's outcome");
    }
    if let Err(error) = result {
        let refusal = if error.starts_with("A topic named") {
            AppError::invalid("topic", error)
        } else {
            AppError::Conflict(error)
        };
        return Err(refusal.into());
    }
    Ok(())
}
