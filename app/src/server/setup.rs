//! First-run setup: the environment and its first administrator, exactly once.

use super::audit::{self, Actor, Outcome};
use super::password_hash::is_common_password;
use super::{store, AppState, ServerError};
use crate::domain::{account::Username, environment, password};
use crate::wire::error::AppError;

pub struct SetupForm {
    pub username: String,
    pub password: String,
    pub password_confirm: String,
    pub environment_name: String,
    pub cloud_provider: String,
    pub region: String,
}

/// Validates every field (the first broken rule, in form order, is reported with its field),
/// then writes environment and administrator in one transaction.
pub async fn complete(
    state: &AppState,
    client_addr: &str,
    form: SetupForm,
) -> Result<Username, ServerError> {
    let username = Username::parse(&form.username).map_err(|e| AppError::invalid("username", e))?;
    password::check_length(&form.password).map_err(|e| AppError::invalid("password", e))?;
    password::check_confirmation(&form.password, &form.password_confirm)
        .map_err(|e| AppError::invalid("password_confirm", e))?;
    let name = environment::parse_name(&form.environment_name)
        .map_err(|e| AppError::invalid("environment_name", e))?;
    let (provider, region) = environment::parse_location(&form.cloud_provider, &form.region)
        .map_err(|e| match e {
            environment::EnvironmentError::UnknownProvider => {
                AppError::invalid("cloud_provider", e)
            }
            e => AppError::invalid("region", e),
        })?;
    if is_common_password(&form.password, &[username.as_str(), &name]) {
        return Err(AppError::invalid("password", password::PasswordError::Common).into());
    }
    let actor = Actor {
        name: username.to_string(),
        addr: client_addr.to_string(),
    };
    // Refuse early (and cheaply) when setup is done; the transaction below decides races.
    if is_done(state).await? {
        return Err(already_done(state, &actor).await);
    }
    let hash = state.hasher.hash(form.password).await?;
    // The environment, its administrator and the audit entry: one transaction.
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let outcome = store::environment::complete_setup(
        &mut tx,
        store::environment::NewSetup {
            display_name: &name,
            cloud_provider: provider.id,
            region: region.id,
            admin_username: username.as_str(),
            admin_password_hash: &hash,
            now: state.clock.unix(),
        },
    )
    .await?;
    match outcome {
        store::environment::SetupOutcome::Done { .. } => {
            let detail = format!("environment {name:?} on {} {}", provider.id, region.id);
            audit::record_in(
                &mut tx,
                state,
                &actor,
                "setup",
                Some(&name),
                Outcome::Success,
                Some(&detail),
            )
            .await?;
            tx.commit().await?;
            Ok(username)
        }
        store::environment::SetupOutcome::AlreadyDone => {
            tx.rollback().await?;
            Err(already_done(state, &actor).await)
        }
    }
}

/// Whether setup is done. Nothing undoes it, so once seen done it is not asked of the
/// database again (every page's guard asks).
pub async fn is_done(state: &AppState) -> Result<bool, ServerError> {
    if state.set_up.get().is_some() {
        return Ok(true);
    }
    let done = store::environment::is_set_up(&state.pool).await?;
    if done {
        let _ = state.set_up.set(());
    }
    Ok(done)
}

/// Setup is allowed once: a second one is refused by that rule (409), and audited as a
/// refusal ([`audit::refusal`]): someone tried to take over a console already set up.
async fn already_done(state: &AppState, actor: &Actor) -> ServerError {
    let error = ServerError::policy(AppError::Conflict(
        "This environment is already set up. Sign in instead.".into(),
    ));
    audit::refusal(state, actor, "setup", None, &error).await;
    error
}
