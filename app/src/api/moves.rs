//! The server functions of moving data into an instance (#34); types in `crate::wire::moves`.

pub use crate::wire::moves::*;

use super::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::access::{self, Operator, Viewer};
use leptos::prelude::*;

/// The instance's moves, newest first, with their progress.
#[server(prefix = "/api", endpoint = "moves")]
pub async fn moves(id: i64) -> Result<Vec<MoveView>, AppError> {
    use crate::server::{auth, error::respond, nisshi::moves};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Viewer>(&state).await?;
        moves::list(&state, &who, id).await
    })
    .await
}

/// Starts a move of the nisshi storage file `path` (inside the import directory) into the
/// instance.
#[server(prefix = "/api", endpoint = "move_start")]
pub async fn start_move(id: i64, path: String) -> Result<MoveView, AppError> {
    use crate::server::{auth, error::respond, nisshi::moves};
    respond(async move {
        let state = auth::state()?;
        let who = access::require::<Operator>(&state).await?;
        moves::start_named(&state, &who, id, &path).await
    })
    .await
}
