//! The message browser: a page of a topic's messages read through the provisioner, and the
//! per-instance switch that allows it. The console reads as a super user, past the instance's
//! access rules, so reading is for operators and admins only, only where browsing is on (an
//! admin's choice; by default on inside the network, off for internet-facing instances,
//! [`browsing_by_default`]), and every page read is audited (who, topic, range) before the
//! page is returned.

use super::access::{Admin, Authorized, Operator, Viewer};
use super::audit::{self, Outcome};
use super::consumer_groups::{audited_on_cluster, now_ms, serving_for};
use super::provisioner::{reason, FieldRefusal, ProvisionError};
use super::store::{instances, message_browsing};
use super::{AppState, ServerError};
use crate::domain::account::Role;
use crate::domain::message_browse::{self, browsing_by_default, Browse, BrowseInput, Start};
use crate::domain::test_message::{self, TestMessageInput};
use crate::wire::error::AppError;
use crate::wire::messages::{BrowsingState, MessagePage, Written};
use sqlx::SqliteConnection;

async fn instance(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<instances::InstanceRow, ServerError> {
    instances::get(conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no instance {id}.")).into())
}

async fn state_of(
    conn: &mut SqliteConnection,
    row: &instances::InstanceRow,
    role: Role,
) -> Result<BrowsingState, ServerError> {
    let kept = message_browsing::get(conn, row.id).await?;
    let default = browsing_by_default(row.endpoint_exposure);
    let enabled = kept.as_ref().map_or(default, |k| k.enabled);
    let reason = match &kept {
        Some(k) => format!(
            "{} by {} (an admin's choice).",
            if k.enabled { "Turned on" } else { "Turned off" },
            k.changed_by
        ),
        None if default => {
            "On by default: the instance is reachable inside the network only.".to_string()
        }
        None => "Off by default: the instance is reachable from the internet; an admin may \
                 turn it on."
            .to_string(),
    };
    Ok(BrowsingState {
        enabled,
        explicit: kept.is_some(),
        reason,
        can_switch: role.allows(Role::Admin),
        can_read: enabled && role.allows(Role::Operator),
        can_write: role.allows(Role::Operator),
    })
}

/// Whether the instance's messages may be read here, and who may switch it.
pub async fn browsing(
    state: &AppState,
    who: &Authorized<Viewer>,
    id: i64,
) -> Result<BrowsingState, ServerError> {
    let mut conn = state.pool.acquire().await?;
    let row = instance(&mut conn, id).await?;
    state_of(&mut conn, &row, who.principal().role()).await
}

/// An admin turns browsing on or off; recorded with its audit entry in one transaction.
pub async fn set_browsing(
    state: &AppState,
    who: &Authorized<Admin>,
    id: i64,
    enabled: bool,
) -> Result<BrowsingState, ServerError> {
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = instance(&mut tx, id).await?;
    let actor = who.actor();
    message_browsing::set(&mut tx, id, enabled, &actor.name, state.clock.unix()).await?;
    let detail = match enabled {
        true => "message browsing turned on",
        false => "message browsing turned off",
    };
    audit::record_in(
        &mut tx,
        state,
        actor,
        "message_browsing_set",
        Some(&row.name),
        Outcome::Success,
        Some(detail),
    )
    .await?;
    let now = state_of(&mut tx, &row, who.principal().role()).await?;
    tx.commit().await?;
    Ok(now)
}

/// A read as the page and the API give it, checked (bad input names its field).
pub fn parse(state: &AppState, input: &BrowseInput) -> Result<Browse, ServerError> {
    message_browse::parse(input, now_ms(state))
        .map_err(|e| AppError::invalid(e.field, e.message).into())
}

fn refusal(error: ProvisionError) -> ServerError {
    match error.downcast_ref::<FieldRefusal>() {
        Some(r) => AppError::invalid(r.field, &r.message).into(),
        None => AppError::Conflict(reason(&error)).into(),
    }
}

/// What the audit log says of a page read: the topic, what was asked, and the offsets shown
/// per partition.
fn described(browse: &Browse, page: &MessagePage) -> String {
    let asked = match browse.start {
        Start::Newest => format!("newest {}", browse.limit),
        Start::Offset(o) => format!("{} from offset {o}", browse.limit),
        Start::Timestamp(t) => format!("{} from time {t} ms", browse.limit),
    };
    let partition = browse.partition.map_or_else(
        || "every partition".to_string(),
        |p| format!("partition {p}"),
    );
    let mut ranges: std::collections::BTreeMap<i32, (i64, i64)> = Default::default();
    for m in &page.messages {
        let r = ranges.entry(m.partition).or_insert((m.offset, m.offset));
        r.0 = r.0.min(m.offset);
        r.1 = r.1.max(m.offset);
    }
    let shown: Vec<String> = ranges
        .iter()
        .map(|(p, (a, b))| format!("{p}:{a}-{b}"))
        .collect();
    format!(
        "topic {}, {partition}, {asked}: {} message(s) shown{}",
        browse.topic,
        page.messages.len(),
        match shown.is_empty() {
            true => String::new(),
            false => format!(" (partition:offsets {})", shown.join(", ")),
        }
    )
}

/// Reads a page of messages: refused unless browsing is on for the instance and it runs;
/// audited before the page is returned (no entry, no page).
pub async fn read(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    input: &BrowseInput,
) -> Result<MessagePage, ServerError> {
    let browse = parse(state, input)?;
    let switch = {
        let mut conn = state.pool.acquire().await?;
        let row = instance(&mut conn, id).await?;
        state_of(&mut conn, &row, who.principal().role()).await?
    };
    if !switch.enabled {
        return Err(AppError::Conflict(format!(
            "Message browsing is off for this instance. {}",
            switch.reason
        ))
        .into());
    }
    let row = serving_for(state, id, "Messages are read").await?;
    let provisioner = state.operations.provisioner();
    let page = provisioner
        .read_messages(&row, &browse)
        .await
        .map_err(refusal)?;
    let detail = described(&browse, &page);
    audit::record(
        state,
        who.actor(),
        "messages_read",
        Some(&row.name),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    Ok(page)
}

/// Writes a test message to a topic (operators). Audited as requested before Kafka is asked,
/// then with the outcome (the offset), as other changes on the cluster are.
pub async fn write_test_message(
    state: &AppState,
    who: &Authorized<Operator>,
    id: i64,
    input: &TestMessageInput,
) -> Result<Written, ServerError> {
    let message = test_message::parse(input).map_err(|e| AppError::invalid(e.field, e.message))?;
    let row = serving_for(state, id, "Messages are written").await?;
    let detail = format!(
        "topic {}, partition {}, {} byte(s) of value, {} header(s)",
        message.topic,
        message.partition,
        message.value.len(),
        message.headers.len()
    );
    let provisioner = state.operations.provisioner();
    let call = provisioner.write_test_message(&row, &message, now_ms(state));
    let said = |offset: &i64| format!(": at offset {offset}");
    let result = audited_on_cluster(
        state,
        who.actor(),
        &row,
        "test_message_write",
        &detail,
        call,
        said,
    )
    .await?;
    let offset = result.map_err(refusal)?;
    Ok(Written {
        topic: message.topic,
        partition: message.partition,
        offset,
    })
}
