//! Unit tests of `license`.

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
