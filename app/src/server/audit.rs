//! Writing audit entries from the services: who acted, from where.

use super::{store, AppState, ServerError};

/// The person (or would-be person) behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in user name, or the name typed at a failed sign-in.
    pub name: String,
    /// The client's address as the server saw it.
    pub addr: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Failure,
    /// Not attempted: throttled, forbidden, or conflicting with the state.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

pub async fn record(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: Option<&str>,
) -> Result<(), ServerError> {
    store::audit::append(
        &state.pool,
        store::audit::Entry {
            at: state.clock.unix(),
            actor: &actor.name,
            action,
            target,
            client_addr: Some(&actor.addr),
            outcome: outcome.as_str(),
            detail,
        },
    )
    .await?;
    Ok(())
}
