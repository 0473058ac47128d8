//! The license service: which vendor keys are trusted, the clock the license rules use, the
//! current license and its state, and previewing and applying product keys.

pub mod view;

use super::access::{Admin, Authorized};
use super::audit::{self, Actor, Outcome};
use super::page_reads::PageReads;
use super::store::{instance_totals::Totals, license::AppliedKeyRow};
use super::{shell_reads, store, totals, AppState, ServerError};
use crate::domain::license::{self, KeyChange, KeyError, LicensePayload, TrustedKey, VerifiedKey};
use crate::domain::license_state::{self, LicenseStatus};
use crate::wire::error::AppError;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::VerifyingKey;
use std::sync::Arc;
use time::OffsetDateTime;

/// The vendor's public keys, compiled in: a key file that could be swapped on the host would
/// let anyone sign their own license. To rotate, the vendor adds the new key here and ships a
/// release; old keys stay until every key they signed has expired.
const COMPILED_IN_KEYS: &[(&str, &str)] = &[(
    "vendor-2026-01",
    "lygM73IF_8g0Hu8IRyfhTNxZpQLIUUekgzfvG1BuDFE",
)];

/// The compiled-in keys plus those added at run time (`serve --trust-key`, `demo`).
pub fn trusted_keys(added_at_run_time: Vec<TrustedKey>) -> Vec<TrustedKey> {
    let compiled = COMPILED_IN_KEYS.iter().filter_map(|(key_id, public)| {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(public).ok()?.try_into().ok()?;
        Some(TrustedKey {
            key_id: (*key_id).to_string(),
            public_key: VerifyingKey::from_bytes(&bytes).ok()?,
            added_at_run_time: false,
        })
    });
    compiled.chain(added_at_run_time).collect()
}

/// AKU in use: the quota rule over every instance that is not deleted.
pub async fn used_aku(state: &AppState) -> Result<u32, ServerError> {
    Ok(totals::current(state).await?.used_aku())
}

/// The license, its state and the AKU in use as seen on `conn`: inside a write transaction,
/// this is the view the quota check and the write that follows share.
pub async fn status_on(
    state: &AppState,
    conn: &mut sqlx::SqliteConnection,
    now: OffsetDateTime,
) -> Result<(Option<CurrentLicense>, LicenseStatus, u32), ServerError> {
    let current = store::license::current(conn)
        .await?
        .and_then(|row| reverify(state, row));
    let (_, totals) = store::instance_totals::totals(conn).await?;
    let used = totals.used_aku();
    let status = license_state::status(current.as_ref().map(|c| &c.payload), now, used);
    Ok((current, status, used))
}

/// The time the license rules use, and whether the system clock was turned back.
pub async fn license_clock(state: &AppState) -> Result<(OffsetDateTime, bool), ServerError> {
    license_clock_in(state, None).await
}

/// [`license_clock`], with the watermark a page render read with its versions.
async fn license_clock_in(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<(OffsetDateTime, bool), ServerError> {
    let system = state.clock.now();
    let seen = match reads {
        Some(reads) => reads.versions(state).await?.watermark,
        None => store::license::latest_seen(&state.pool).await?,
    };
    let seen = seen.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    let (now, turned_back) = license_state::effective_now(system, seen);
    // Moved forward at most once a minute: reading the license must not mean a write per request.
    let stale = seen.is_none_or(|seen| system >= seen + time::Duration::minutes(1));
    if !turned_back && stale {
        store::license::advance_watermark(&state.pool, system.unix_timestamp()).await?;
    }
    Ok((now, turned_back))
}

/// The applied license, re-verified: a key edited in the database, or signed by a key that is
/// no longer trusted (a run-time key after a restart without it), does not count.
#[derive(Debug, Clone)]
pub struct CurrentLicense {
    pub row: AppliedKeyRow,
    pub payload: LicensePayload,
}

/// The last key verified, with what verifying it gave: verifying is a pure function of the key's
/// text and the trusted keys (fixed for the process' life), so while the stored text is the
/// same the answer is too, and every page need not pay for an Ed25519 check. A key edited in
/// the database has another text and is verified again.
#[derive(Debug, Default)]
pub struct VerifiedCache(std::sync::Mutex<Option<Verified>>);

/// A key's text and what verifying it gave: its fingerprint and payload, or None.
type Verified = (String, Option<(String, LicensePayload)>);

impl VerifiedCache {
    /// `verify(key_text)` as (fingerprint, payload), or None when it does not verify.
    fn verify(
        &self,
        key_text: &str,
        trusted: &[license::TrustedKey],
    ) -> Option<(String, LicensePayload)> {
        if let Ok(cached) = self.0.lock() {
            if let Some((text, answer)) = cached.as_ref() {
                if text == key_text {
                    return answer.clone();
                }
            }
        }
        let answer = license::verify(key_text, trusted)
            .ok()
            .map(|key| (key.fingerprint, key.payload));
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((key_text.to_string(), answer.clone()));
        }
        answer
    }
}

fn reverify(state: &AppState, row: AppliedKeyRow) -> Option<CurrentLicense> {
    match state
        .verified_license
        .verify(&row.key_text, &state.trusted_keys)
    {
        Some((fingerprint, payload)) if fingerprint == row.fingerprint => {
            Some(CurrentLicense { payload, row })
        }
        _ => {
            tracing::warn!(license_id = %row.license_id, "the applied product key no longer verifies; treating the environment as not activated");
            None
        }
    }
}

pub async fn current(state: &AppState) -> Result<Option<CurrentLicense>, ServerError> {
    current_in(state, None).await
}

/// [`current`], with the applied key kept between page renders when `reads` is given.
async fn current_in(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<Option<CurrentLicense>, ServerError> {
    let row = shell_reads::applied_key(state, reads).await?;
    Ok(row.and_then(|row| reverify(state, row)))
}

/// Everything a page needs to know about the license right now.
#[derive(Debug, Clone)]
pub struct LicenseNow {
    pub status: LicenseStatus,
    pub current: Option<CurrentLicense>,
    pub clock_turned_back: bool,
    pub used_aku: u32,
    /// The instances' totals the AKU in use comes from (their counts per state, too).
    pub totals: Arc<Totals>,
}

/// The license right now; read once per page render ([`PageReads`]).
pub async fn now(state: &AppState) -> Result<LicenseNow, ServerError> {
    now_in(state, PageReads::of_render().as_ref()).await
}

/// [`now`], shared with the page render's other reads when `reads` is given.
pub async fn now_in(
    state: &AppState,
    reads: Option<&PageReads>,
) -> Result<LicenseNow, ServerError> {
    match reads {
        Some(reads) => reads.license(|| read_now(state, Some(reads))).await,
        None => read_now(state, None).await,
    }
}

async fn read_now(state: &AppState, reads: Option<&PageReads>) -> Result<LicenseNow, ServerError> {
    let (now, clock_turned_back) = license_clock_in(state, reads).await?;
    let current = current_in(state, reads).await?;
    let totals = totals::current_in(state, reads).await?;
    let used_aku = totals.used_aku();
    let status = license_state::status(current.as_ref().map(|c| &c.payload), now, used_aku);
    Ok(LicenseNow {
        status,
        current,
        clock_turned_back,
        used_aku,
        totals,
    })
}

/// A product key refused by the license rules (signature, installation, dates, order): a
/// refusal by the license, audited (`license_key`, the rule as detail) by
/// [`audit::refusal`].
async fn refused(state: &AppState, actor: &Actor, error: KeyError) -> ServerError {
    let error = ServerError::policy(AppError::invalid("key", error));
    audit::refusal(state, actor, "license_key", None, &error).await;
    error
}

/// Verifies a key and says what applying it would change. Changes nothing (but the audit log).
pub async fn preview(
    state: &AppState,
    who: &Authorized<Admin>,
    text: &str,
) -> Result<(VerifiedKey, KeyChange), ServerError> {
    let actor = who.actor();
    let (now, _) = license_clock(state).await?;
    let current = current(state).await?;
    let checked = license::verify(text, &state.trusted_keys).and_then(|key| {
        let applied = current
            .as_ref()
            .map(|c| (&c.payload, c.row.fingerprint.as_str()));
        license::check_applicable(&key, &state.installation_id, applied, now).map(|()| key)
    });
    match checked {
        Ok(key) => {
            let change = license::preview(
                current.as_ref().map(|c| &c.payload),
                &key.payload,
                used_aku(state).await?,
            );
            Ok((key, change))
        }
        Err(error) => Err(refused(state, actor, error).await),
    }
}

/// Applies a key: activation, renewal, upgrade or downgrade. The check against the current
/// license and the write are one `BEGIN IMMEDIATE` transaction, so two admins applying keys at
/// once cannot both pass the "newer than the applied one" rule against the same old license.
pub async fn apply(
    state: &AppState,
    who: &Authorized<Admin>,
    text: &str,
) -> Result<KeyChange, ServerError> {
    let actor = who.actor();
    let (now, _) = license_clock(state).await?;
    let key = match license::verify(text, &state.trusted_keys) {
        Ok(key) => key,
        Err(error) => return Err(refused(state, actor, error).await),
    };
    let used = used_aku(state).await?;
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    let current = store::license::current(&mut tx)
        .await?
        .and_then(|row| reverify(state, row));
    let applied = current
        .as_ref()
        .map(|c| (&c.payload, c.row.fingerprint.as_str()));
    if let Err(error) = license::check_applicable(&key, &state.installation_id, applied, now) {
        tx.rollback().await?;
        return Err(refused(state, actor, error).await);
    }
    let change = license::preview(current.as_ref().map(|c| &c.payload), &key.payload, used);
    store::license::insert(&mut tx, &key, state.clock.unix(), &actor.name).await?;
    let p = &key.payload;
    let quota = p
        .aku_quota
        .map(|q| format!("{q} AKU"))
        .unwrap_or_else(|| "no AKU cap".into());
    let mut detail = format!(
        "{}: license {} ({}), {quota}, {} to {}",
        change.kind.label(),
        p.license_id,
        p.billing.as_str(),
        p.starts_at.date(),
        p.expires_at.date()
    );
    if key.signed_by_run_time_key {
        detail.push_str(&format!(
            "; signed by the run-time trusted key {:?}, not a compiled-in vendor key",
            p.key_id
        ));
    }
    // A key that binds the environment to a listing starts the link grace (stated here).
    if let Some(note) =
        crate::server::marketplace::grace::activation_note(state, &mut tx, p, state.clock.unix())
            .await?
    {
        detail.push_str(&format!("; {note}"));
    }
    audit::record_in(
        &mut tx,
        state,
        actor,
        "license_applied",
        Some(&p.license_id),
        Outcome::Success,
        Some(&detail),
    )
    .await?;
    tx.commit().await?;
    Ok(change)
}

/// Audits a change of license phase (expiring, expired, lapsed, renewed) once: the noticed
/// phase and its audit entry are written in one transaction. Called by the license watcher
/// every minute and after a key is applied.
pub async fn notice_phase_change(state: &AppState) -> Result<(), ServerError> {
    let phase = now(state).await?.status.phase.as_str();
    // Cheap read first: nearly always nothing changed, and nothing is locked then.
    let previous = store::license::noticed_phase(&mut *state.pool.acquire().await?).await?;
    if previous.as_deref() == Some(phase) {
        return Ok(());
    }
    let mut tx = state.pool.begin_with("BEGIN IMMEDIATE").await?;
    // Read again under the write lock: two watchers never audit the same change twice.
    let previous = store::license::noticed_phase(&mut tx).await?;
    if previous.as_deref() == Some(phase) {
        return Ok(());
    }
    store::license::set_noticed_phase(&mut tx, phase, state.clock.unix()).await?;
    if let Some(previous) = &previous {
        let detail = format!("{previous} -> {phase}");
        audit::record_in(
            &mut tx,
            state,
            &Actor::system(),
            "license_state",
            None,
            Outcome::Success,
            Some(&detail),
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(previous) = previous {
        tracing::info!(%previous, %phase, "license state changed");
    }
    Ok(())
}
