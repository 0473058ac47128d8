//! The detail page's Kafka panel (connect, topics, traffic) and topic creation, through the
//! provisioner: a real broker answers, the simulated one says it has nothing to show.

use super::access::{Authorized, Operator, Viewer};
use super::audit::{self, Actor, Outcome};
use super::provisioner::{reason, ProvisionError, TopicRefusal};
use super::store::instances as store;
use super::{AppState, ServerError};
use crate::domain::account::Role;
use crate::domain::instance::State;
use crate::domain::topic::{self, Retention};
use crate::wire::error::AppError;
use crate::wire::kafka::KafkaPanel;

async fn instance(state: &AppState, id: i64) -> Result<store::InstanceRow, ServerError> {
    let mut conn = state.pool.acquire().await?;
    store::get(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")).into())
}

pub async fn panel(
    state: &AppState,
    who: &Authorized<Viewer>,
    id: i64,
) -> Result<KafkaPanel, ServerError> {
    let row = instance(state, id).await?;
    let provisioner = state.operations.provisioner();
    let mut panel = KafkaPanel {
        real: provisioner.is_real(),
        note: None,
        connect: None,
        topics: Vec::new(),
        topics_error: None,
        traffic: None,
        users: None,
        acls: None,
        user_mechanisms: Vec::new(),
        can_change: who.may(Role::Operator),
    };
    if !panel.real {
        panel.note = Some(super::provisioner::NOT_REAL.into());
        return Ok(panel);
    }
    panel.traffic = provisioner.live_traffic(&row);
    use crate::domain::instance_spec::ClientAuth;
    if matches!(
        row.client_auth,
        ClientAuth::SaslScram | ClientAuth::SaslPlain | ClientAuth::Mtls
    ) {
        panel.users = Some(super::kafka_users::list(state, &row).await?);
        panel.user_mechanisms = match row.client_auth {
            ClientAuth::SaslPlain => vec![crate::domain::kafka_user::PLAIN.to_string()],
            ClientAuth::Mtls => vec![super::kafka_certificates::CERTIFICATE.to_string()],
            _ => crate::domain::kafka_user::Mechanism::ALL
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
        };
    }
    if super::kafka_acls::takes_rules(&row) {
        panel.acls = Some(super::kafka_acls::list(state, &row).await?);
    }
    if row.state() != State::Running || row.bootstrap.is_empty() {
        panel.note = Some(format!(
            "The broker serves clients while the instance is running; {} is {}.",
            row.name,
            row.state().as_str()
        ));
        return Ok(panel);
    }
    match provisioner.topics(&row).await {
        Ok(topics) => panel.topics = topics,
        Err(error) => panel.topics_error = Some(reason(&error)),
    }
    let topic = panel.topics.first().map_or("my-topic", |t| t.name.as_str());
    panel.connect = Some(super::kafka_users::connect_settings(state, &row, None, topic).await);
    Ok(panel)
}

pub async fn create_topic(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    name: &str,
    partitions: &str,
    retention: &str,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let name = topic::parse_name(name).map_err(|e| AppError::invalid(e.field, e))?;
    let partitions =
        topic::parse_partitions(partitions).map_err(|e| AppError::invalid(e.field, e))?;
    let retention = topic::parse_retention(retention).map_err(|e| AppError::invalid(e.field, e))?;
    let row = running_instance(state, id, "created").await?;
    let detail = format!(
        "{name}, {partitions} partitions, retention {}",
        Retention::describe_ms(retention.map(Retention::as_ms))
    );
    let provisioner = state.operations.provisioner();
    let call = provisioner.create_topic(&row, &name, partitions, retention.map(Retention::as_ms));
    on_broker(state, actor, &row, "topic_create", &name, &detail, call).await
}

/// The instance `id`, when it is running (its topics change only then).
async fn running_instance(
    state: &AppState,
    id: i64,
    doing: &str,
) -> Result<store::InstanceRow, ServerError> {
    let row = instance(state, id).await?;
    if row.state() != State::Running {
        return Err(AppError::Conflict(format!(
            "Topics are {doing} while the instance is running; {} is {}.",
            row.name,
            row.state().as_str()
        ))
        .into());
    }
    Ok(row)
}

/// A request carried out on the broker, outside any transaction of ours: `ACTION_requested`
/// commits before the broker is asked, so a crash after leaves a trace of the request;
/// `ACTION` records the outcome once it is known.
async fn on_broker(
    state: &AppState,
    actor: &Actor,
    row: &store::InstanceRow,
    action: &str,
    topic: &str,
    detail: &str,
    call: impl std::future::Future<Output = Result<(), ProvisionError>>,
) -> Result<(), ServerError> {
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
    let (outcome, detail) = match &result {
        Ok(()) => (Outcome::Success, detail.to_string()),
        Err(error) => (Outcome::Failure, format!("{topic}: {}", reason(error))),
    };
    if let Err(audit_error) =
        audit::record(state, actor, action, target, outcome, Some(&detail)).await
    {
        // The broker did (or refused) it either way; the request's entry is in the log.
        tracing::error!(instance = row.id, %topic, error = %audit_error, "could not audit a topic's outcome");
    }
    result.map_err(topic_refusal)
}

/// A broker's refusal as the page shows it: next to the topic field when it is about the
/// topic (exists already, does not exist), else as a conflict.
fn topic_refusal(error: ProvisionError) -> ServerError {
    match error.downcast_ref::<TopicRefusal>() {
        Some(refusal) => AppError::invalid("topic", refusal.to_string()).into(),
        None => AppError::Conflict(reason(&error)).into(),
    }
}

/// Sets how long a topic keeps its messages (the broker deletes older ones at its next
/// maintenance pass).
pub async fn set_retention(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    name: &str,
    retention: &str,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let name = topic::parse_name(name).map_err(|e| AppError::invalid(e.field, e))?;
    let retention = topic::parse_retention(retention)
        .map_err(|e| AppError::invalid(e.field, e))?
        .ok_or_else(|| {
            AppError::invalid(
                "retention_hours",
                "Enter a number of hours, or \"forever\".",
            )
        })?;
    let row = running_instance(state, id, "changed").await?;
    let result = state
        .operations
        .provisioner()
        .set_topic_retention(&row, &name, retention.as_ms())
        .await;
    let said = Retention::describe_ms(Some(retention.as_ms()));
    let (outcome, detail) = match &result {
        Ok(()) => (Outcome::Success, format!("{name}: retention {said}")),
        Err(error) => (Outcome::Failure, format!("{name}: {}", reason(error))),
    };
    audit::record(
        state,
        actor,
        "topic_retention",
        Some(&row.name),
        outcome,
        Some(&detail),
    )
    .await?;
    result.map_err(topic_refusal)
}

/// Deletes one topic and its data, after the operator typed its name again.
pub async fn delete_topic(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    name: &str,
    confirm: &str,
) -> Result<(), ServerError> {
    let actor = who.actor();
    let name = topic::parse_name(name).map_err(|e| AppError::invalid(e.field, e))?;
    if confirm.trim() != name {
        return Err(AppError::invalid(
            "confirm",
            format!("Type the topic's name, {name}, to delete it and its messages."),
        )
        .into());
    }
    let row = running_instance(state, id, "deleted").await?;
    let provisioner = state.operations.provisioner();
    let call = provisioner.delete_topic(&row, &name);
    on_broker(state, actor, &row, "topic_delete", &name, &name, call).await
}

/// `GET /kafka/ca.pem`: the certificate of the authority that signs the instances' TLS
/// certificates, for clients to trust. Any signed-in user (viewers connect clients too).
pub async fn ca_pem(
    axum::extract::State(state): axum::extract::State<AppState>,
    session: tower_sessions::Session,
    caller: super::auth::Caller,
) -> axum::response::Response {
    use super::download::{attachment, refused};
    if let Err(error) =
        super::access::require_in::<super::access::Viewer>(&state, &session, &caller).await
    {
        return refused(error.into_app_error());
    }
    match state.operations.provisioner().ca_certificate().await {
        Ok(pem) => attachment("application/x-pem-file", "byoc-ca.pem", pem.into_bytes()),
        Err(error) => refused(AppError::NotFound(reason(&error))),
    }
}
