//! Reporting the ledger to a cloud marketplace: which marketplace dimension (AWS) or key
//! (Alibaba Cloud) each ledger dimension becomes and in what unit, how the ledger's decimals
//! become the marketplace's whole numbers without losing what is left over, the life of one
//! report in the outbox, and what a subscription that ended does to the environment.

pub mod alibaba;
mod aws;
mod grace;
mod subscription;
pub mod tiers;
use crate::metering::HOUR;
pub use aws::*;
pub use grace::*;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
pub use subscription::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marketplace {
    /// AWS Marketplace, `MeterUsage` (software in the buyer's account): one dimension per call,
    /// a whole-number quantity, at most 6 hours after the hour.
    Aws,
    /// Alibaba Cloud Compute Nest, `PushMeteringData`: fixed keys, whole numbers.
    Alibaba,
}

impl Marketplace {
    pub fn as_str(self) -> &'static str {
        match self {
            Marketplace::Aws => "aws",
            Marketplace::Alibaba => "alibaba",
        }
    }

    pub fn parse(s: &str) -> Option<Marketplace> {
        match s {
            "aws" => Some(Marketplace::Aws),
            "alibaba" => Some(Marketplace::Alibaba),
            _ => None,
        }
    }
}

/// How one ledger dimension is reported: the marketplace's dimension (AWS, as the listing
/// defines it) or key (Alibaba, fixed by the marketplace), its unit, and how many of those
/// units one ledger unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub ledger: &'static str,
    pub key: &'static str,
    pub unit: &'static str,
    pub per_ledger_unit: u64,
}

const fn map(ledger: &'static str, key: &'static str, unit: &'static str, per: u64) -> Mapping {
    Mapping {
        ledger,
        key,
        unit,
        per_ledger_unit: per,
    }
}

/// AWS: the listing's dimensions, in units fine enough that the whole-number quantity loses
/// little (minutes, MiB); prices on the listing are set per these units.
const AWS: &[Mapping] = &[
    map("aku_hours", "AkuMinutes", "AKU-minute", 60),
    map("data_in_gib", "DataInMiB", "MiB", 1024),
    map("data_out_gib", "DataOutMiB", "MiB", 1024),
    map(
        "data_retained_gib_hours",
        "DataRetainedMiBHours",
        "MiB-hour",
        1024,
    ),
    map("uptime_hours_dev", "UptimeMinutesDev", "minute", 60),
    map("uptime_hours_pro", "UptimeMinutesPro", "minute", 60),
    map(
        "uptime_hours_enterprise",
        "UptimeMinutesEnterprise",
        "minute",
        60,
    ),
];

/// Alibaba Cloud: what seed 001 says Alibaba bills, AKU, through the fixed key `Period`
/// (seconds, billed per hour): AKU-seconds, so that the listing's hourly price is per
/// AKU-hour. Bytes and bits (`Storage`, `NetworkIn`/`NetworkOut`) of a real cluster overflow
/// the documented integer `Value` within an hour, and are not what the listing bills: not
/// reported. An hour's `Period` fits up to 596,523 AKU ([`alibaba::MAX_AKU_PER_HOUR`]).
const ALIBABA: &[Mapping] = &[map("aku_hours", "Period", "AKU-second", 3600)];

/// The mapping of a ledger dimension (`None`: not reported to that marketplace).
pub fn mapping(marketplace: Marketplace, ledger_dimension: &str) -> Option<Mapping> {
    let table = match marketplace {
        Marketplace::Aws => AWS,
        Marketplace::Alibaba => ALIBABA,
    };
    table.iter().copied().find(|m| m.ledger == ledger_dimension)
}

/// Every mapping of a marketplace, for the page and the README.
pub fn mappings(marketplace: Marketplace) -> &'static [Mapping] {
    match marketplace {
        Marketplace::Aws => AWS,
        Marketplace::Alibaba => ALIBABA,
    }
}

/// One hour's report of one dimension in whole units, and what is carried to the next hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    pub quantity: u64,
    /// In the marketplace's units, from 0 (inclusive) to 1 (exclusive); 0 after a month's
    /// last hour.
    pub carry: Decimal,
}

/// **The conversion rule.** An hour's ledger quantity times the unit factor, plus what the
/// previous hour carried, is reported rounded down; the fraction is carried to the next hour
/// of the same dimension. The last hour of a month reports its total rounded half up and
/// carries nothing, so no remainder crosses a month: a month's reported total differs from
/// the ledger's (in marketplace units) by less than half a unit per dimension. A negative or
/// unrepresentable quantity is an error, never a default.
pub fn convert(
    ledger_quantity: Decimal,
    mapping: Mapping,
    carried: Decimal,
    last_hour_of_month: bool,
) -> Result<Converted, String> {
    if ledger_quantity.is_sign_negative() || carried.is_sign_negative() {
        return Err(format!(
            "{}: a negative quantity cannot be reported ({ledger_quantity}, carried {carried})",
            mapping.ledger
        ));
    }
    let total = ledger_quantity
        .checked_mul(Decimal::from(mapping.per_ledger_unit))
        .and_then(|t| t.checked_add(carried))
        .ok_or_else(|| format!("{}: the quantity overflows", mapping.ledger))?;
    let strategy = if last_hour_of_month {
        RoundingStrategy::MidpointAwayFromZero
    } else {
        RoundingStrategy::ToZero
    };
    let whole = total.round_dp_with_strategy(0, strategy);
    let quantity = whole
        .to_u64()
        .ok_or_else(|| format!("{}: {whole} is not a whole number of units", mapping.ledger))?;
    let carry = if last_hour_of_month {
        Decimal::ZERO
    } else {
        total - whole
    };
    Ok(Converted { quantity, carry })
}

/// The start of the month (UTC) of the hour starting at `hour_start`.
pub fn month_start(hour_start: i64) -> i64 {
    time::OffsetDateTime::from_unix_timestamp(hour_start)
        .ok()
        .and_then(|t| t.replace_day(1).ok())
        .map(|t| t.replace_time(time::Time::MIDNIGHT).unix_timestamp())
        .unwrap_or(hour_start)
}

/// Whether the hour starting at `hour_start` is the last of its month (UTC).
pub fn last_hour_of_month(hour_start: i64) -> bool {
    let month = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(|d| (d.year(), d.month()))
            .ok()
    };
    month(hour_start) != month(hour_start + HOUR)
}

/// AWS refuses usage timestamped more than 6 hours back.
pub const AWS_WINDOW_S: i64 = 6 * HOUR;

/// Where one report (one hour, one dimension, one link) stands in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportState {
    /// To send (first time, or after a retryable failure: not before `not_before`).
    Pending {
        attempts: u32,
        not_before: i64,
    },
    /// Recorded before a call whose answer is not recorded yet. Found so after a restart, it
    /// is resent where the call is idempotent (AWS: same `ClientToken`) and is `Unknown`
    /// where it is not (Alibaba).
    Sending {
        attempts: u32,
    },
    Accepted,
    /// The marketplace had it already (AWS: the same `ClientToken` with the same body).
    Duplicate,
    Rejected(String),
    /// Too old for the marketplace's window: listed on the usage page, exported, never sent.
    Late,
    /// Alibaba, after a crash between the call and its record: the marketplace may or may not
    /// have it. Shown to the admin; never sent again without their decision.
    Unknown,
    /// The link was removed before the report was sent: kept and shown, never dropped.
    Unsent,
}

impl ReportState {
    /// Every state's string form, as [`ReportState::kind`] writes them.
    pub const KINDS: [&'static str; 8] = [
        "pending",
        "sending",
        "accepted",
        "duplicate",
        "rejected",
        "late",
        "unknown",
        "unsent",
    ];

    /// The state's one string form (the outbox's `state` column).
    pub fn kind(&self) -> &'static str {
        match self {
            ReportState::Pending { .. } => "pending",
            ReportState::Sending { .. } => "sending",
            ReportState::Accepted => "accepted",
            ReportState::Duplicate => "duplicate",
            ReportState::Rejected(_) => "rejected",
            ReportState::Late => "late",
            ReportState::Unknown => "unknown",
            ReportState::Unsent => "unsent",
        }
    }

    /// The state back from its columns. A kind that is not one of the states, or a rejection
    /// without its reason, is an error naming the value: never a default.
    pub fn from_columns(
        kind: &str,
        attempts: i64,
        not_before: i64,
        reason: Option<&str>,
    ) -> Result<ReportState, String> {
        let attempts = u32::try_from(attempts)
            .map_err(|_| format!("attempts {attempts} is not a count of tries"))?;
        Ok(match kind {
            "pending" => ReportState::Pending {
                attempts,
                not_before,
            },
            "sending" => ReportState::Sending { attempts },
            "accepted" => ReportState::Accepted,
            "duplicate" => ReportState::Duplicate,
            "rejected" => ReportState::Rejected(
                reason
                    .ok_or("a rejected report without its reason")?
                    .to_string(),
            ),
            "late" => ReportState::Late,
            "unknown" => ReportState::Unknown,
            "unsent" => ReportState::Unsent,
            other => return Err(format!("{other:?} is not a report state")),
        })
    }

    /// Whether the marketplace has this report (it is billed).
    pub fn billed(&self) -> bool {
        matches!(self, ReportState::Accepted | ReportState::Duplicate)
    }

    /// Whether the report can still be sent by the reporter without anyone deciding.
    pub fn open(&self) -> bool {
        matches!(
            self,
            ReportState::Pending { .. } | ReportState::Sending { .. }
        )
    }
}

/// What an admin may do to one report: retry a rejected one (the reporter sends it again,
/// or marks it late when the window has passed); settle an `Unknown` one either way after
/// looking at the marketplace's bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminDecision {
    Retry,
    /// The marketplace's bill shows it: count it as accepted.
    SeenBilled,
    /// The bill does not show it: send it again.
    SendAgain,
}

/// The state an admin's decision leads to, or why it does not apply to this report.
pub fn decide(state: &ReportState, decision: AdminDecision) -> Result<ReportState, String> {
    let again = ReportState::Pending {
        attempts: 0,
        not_before: 0,
    };
    match (state, decision) {
        (ReportState::Rejected(_), AdminDecision::Retry) => Ok(again),
        (ReportState::Unknown, AdminDecision::SendAgain) => Ok(again),
        (ReportState::Unknown, AdminDecision::SeenBilled) => Ok(ReportState::Accepted),
        (state, AdminDecision::Retry) => Err(format!(
            "only a rejected report can be retried; this one is {}",
            state.kind()
        )),
        (state, _) => Err(format!(
            "only a report whose outcome is unknown can be settled; this one is {}",
            state.kind()
        )),
    }
}

/// The idempotency key of one report (AWS `ClientToken`): derived from the ledger records the
/// report sums (their `record_id`s) and the link, so every send of the same report carries the
/// same key, and a report that sums other records (another link, another hour) another one.
/// 64 characters of `[0-9a-f-]`, within AWS's limits for the token.
pub fn client_token(
    link_id: i64,
    hour_start: i64,
    dimension: &str,
    record_ids: &[String],
) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&String> = record_ids.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    hasher.update(format!("report|{link_id}|{hour_start}|{dimension}").as_bytes());
    for id in sorted {
        hasher.update(b"|");
        hasher.update(id.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Duplicate,
    /// Throttling or a server error: try again later.
    Retryable(String),
    /// The host may not report (AWS `UnauthorizedException`/`AccessDeniedException`): tried
    /// again later like [`Answer::Retryable`], and it starts the link grace
    /// ([`link_duty`]): a host that lost its permission is not metered for free.
    PermissionDenied(String),
    /// The marketplace refused this record (a bad dimension, the same token with another body,
    /// a timestamp out of bounds): not sent again.
    Refused(String),
    /// The customer is no longer entitled: the record waits (it is billed if they subscribe
    /// again within the window) and the link turns not entitled.
    NotEntitled,
    /// The marketplace's window for this hour has passed (AWS `TimestampOutOfBounds`).
    OutOfWindow,
    /// The call may have reached the marketplace but its answer did not come back (a
    /// timeout, a broken connection, a server error): it may or may not be billed.
    Unconfirmed(String),
}

/// Back-off after `attempts` failed tries: 30 s doubling, at most 15 minutes.
pub fn retry_delay(attempts: u32) -> i64 {
    (30_i64 << attempts.min(5)).min(15 * 60)
}

/// Whether a report of the hour starting at `hour_start` can still be sent at `now`.
pub fn within_window(marketplace: Marketplace, hour_start: i64, now: i64) -> bool {
    match marketplace {
        // The record's timestamp is the hour's start.
        Marketplace::Aws => now - hour_start <= AWS_WINDOW_S,
        // Alibaba states no window for PushMeteringData.
        Marketplace::Alibaba => true,
    }
}

/// The state after `answer` to a call made at `now` (attempt number `attempts`, from 1). An
/// unconfirmed call is sent again under the same `ClientToken` on AWS (harmless); on Alibaba,
/// which has no idempotency key, it is `Unknown` and waits for the admin. `uncertain`: an
/// attempt may have reached it, so a passed window makes it `Unknown` ([`out_of_window`]).
pub fn after_answer(
    marketplace: Marketplace,
    answer: &Answer,
    attempts: u32,
    now: i64,
    uncertain: bool,
) -> ReportState {
    match answer {
        Answer::Unconfirmed(_) => match marketplace {
            Marketplace::Aws => ReportState::Pending {
                attempts,
                not_before: now + retry_delay(attempts),
            },
            Marketplace::Alibaba => ReportState::Unknown,
        },
        Answer::Accepted => ReportState::Accepted,
        Answer::Duplicate => ReportState::Duplicate,
        Answer::Refused(why) => ReportState::Rejected(why.clone()),
        Answer::OutOfWindow => out_of_window(uncertain),
        Answer::Retryable(_) | Answer::PermissionDenied(_) | Answer::NotEntitled => {
            ReportState::Pending {
                attempts,
                not_before: now + retry_delay(attempts),
            }
        }
    }
}

/// What a report that can no longer be sent (past the window) becomes: `Late` (listed and
/// exported, to bill another way), or `Unknown` when an earlier attempt may have reached the
/// marketplace (billing it another way could bill it twice: the admin looks first).
pub fn out_of_window(uncertain: bool) -> ReportState {
    if uncertain {
        ReportState::Unknown
    } else {
        ReportState::Late
    }
}

/// Whether an answer leaves it open whether the marketplace has the report.
pub fn uncertain(answer: &Answer) -> bool {
    matches!(answer, Answer::Unconfirmed(_))
}

/// What a report found in `Sending` after a restart becomes.
pub fn after_restart(marketplace: Marketplace, attempts: u32) -> ReportState {
    match marketplace {
        // The same ClientToken makes a resend harmless: AWS answers Duplicate if it had it.
        Marketplace::Aws => ReportState::Pending {
            attempts,
            not_before: 0,
        },
        Marketplace::Alibaba => ReportState::Unknown,
    }
}

#[cfg(test)]
mod tests;
