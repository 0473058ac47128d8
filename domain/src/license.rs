//! Product keys: the format, signing and verification, and the rules for applying one.
//!
//! A key is one line of text: `BYOC1.<payload>.<signature>`, where `<payload>` is the
//! base64url (no padding) of the JSON [`LicensePayload`] and `<signature>` the base64url of an
//! Ed25519 signature over the ASCII text `BYOC1.<payload>`. The format is described for people
//! in `docs/product-key.md`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use time::OffsetDateTime;

pub const PREFIX: &str = "BYOC1";
pub const FORMAT_VERSION: u32 = 1;
/// Instance sizes the product allows at all; a key may lower the maximum.
pub const MIN_INSTANCE_AKU: u32 = 3;
pub const MAX_INSTANCE_AKU: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct PriceTier {
    pub from_quantity: u64,
    pub unit_price: Decimal,
}

/// The tiered unit prices of one billing dimension (e.g. `aku_hours`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionPrice {
    pub dimension: String,
    pub tiers: Vec<PriceTier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    pub currency: String,
    pub dimensions: Vec<DimensionPrice>,
}

/// What a product key grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let id_ok = (1..=128).contains(&self.id.len())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(format!(
                "the listing id {:?} must be 1 to 128 of letters, digits, '-', '_' and '.'",
                self.id
            ));
        }
        Ok(())
    }
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
    let fingerprint = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
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

/// What applying a key would change, for the confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub kind: ChangeKind,
    pub billing_from: Option<BillingModel>,
    pub billing_to: BillingModel,
    pub quota_from: Option<Option<u32>>,
    pub quota_to: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_to: OffsetDateTime,
    /// AKU in use now, and by how much the new quota would be exceeded.
    pub used_aku: u32,
    pub over_quota_by: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    Activation,
    Renewal,
    Upgrade,
    Downgrade,
    Change,
}

impl ChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Activation => "Activation",
            ChangeKind::Renewal => "Renewal",
            ChangeKind::Upgrade => "Upgrade",
            ChangeKind::Downgrade => "Downgrade",
            ChangeKind::Change => "Change",
        }
    }
}

/// A quota of None (uncapped pay-as-you-go) is larger than any number.
fn quota_rank(q: Option<u32>) -> u64 {
    q.map(u64::from).unwrap_or(u64::MAX)
}

pub fn preview(
    current: Option<&LicensePayload>,
    next: &LicensePayload,
    used_aku: u32,
) -> KeyChange {
    let kind = match current {
        None => ChangeKind::Activation,
        Some(c) if quota_rank(next.aku_quota) > quota_rank(c.aku_quota) => ChangeKind::Upgrade,
        Some(c) if quota_rank(next.aku_quota) < quota_rank(c.aku_quota) => ChangeKind::Downgrade,
        Some(c) if next.expires_at > c.expires_at => ChangeKind::Renewal,
        Some(_) => ChangeKind::Change,
    };
    KeyChange {
        kind,
        billing_from: current.map(|c| c.billing),
        billing_to: next.billing,
        quota_from: current.map(|c| c.aku_quota),
        quota_to: next.aku_quota,
        expires_from: current.map(|c| c.expires_at),
        expires_to: next.expires_at,
        used_aku,
        over_quota_by: next
            .aku_quota
            .and_then(|q| used_aku.checked_sub(q))
            .filter(|&n| n > 0),
    }
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
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    pub fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub fn trusted(seed: u8, kid: &str) -> TrustedKey {
        TrustedKey {
            key_id: kid.into(),
            public_key: signing_key(seed).verifying_key(),
            added_at_run_time: false,
        }
    }

    pub fn payload() -> LicensePayload {
        tests_support_payload("inst-1")
    }

    fn key(p: &LicensePayload) -> String {
        issue(p, &signing_key(7)).unwrap()
    }

    const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

    #[test]
    fn round_trip_issue_parse_verify() {
        let text = key(&payload());
        assert!(text.starts_with("BYOC1."));
        assert!(!text.contains(char::is_whitespace));
        let verified = verify(&text, &[trusted(7, "vendor-a")]).unwrap();
        assert_eq!(verified.payload, payload());
        assert_eq!(verified.fingerprint.len(), 64);
        assert_eq!(check_applicable(&verified, "inst-1", None, NOW), Ok(()));
    }

    #[test]
    fn white_space_and_line_breaks_are_tolerated() {
        let text = key(&payload());
        let (a, b) = text.split_at(40);
        let wrapped = format!("  \n{a}\r\n  {b} \n");
        assert_eq!(
            verify(&wrapped, &[trusted(7, "vendor-a")]).unwrap().text,
            text
        );
    }

    #[test]
    fn parse_rules() {
        let t = [trusted(7, "vendor-a")];
        assert!(matches!(verify("", &t), Err(KeyError::NotAKey(_))));
        assert!(matches!(verify("hello", &t), Err(KeyError::NotAKey(_))));
        assert!(matches!(verify("XX1.a.b", &t), Err(KeyError::NotAKey(_))));
        assert!(matches!(
            verify("BYOC1.!!!.abc", &t),
            Err(KeyError::NotAKey(_))
        ));
        assert!(matches!(
            verify("BYOC1.e30.abc", &t),
            Err(KeyError::NotAKey(_))
        ));
        let text = key(&payload()).replacen("BYOC1", "BYOC2", 1);
        assert!(matches!(
            verify(&text, &t),
            Err(KeyError::UnsupportedVersion(_))
        ));
    }

    #[test]
    fn unknown_signing_key_and_bad_signature() {
        let text = key(&payload());
        assert_eq!(
            verify(&text, &[trusted(7, "other")]),
            Err(KeyError::UnknownSigningKey("vendor-a".into()))
        );
        // Right id, wrong public key: a forgery.
        assert_eq!(
            verify(&text, &[trusted(8, "vendor-a")]),
            Err(KeyError::BadSignature)
        );
        // Content changed after signing.
        let mut forged = payload();
        forged.aku_quota = Some(100_000);
        let forged_json = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = text.split('.').collect();
        let tampered = format!("BYOC1.{forged_json}.{}", parts[2]);
        assert_eq!(
            verify(&tampered, &[trusted(7, "vendor-a")]),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn content_rules_refuse_nonsense_when_issuing() {
        let mut p = payload();
        p.aku_quota = Some(0);
        assert!(matches!(
            issue(&p, &signing_key(7)),
            Err(KeyError::InvalidContent(_))
        ));
        let mut p = payload();
        p.expires_at = p.starts_at;
        assert!(matches!(
            issue(&p, &signing_key(7)),
            Err(KeyError::InvalidContent(_))
        ));
        let mut p = payload();
        p.billing = BillingModel::Payg;
        assert!(
            matches!(issue(&p, &signing_key(7)), Err(KeyError::InvalidContent(m)) if m.contains("unit prices"))
        );
        let mut p = payload();
        p.max_aku_per_instance = 2;
        assert!(issue(&p, &signing_key(7)).is_err());
    }

    #[test]
    fn payg_keys_carry_exact_tiered_prices() {
        let mut p = payload();
        p.billing = BillingModel::Payg;
        p.aku_quota = None;
        p.pricing = Some(Pricing {
            currency: "USD".into(),
            dimensions: vec![DimensionPrice {
                dimension: "aku_hours".into(),
                tiers: vec![
                    PriceTier {
                        from_quantity: 0,
                        unit_price: "0.12".parse().unwrap(),
                    },
                    PriceTier {
                        from_quantity: 10_000,
                        unit_price: "0.10".parse().unwrap(),
                    },
                ],
            }],
        });
        let verified = verify(&key(&p), &[trusted(7, "vendor-a")]).unwrap();
        assert_eq!(
            verified.payload.listing, None,
            "a key without a listing verifies"
        );
        let price = &verified.payload.pricing.as_ref().unwrap().dimensions[0].tiers[0].unit_price;
        assert_eq!(price.to_string(), "0.12");

        // The listing it is billed through travels in the signed key.
        p.listing = Some(Listing::parse("aws:prod-abc123").unwrap());
        let verified = verify(&key(&p), &[trusted(7, "vendor-a")]).unwrap();
        assert_eq!(
            verified.payload.listing,
            Some(Listing {
                marketplace: "aws".into(),
                id: "prod-abc123".into()
            })
        );
        for bad in ["aws", "gcp:x", "aws:", "aws:has space", "alibaba:a/b"] {
            assert!(Listing::parse(bad).is_err(), "{bad}");
        }
        let mut prepaid = payload();
        prepaid.listing = Some(Listing::parse("alibaba:service-1").unwrap());
        assert!(matches!(
            issue(&prepaid, &signing_key(7)),
            Err(KeyError::InvalidContent(m)) if m.contains("listing")
        ));
    }

    #[test]
    fn applicability_rules() {
        let t = [trusted(7, "vendor-a")];
        let current = payload();
        let current_key = verify(&key(&current), &t).unwrap();

        assert!(matches!(
            check_applicable(&current_key, "inst-2", None, NOW),
            Err(KeyError::OtherInstallation { .. })
        ));
        assert_eq!(
            check_applicable(
                &current_key,
                "inst-1",
                None,
                datetime!(2025-12-31 23:59:59 UTC)
            ),
            Err(KeyError::NotYetStarted {
                starts_at: current.starts_at
            })
        );
        // Exactly at expiry the key no longer applies.
        assert_eq!(
            check_applicable(&current_key, "inst-1", None, current.expires_at),
            Err(KeyError::Expired {
                expired_at: current.expires_at
            })
        );
        let applied = Some((&current, current_key.fingerprint.as_str()));
        assert_eq!(
            check_applicable(&current_key, "inst-1", applied, NOW),
            Err(KeyError::AlreadyApplied)
        );

        let mut older = payload();
        older.issued_at = datetime!(2025-12-01 00:00 UTC);
        older.aku_quota = Some(300);
        let older_key = verify(&key(&older), &t).unwrap();
        assert!(matches!(
            check_applicable(&older_key, "inst-1", applied, NOW),
            Err(KeyError::OlderThanApplied { .. })
        ));

        let mut renewal = payload();
        renewal.issued_at = datetime!(2026-05-01 00:00 UTC);
        renewal.expires_at = datetime!(2028-01-01 00:00 UTC);
        let renewal_key = verify(&key(&renewal), &t).unwrap();
        assert_eq!(
            check_applicable(&renewal_key, "inst-1", applied, NOW),
            Ok(())
        );
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            add_months(datetime!(2026-01-31 10:00 UTC), 1),
            Some(datetime!(2026-02-28 10:00 UTC))
        );
        assert_eq!(
            add_months(datetime!(2026-11-22 00:00 UTC), 12),
            Some(datetime!(2027-11-22 00:00 UTC))
        );
        assert_eq!(
            add_months(datetime!(2027-12-15 00:00 UTC), 2),
            Some(datetime!(2028-02-15 00:00 UTC))
        );
    }

    #[test]
    fn previews_name_the_change() {
        let current = payload();
        let mut upgrade = payload();
        upgrade.aku_quota = Some(300);
        let change = preview(Some(&current), &upgrade, 40);
        assert_eq!(change.kind, ChangeKind::Upgrade);
        assert_eq!(
            (change.quota_from, change.quota_to),
            (Some(Some(100)), Some(300))
        );
        assert_eq!(change.over_quota_by, None);

        let mut downgrade = payload();
        downgrade.aku_quota = Some(30);
        let change = preview(Some(&current), &downgrade, 40);
        assert_eq!(change.kind, ChangeKind::Downgrade);
        assert_eq!(change.over_quota_by, Some(10));

        let mut renewal = payload();
        renewal.expires_at = datetime!(2028-01-01 00:00 UTC);
        assert_eq!(
            preview(Some(&current), &renewal, 0).kind,
            ChangeKind::Renewal
        );
        assert_eq!(preview(None, &current, 0).kind, ChangeKind::Activation);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_text_never_panics_and_never_verifies(text in ".{0,400}") {
                prop_assert!(verify(&text, &[trusted(7, "vendor-a")]).is_err());
            }

            #[test]
            fn mutated_keys_never_verify(position in 0usize..400, replacement in proptest::char::range('0', 'z')) {
                let text = key(&payload());
                let position = position % text.len();
                let original = text.as_bytes()[position] as char;
                prop_assume!(original != replacement);
                let mut mutated: Vec<char> = text.chars().collect();
                mutated[position] = replacement;
                let mutated: String = mutated.into_iter().collect();
                // base64 decoding is strict (no stray trailing bits), so every change fails.
                prop_assert!(verify(&mutated, &[trusted(7, "vendor-a")]).is_err());
            }
        }
    }
}
