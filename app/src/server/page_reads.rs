//! One page render reads one snapshot of who is signed in and of the license. Rendering a page
//! runs the guard, the shell's session and the page's own data, and each asks for the
//! session's user and the license; without this each asked the database again (17 statements
//! for the instance list, 10 of them repeats).
//!
//! Only page renders (GET or HEAD of a page, marked by [`super::guard::pages_need_session`])
//! carry these reads. A server function called over HTTP, a REST call or a background task
//! reads afresh every time: those may change what they read (sign-in, a key applied) and must
//! then see the change.

use super::license::LicenseNow;
use super::shell_reads::Versions;
use super::store;
use super::store::users::UserRow;
use super::{AppState, ServerError};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The reads a page render shares, each made at most once.
#[derive(Clone, Default)]
pub struct PageReads(Arc<Reads>);

#[derive(Default)]
struct Reads {
    versions: OnceCell<Versions>,
    user: OnceCell<Option<UserRow>>,
    license: OnceCell<LicenseNow>,
}

impl PageReads {
    /// The render's reads, when the current request is a page render.
    pub fn of_render() -> Option<PageReads> {
        super::auth::with_request(|parts| parts.extensions.get::<PageReads>().cloned())?
    }

    /// The versions of what the shell reads ([`shell_reads`]), read the first time.
    pub async fn versions(&self, state: &AppState) -> Result<Versions, ServerError> {
        let read = || async { Ok::<_, ServerError>(store::versions::read(&state.pool).await?) };
        self.0.versions.get_or_try_init(read).await.copied()
    }

    /// The session's user, read by `read` the first time.
    pub async fn user<F>(&self, read: impl FnOnce() -> F) -> Result<Option<UserRow>, ServerError>
    where
        F: Future<Output = Result<Option<UserRow>, ServerError>>,
    {
        self.0.user.get_or_try_init(read).await.cloned()
    }

    /// The license right now, read by `read` the first time.
    pub async fn license<F>(&self, read: impl FnOnce() -> F) -> Result<LicenseNow, ServerError>
    where
        F: Future<Output = Result<LicenseNow, ServerError>>,
    {
        self.0.license.get_or_try_init(read).await.cloned()
    }
}
