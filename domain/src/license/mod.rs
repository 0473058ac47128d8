//! Product keys: the format, signing and verification, and the rules for applying one.
//!
//! A key is one line of text: `BYOC1.<payload>.<signature>`, where `<payload>` is the
//! base64url (no padding) of the JSON [`LicensePayload`] and `<signature>` the base64url of an
//! Ed25519 signature over the ASCII text `BYOC1.<payload>`. The format is described for people
//! in `docs/product-key.md`.

mod change;
pub use change::{preview, ChangeKind, KeyChange};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

pub const PREFIX: &str = "BYOC1";
pub const FORMAT_VERSION: u32 = 1;
/// Instance sizes the product allows at all; a key may lower the maximum.
pub const MIN_INSTANCE_AKU: u32 = 3;
pub const MAX_INSTANCE_AKU: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BillingModel {
    Prepaid,
    Payg,
    Trial,
}

impl BillingModel {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingModel::Prepaid => "prepaid",
            BillingModel::Payg => "payg",
            BillingModel::Trial => "trial",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BillingModel::Prepaid => "Prepaid subscription",
            BillingModel::Payg => "Pay-as-you-go",
            BillingModel::Trial => "Trial",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prepaid" => Some(BillingModel::Prepaid),
            "payg" => Some(BillingModel::Payg),
            "trial" => Some(BillingModel::Trial),
            _ => None,
        }
    }
}

/// One tier of a pay-as-you-go price: from `from_quantity` units used in the month on, each
/// unit costs `unit_price` (exact decimal, in the key's currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceTier {
    pub from_quantity: u64,
    pub unit_price: Decimal,
}

/// The tiered unit prices of one billing dimension (e.g. `aku_hours`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DimensionPrice {
    pub dimension: String,
    pub tiers: Vec<PriceTier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pricing {
    pub currency: String,
    pub dimensions: Vec<DimensionPrice>,
}

/// What a product key grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicensePayload {
    pub format: u32,
    /// Which vendor signing key signed it.
    pub key_id: String,
    pub license_id: String,
    pub customer: String,
    pub installation_id: String,
    pub billing: BillingModel,
    /// The AKU quota; for pay-as-you-go an optional cap (None: no cap).
    pub aku_quota: Option<u32>,
    pub max_aku_per_instance: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub grace_days: u32,
    /// Pay-as-you-go unit prices; absent for other models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// The marketplace listing a pay-as-you-go license is billed through (optional: keys
    /// issued before it existed, and keys billed otherwise, have none and still verify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
}

/// A marketplace listing: AWS Marketplace (its product code) or Alibaba Cloud Compute Nest
/// (its service id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    /// `aws` or `alibaba`.
    pub marketplace: String,
    /// The AWS product code, or the Compute Nest service id.
    pub id: String,
}

impl Listing {
    /// `aws:PRODUCT_CODE` or `alibaba:SERVICE_ID` (the vendor command line's form).
    pub fn parse(text: &str) -> Result<Listing, String> {
        let (marketplace, id) = text
            .split_once(':')
            .ok_or("give the listing as aws:PRODUCT_CODE or alibaba:SERVICE_ID")?;
        let listing = Listing {
            marketplace: marketplace.trim().to_string(),
            id: id.trim().to_string(),
        };
        listing.validate()?;
        Ok(listing)
    }

    fn validate(&self) -> Result<(), String> {
        if crate::marketplace::Marketplace::parse(&self.marketplace).is_none() {
            return Err(format!(
                "the listing's marketplace {:?} is not aws or alibaba",
                self.marketplace
            ));
        }
        if !marketplace_id_ok(&self.id) {
            return Err(format!(
                "the listing id {:?} must be 1 to 128 of letters, digits, '-', '_' and '.'",
                self.id
            ));
        }
        Ok(())
    }
}

/// The form of a marketplace identifier (a product code, a service or service instance id):
/// 1 to 128 of letters, digits, `-`, `_` and `.`.
pub fn marketplace_id_ok(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a key was refused. Each rule has its own variant and a message an operator understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    NotAKey(String),
    UnsupportedVersion(String),
    UnknownSigningKey(String),
    BadSignature,
    InvalidContent(String),
    OtherInstallation {
        key_installation: String,
    },
    NotYetStarted {
        starts_at: OffsetDateTime,
    },
    Expired {
        expired_at: OffsetDateTime,
    },
    OlderThanApplied {
        key_issued: OffsetDateTime,
        applied_issued: OffsetDateTime,
    },
    AlreadyApplied,
}

fn day(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotAKey(why) => write!(
                f,
                "This is not a product key ({why}). Paste the whole key as the vendor sent it; it starts with {PREFIX}."
            ),
            KeyError::UnsupportedVersion(found) => write!(
                f,
                "This product key has format {found:?}, which this console does not support (it reads {PREFIX}). Update the console or ask the vendor for a {PREFIX} key."
            ),
            KeyError::UnknownSigningKey(kid) => write!(
                f,
                "This product key is signed with a vendor key ({kid:?}) that this console does not trust."
            ),
            KeyError::BadSignature => write!(
                f,
                "This product key's signature does not match its content: it was altered or damaged. Paste it again exactly as received."
            ),
            KeyError::InvalidContent(why) => write!(f, "This product key's content is invalid: {why}."),
            KeyError::OtherInstallation { key_installation } => write!(
                f,
                "This product key belongs to another installation ({key_installation}), not this one. Send this console's Installation ID to the vendor."
            ),
            KeyError::NotYetStarted { starts_at } => write!(
                f,
                "This product key is valid only from {} (UTC); apply it on or after that day.",
                day(*starts_at)
            ),
            KeyError::Expired { expired_at } => {
                write!(f, "This product key expired on {} (UTC).", day(*expired_at))
            }
            KeyError::OlderThanApplied { key_issued, applied_issued } => write!(
                f,
                "This product key was issued on {}, before the license already applied (issued {}). An older key cannot replace a newer one.",
                day(*key_issued),
                day(*applied_issued)
            ),
            KeyError::AlreadyApplied => write!(f, "This product key is already applied."),
        }
    }
}

/// A vendor public key the console accepts signatures from.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key_id: String,
    pub public_key: VerifyingKey,
    /// Added at run time (tests, demo) rather than compiled in.
    pub added_at_run_time: bool,
}

/// A key whose signature checked out against a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub payload: LicensePayload,
    /// The key text, normalised (no white space).
    pub text: String,
    /// SHA-256 of the normalised text, hex: identifies this exact key.
    pub fingerprint: String,
    pub signed_by_run_time_key: bool,
}

impl LicensePayload {
    /// Rules on the content itself, checked when issuing and when verifying.
    pub fn validate(&self) -> Result<(), KeyError> {
        let bad = |why: &str| Err(KeyError::InvalidContent(why.to_string()));
        if self.format != FORMAT_VERSION {
            return Err(KeyError::UnsupportedVersion(format!(
                "format {}",
                self.format
            )));
        }
        if self.license_id.trim().is_empty() {
            return bad("the license id is empty");
        }
        if self.customer.trim().is_empty() {
            return bad("the customer name is empty");
        }
        if self.installation_id.trim().is_empty() {
            return bad("the Installation ID is empty");
        }
        match (self.billing, self.aku_quota) {
            (BillingModel::Payg, Some(0)) => return bad("the AKU cap is zero"),
            (BillingModel::Payg, _) => {}
            (_, None) => return bad("the AKU quota is missing"),
            (_, Some(0)) => return bad("the AKU quota is zero"),
            (_, Some(_)) => {}
        }
        if !(MIN_INSTANCE_AKU..=MAX_INSTANCE_AKU).contains(&self.max_aku_per_instance) {
            return bad(&format!(
                "the maximum AKU per instance must be {MIN_INSTANCE_AKU} to {MAX_INSTANCE_AKU}"
            ));
        }
        if self.expires_at <= self.starts_at {
            return bad("it expires before it starts");
        }
        if self.grace_days > 365 {
            return bad("the grace period is longer than a year");
        }
        match (&self.pricing, self.billing) {
            (None, BillingModel::Payg) => return bad("a pay-as-you-go key needs unit prices"),
            (Some(_), BillingModel::Prepaid | BillingModel::Trial) => {
                return bad("only pay-as-you-go keys carry unit prices")
            }
            (Some(pricing), BillingModel::Payg) => pricing.validate()?,
            (None, _) => {}
        }
        match (&self.listing, self.billing) {
            (Some(_), BillingModel::Prepaid | BillingModel::Trial) => {
                return bad("only pay-as-you-go keys name a marketplace listing")
            }
            (Some(listing), BillingModel::Payg) => {
                listing.validate().map_err(KeyError::InvalidContent)?
            }
            (None, _) => {}
        }
        Ok(())
    }
}

impl Pricing {
    fn validate(&self) -> Result<(), KeyError> {
        let bad = |why: String| Err(KeyError::InvalidContent(why));
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return bad(format!(
                "the currency {:?} is not a three-letter code",
                self.currency
            ));
        }
        if self.dimensions.is_empty() {
            return bad("the price list is empty".into());
        }
        for d in &self.dimensions {
            let Some(first) = d.tiers.first() else {
                return bad(format!("{} has no price tiers", d.dimension));
            };
            if first.from_quantity != 0 {
                return bad(format!("the first tier of {} must start at 0", d.dimension));
            }
            if d.tiers
                .windows(2)
                .any(|w| w[1].from_quantity <= w[0].from_quantity)
            {
                return bad(format!(
                    "the tiers of {} must start at increasing quantities",
                    d.dimension
                ));
            }
            if d.tiers.iter().any(|t| t.unit_price.is_sign_negative()) {
                return bad(format!("{} has a negative price", d.dimension));
            }
        }
        Ok(())
    }
}

/// `t` plus `months` calendar months; the day is clamped to the target month's length
/// (Jan 31 + 1 month = Feb 28 or 29).
pub fn add_months(t: OffsetDateTime, months: u32) -> Option<OffsetDateTime> {
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(t.replace_date(date))
}

/// Signs `payload` into key text (the vendor side).
pub fn issue(payload: &LicensePayload, signing_key: &SigningKey) -> Result<String, KeyError> {
    payload.validate()?;
    let json = serde_json::to_vec(payload).map_err(|e| KeyError::InvalidContent(e.to_string()))?;
    let signed_part = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
    let signature = signing_key.sign(signed_part.as_bytes());
    Ok(format!(
        "{signed_part}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// Key text with white space removed: mail clients wrap long lines and add spaces.
pub fn normalise(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Parses and verifies key text against `trusted`. Does not look at the clock or at what is
/// already applied: that is [`check_applicable`].
pub fn verify(text: &str, trusted: &[TrustedKey]) -> Result<VerifiedKey, KeyError> {
    let text = normalise(text);
    if text.is_empty() {
        return Err(KeyError::NotAKey("the field is empty".into()));
    }
    let mut parts = text.split('.');
    let (Some(prefix), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::NotAKey(
            "it does not have three parts separated by dots".into(),
        ));
    };
    if prefix != PREFIX {
        return Err(if prefix.starts_with("BYOC") {
            KeyError::UnsupportedVersion(prefix.chars().take(16).collect())
        } else {
            KeyError::NotAKey(format!("it does not start with {PREFIX}"))
        });
    }
    let payload_json = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| KeyError::NotAKey("its content is not base64url".into()))?;
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| KeyError::NotAKey("its signature is not base64url".into()))?;
    let signature = Signature::from_slice(&signature_bytes)
        .map_err(|_| KeyError::NotAKey("its signature has the wrong length".into()))?;
    // The key id is read before the signature is checked, only to choose the public key.
    let payload: LicensePayload = serde_json::from_slice(&payload_json)
        .map_err(|_| KeyError::NotAKey("its content is not a license".into()))?;
    let key = trusted
        .iter()
        .find(|k| k.key_id == payload.key_id)
        .ok_or_else(|| KeyError::UnknownSigningKey(payload.key_id.chars().take(64).collect()))?;
    let signed_part = &text[..PREFIX.len() + 1 + payload_b64.len()];
    key.public_key
        .verify(signed_part.as_bytes(), &signature)
        .map_err(|_| KeyError::BadSignature)?;
    payload.validate()?;
    let fingerprint = crate::digest::sha256_hex(text.as_bytes());
    Ok(VerifiedKey {
        payload,
        fingerprint,
        text,
        signed_by_run_time_key: key.added_at_run_time,
    })
}

/// The rules that depend on this installation, the clock and the license already applied.
/// `applied` is the current license and the fingerprint of its key.
pub fn check_applicable(
    key: &VerifiedKey,
    installation_id: &str,
    applied: Option<(&LicensePayload, &str)>,
    now: OffsetDateTime,
) -> Result<(), KeyError> {
    let p = &key.payload;
    if p.installation_id != installation_id {
        return Err(KeyError::OtherInstallation {
            key_installation: p.installation_id.clone(),
        });
    }
    if let Some((current, fingerprint)) = applied {
        if fingerprint == key.fingerprint {
            return Err(KeyError::AlreadyApplied);
        }
        // A key issued before (or with) the applied one cannot replace it: no replaying an old
        // key to undo a downgrade or to bring back a lapsed license.
        if p.issued_at <= current.issued_at {
            return Err(KeyError::OlderThanApplied {
                key_issued: p.issued_at,
                applied_issued: current.issued_at,
            });
        }
    }
    if now < p.starts_at {
        return Err(KeyError::NotYetStarted {
            starts_at: p.starts_at,
        });
    }
    if now >= p.expires_at {
        return Err(KeyError::Expired {
            expired_at: p.expires_at,
        });
    }
    Ok(())
}

/// A valid prepaid payload for `installation_id` (100 AKU, 2026-01-01 to 2027-01-01), for
/// tests outside this crate.
pub fn tests_support_payload(installation_id: &str) -> LicensePayload {
    LicensePayload {
        format: FORMAT_VERSION,
        key_id: "vendor-a".into(),
        license_id: "LIC-1".into(),
        customer: "Acme".into(),
        installation_id: installation_id.into(),
        billing: BillingModel::Prepaid,
        aku_quota: Some(100),
        max_aku_per_instance: MAX_INSTANCE_AKU,
        issued_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        starts_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        expires_at: time::macros::datetime!(2027-01-01 00:00 UTC),
        grace_days: 14,
        pricing: None,
        listing: None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
