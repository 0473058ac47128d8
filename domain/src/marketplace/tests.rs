//! Unit tests of `marketplace`.

use super::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn every_ledger_dimension_has_one_mapping_or_is_stated_unreported() {
    for (ledger, _, _) in crate::metering::DIMENSIONS {
        assert!(mapping(Marketplace::Aws, ledger).is_some(), "{ledger}");
    }
    for unreported in [
        "data_in_gib",
        "data_out_gib",
        "data_retained_gib_hours",
        "uptime_hours_dev",
        "uptime_hours_pro",
        "uptime_hours_enterprise",
    ] {
        assert_eq!(mapping(Marketplace::Alibaba, unreported), None);
    }
    let keys: Vec<_> = mappings(Marketplace::Alibaba)
        .iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["Period"]);
    assert_eq!(mapping(Marketplace::Aws, "nope"), None);
}

#[test]
fn the_fraction_is_carried_so_a_month_loses_less_than_half_a_unit() {
    let m = mapping(Marketplace::Aws, "aku_hours").unwrap();
    // 2.508333 AKU-hours = 150.49998 AKU-minutes: 150 now, 0.49998 carried.
    let first = convert(d("2.508333"), m, Decimal::ZERO, false).unwrap();
    assert_eq!(first.quantity, 150);
    assert_eq!(first.carry, d("0.49998"));
    let second = convert(d("2.508333"), m, first.carry, false).unwrap();
    assert_eq!(second.quantity, 150);
    assert_eq!(second.carry, d("0.99996"));
    let third = convert(d("2.508333"), m, second.carry, false).unwrap();
    assert_eq!(third.quantity, 151);
    // A month of such hours: reported total within half a unit of the ledger's.
    let hours = 720;
    let mut carry = Decimal::ZERO;
    let mut reported = 0u64;
    for h in 0..hours {
        let c = convert(d("2.508333"), m, carry, h == hours - 1).unwrap();
        reported += c.quantity;
        carry = c.carry;
    }
    assert_eq!(carry, Decimal::ZERO, "nothing crosses the month");
    let ledger = d("2.508333") * Decimal::from(hours) * Decimal::from(60);
    assert!(
        (Decimal::from(reported) - ledger).abs() < d("0.5"),
        "{reported} vs {ledger}"
    );
}

#[test]
fn alibaba_meters_aku_seconds_within_its_integer() {
    // Seed 001: Alibaba bills AKU. 6 AKU for an hour = 6 x 3600 AKU-seconds.
    let period = mapping(Marketplace::Alibaba, "aku_hours").unwrap();
    assert_eq!(
        convert(d("6"), period, Decimal::ZERO, false)
            .unwrap()
            .quantity,
        21_600
    );
    // The largest environment whose hour fits the documented integer: 596,523 AKU.
    let largest = convert(d("596523"), period, Decimal::ZERO, false).unwrap();
    assert!(alibaba::value_text("Period", largest.quantity).is_ok());
    let beyond = convert(d("596524"), period, Decimal::ZERO, false).unwrap();
    assert!(alibaba::value_text("Period", beyond.quantity).is_err());
}

#[test]
fn bad_quantities_are_errors() {
    let m = mapping(Marketplace::Aws, "data_in_gib").unwrap();
    assert!(convert(d("-1"), m, Decimal::ZERO, false).is_err());
    assert!(convert(d("1"), m, d("-0.1"), false).is_err());
    assert!(convert(Decimal::MAX, m, Decimal::ZERO, false).is_err());
}

#[test]
fn the_last_hour_of_a_month_is_found_in_utc() {
    // 2026-11-30 23:00 UTC and 2026-12-31 23:00 UTC.
    assert!(last_hour_of_month(1_796_079_600));
    assert!(last_hour_of_month(1_798_758_000));
    assert!(!last_hour_of_month(1_796_079_600 - HOUR));
    assert!(!last_hour_of_month(1_796_079_600 + HOUR));
}

#[test]
fn a_report_s_life() {
    let now = 1_800_000_000;
    assert_eq!(
        after_answer(Marketplace::Aws, &Answer::Accepted, 1, now, false),
        ReportState::Accepted
    );
    assert_eq!(
        after_answer(Marketplace::Aws, &Answer::Duplicate, 2, now, false),
        ReportState::Duplicate
    );
    assert_eq!(
        after_answer(
            Marketplace::Aws,
            &Answer::Refused("bad".into()),
            1,
            now,
            false
        ),
        ReportState::Rejected("bad".into())
    );
    assert_eq!(
        after_answer(
            Marketplace::Aws,
            &Answer::Retryable("throttled".into()),
            1,
            now,
            false
        ),
        ReportState::Pending {
            attempts: 1,
            not_before: now + 60
        }
    );
    assert_eq!(retry_delay(0), 30);
    assert_eq!(retry_delay(10), 900);
    // After a crash mid-call: AWS resends (idempotent), Alibaba asks the admin.
    assert!(matches!(
        after_restart(Marketplace::Aws, 3),
        ReportState::Pending { attempts: 3, .. }
    ));
    assert_eq!(after_restart(Marketplace::Alibaba, 3), ReportState::Unknown);
}

#[test]
fn aws_takes_six_hours_back_and_alibaba_states_no_window() {
    let hour = 1_800_000_000 - 1_800_000_000 % HOUR;
    assert!(within_window(Marketplace::Aws, hour, hour + AWS_WINDOW_S));
    assert!(!within_window(
        Marketplace::Aws,
        hour,
        hour + AWS_WINDOW_S + 1
    ));
    assert!(within_window(Marketplace::Alibaba, hour, hour + 100 * HOUR));
}

#[test]
fn an_ended_subscription_stops_growth_then_suspends_after_the_grace() {
    let since = 1_800_000_000;
    assert_eq!(
        effect(Entitlement::Entitled, DEFAULT_GRACE_S, since),
        SubscriptionEffect::Normal
    );
    let ended = Entitlement::Ended { since };
    assert_eq!(
        effect(ended, DEFAULT_GRACE_S, since + 1),
        SubscriptionEffect::NoGrowth {
            suspend_at: since + DEFAULT_GRACE_S
        }
    );
    assert_eq!(
        effect(ended, DEFAULT_GRACE_S, since + DEFAULT_GRACE_S),
        SubscriptionEffect::Suspend
    );
}

#[test]
fn marketplaces_have_one_string_each() {
    for m in [Marketplace::Aws, Marketplace::Alibaba] {
        assert_eq!(Marketplace::parse(m.as_str()), Some(m));
    }
    assert_eq!(Marketplace::parse("gcp"), None);
}

#[test]
fn report_states_have_one_string_each_and_bad_columns_are_errors() {
    let states = [
        ReportState::Pending {
            attempts: 2,
            not_before: 99,
        },
        ReportState::Sending { attempts: 1 },
        ReportState::Accepted,
        ReportState::Duplicate,
        ReportState::Rejected("bad dimension".into()),
        ReportState::Late,
        ReportState::Unknown,
        ReportState::Unsent,
    ];
    for state in &states {
        let (attempts, not_before, reason) = match state {
            ReportState::Pending {
                attempts,
                not_before,
            } => (*attempts as i64, *not_before, None),
            ReportState::Sending { attempts } => (*attempts as i64, 0, None),
            ReportState::Rejected(why) => (0, 0, Some(why.as_str())),
            _ => (0, 0, None),
        };
        assert_eq!(
            &ReportState::from_columns(state.kind(), attempts, not_before, reason).unwrap(),
            state
        );
    }
    assert!(ReportState::from_columns("sent", 0, 0, None)
        .unwrap_err()
        .contains("\"sent\""));
    assert!(ReportState::from_columns("rejected", 0, 0, None).is_err());
    assert!(ReportState::from_columns("pending", -1, 0, None).is_err());
}

#[test]
fn admins_retry_rejected_reports_and_settle_unknown_ones() {
    let rejected = ReportState::Rejected("x".into());
    let again = ReportState::Pending {
        attempts: 0,
        not_before: 0,
    };
    assert_eq!(decide(&rejected, AdminDecision::Retry), Ok(again.clone()));
    assert_eq!(
        decide(&ReportState::Unknown, AdminDecision::SendAgain),
        Ok(again)
    );
    assert_eq!(
        decide(&ReportState::Unknown, AdminDecision::SeenBilled),
        Ok(ReportState::Accepted)
    );
    assert!(decide(&ReportState::Accepted, AdminDecision::Retry).is_err());
    assert!(decide(&ReportState::Late, AdminDecision::Retry).is_err());
    assert!(decide(&rejected, AdminDecision::SeenBilled).is_err());
}

#[test]
fn a_client_token_is_stable_and_names_its_records() {
    let ids = vec!["b".to_string(), "a".to_string()];
    let reordered = vec!["a".to_string(), "b".to_string()];
    let token = client_token(1, 3600, "aku_hours", &ids);
    assert_eq!(token, client_token(1, 3600, "aku_hours", &reordered));
    assert_eq!(token.len(), 64);
    assert_ne!(token, client_token(2, 3600, "aku_hours", &ids));
    assert_ne!(token, client_token(1, 7200, "aku_hours", &ids));
    assert_ne!(token, client_token(1, 3600, "aku_hours", &ids[..1]));
}

#[test]
fn not_entitled_ends_the_subscription_once_and_an_accepted_report_restores_it() {
    let ended = entitlement_after(Entitlement::Entitled, &Answer::NotEntitled, 100);
    assert_eq!(ended, Entitlement::Ended { since: 100 });
    assert_eq!(
        entitlement_after(ended, &Answer::NotEntitled, 500),
        Entitlement::Ended { since: 100 }
    );
    assert_eq!(
        entitlement_after(ended, &Answer::Retryable("throttled".into()), 500),
        ended
    );
    assert_eq!(
        entitlement_after(ended, &Answer::Accepted, 500),
        Entitlement::Entitled
    );
}

#[test]
fn an_unconfirmed_call_is_resent_on_aws_and_waits_for_the_admin_on_alibaba() {
    let answer = Answer::Unconfirmed("timed out".into());
    assert_eq!(
        after_answer(Marketplace::Aws, &answer, 1, 100, false),
        ReportState::Pending {
            attempts: 1,
            not_before: 100 + retry_delay(1)
        }
    );
    assert_eq!(
        after_answer(Marketplace::Alibaba, &answer, 1, 100, false),
        ReportState::Unknown
    );
    assert!(uncertain(&answer));
    assert!(!uncertain(&Answer::Retryable("throttled".into())));
    assert_eq!(out_of_window(true), ReportState::Unknown);
    assert_eq!(out_of_window(false), ReportState::Late);
}

#[test]
fn a_dry_run_check_does_not_restart_the_grace_period() {
    let ended = Entitlement::Ended { since: 100 };
    let renewed = entitlement_after_check(ended, Marketplace::Aws);
    assert_eq!(renewed, Entitlement::Renewed { ended_since: 100 });
    assert_eq!(effect(renewed, 50, 1_000), SubscriptionEffect::Normal);
    // The next report says it has not been renewed: the end counts from the first time.
    let again = entitlement_after(renewed, &Answer::NotEntitled, 900);
    assert_eq!(again, Entitlement::Ended { since: 100 });
    assert_eq!(effect(again, 50, 1_000), SubscriptionEffect::Suspend);
    // An accepted report confirms it; Alibaba's check proves it.
    assert_eq!(
        entitlement_after(renewed, &Answer::Accepted, 900),
        Entitlement::Entitled
    );
    assert_eq!(
        entitlement_after_check(ended, Marketplace::Alibaba),
        Entitlement::Entitled
    );
    assert_eq!(
        entitlement_after_check(Entitlement::Entitled, Marketplace::Aws),
        Entitlement::Entitled
    );
}

#[test]
fn every_report_state_kind_is_listed_once_and_reads_back() {
    let states = [
        ReportState::Pending {
            attempts: 0,
            not_before: 0,
        },
        ReportState::Sending { attempts: 1 },
        ReportState::Accepted,
        ReportState::Duplicate,
        ReportState::Rejected("no".into()),
        ReportState::Late,
        ReportState::Unknown,
        ReportState::Unsent,
    ];
    let kinds: Vec<&str> = states.iter().map(ReportState::kind).collect();
    assert_eq!(kinds, ReportState::KINDS);
}

#[test]
fn out_of_bounds_after_an_uncertain_attempt_is_unknown_not_late() {
    let now = 1_800_000_000;
    assert_eq!(
        after_answer(Marketplace::Aws, &Answer::OutOfWindow, 2, now, true),
        ReportState::Unknown
    );
    assert_eq!(
        after_answer(Marketplace::Aws, &Answer::OutOfWindow, 1, now, false),
        ReportState::Late
    );
}
