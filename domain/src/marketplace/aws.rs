//! AWS Marketplace's edges for software metered from the buyer's host (`MeterUsage`): the
//! limits of a record and of a product, the timestamp a record may carry, which credentials may
//! meter, and what a report that an earlier attempt from another host may have billed becomes.

use super::{Marketplace, ReportState};
use crate::metering::HOUR;

/// `MeterUsage`'s `UsageQuantity` is an int32: the most one record can carry.
pub const AWS_MAX_QUANTITY: u64 = i32::MAX as u64;

/// The most dimensions an AWS Marketplace product (AMI or container, usage pricing) may have.
pub const AWS_MAX_DIMENSIONS: usize = 24;

/// The timestamp of the record of the hour starting at `hour_start`. AWS: "Make sure the
/// timestamp value is not before the start of the software usage". The software's start is
/// when the console first ran (its installation record, written at the first start). Only
/// the hour the console started in moves, to that moment, within its hour (one record per hour
/// and dimension still holds); the ledger holds no hour that ended before it (one written there
/// by other means keeps its start: moving it would not make it any less before the start).
pub fn report_timestamp(hour_start: i64, software_start: i64) -> i64 {
    if hour_start < software_start && software_start < hour_start + HOUR {
        software_start
    } else {
        hour_start
    }
}

/// Why the host's credentials may not meter, if they may not. AWS Marketplace meters software
/// running in the buyer's account only with the identity of the host it runs on: the EC2
/// instance's role (instance profile) or the ECS task's / EKS pod's role. Those credentials are
/// temporary and come with a session token; a long-term access key (an IAM user's, `AKIA…`,
/// no session token) is someone's key copied onto the host, and is refused.
pub fn credentials_refusal(access_key_id: &str, has_session_token: bool) -> Option<String> {
    if has_session_token {
        return None;
    }
    Some(format!(
        "{access_key_id} is a long-term access key (no session token): AWS Marketplace meters \
         software on the buyer's host only with the host's role (the EC2 instance profile, or \
         the ECS task's or EKS pod's role), whose credentials are temporary. Remove the key \
         from the console's environment or profile so that the role's credentials are used"
    ))
}

/// What a due report becomes before it is sent from `host`, when that changes it. AWS
/// de-duplicates per EC2 instance, ECS task or EKS pod, dimension and hour: the `ClientToken`
/// covers a resend from the host that sent it, not from another one. So a report that an
/// earlier attempt from another host may have billed (`uncertain`: no answer came back, or the
/// console stopped mid-call) is `Unknown` and waits for the admin instead of a blind resend.
/// `None`: send it.
pub fn before_resend(
    marketplace: Marketplace,
    uncertain: bool,
    sent_from: Option<&str>,
    host: &str,
) -> Option<ReportState> {
    let moved = sent_from.is_some_and(|from| from != host);
    (marketplace == Marketplace::Aws && uncertain && moved).then_some(ReportState::Unknown)
}

#[cfg(test)]
mod tests {
    use super::super::{convert, mappings, ReportState};
    use super::*;
    use crate::license::MAX_INSTANCE_AKU;
    use rust_decimal::Decimal;

    #[test]
    fn a_product_has_at_most_24_dimensions() {
        let aws = mappings(Marketplace::Aws);
        assert!(aws.len() <= AWS_MAX_DIMENSIONS, "{} dimensions", aws.len());
        let mut keys: Vec<_> = aws.iter().map(|m| m.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), aws.len(), "one dimension per ledger dimension");
    }

    /// The largest hour the console states it reports in one record per dimension: 4,000 AKU
    /// (eight instances of the largest size, 500 AKU), each writing and reading 20 MiB/s
    /// (72,000 MiB an hour) and retaining 100 GiB, up all hour. Written here from those
    /// figures, not from the mapping's table.
    #[test]
    fn an_hour_of_the_largest_environment_fits_an_int32_quantity() {
        assert_eq!(AWS_MAX_QUANTITY, 2_147_483_647);
        let aku = 8 * u64::from(MAX_INSTANCE_AKU);
        assert_eq!(aku, 4_000);
        let gib_per_hour = Decimal::from(aku * 72_000) / Decimal::from(1024);
        let hour = |ledger: &str| -> Decimal {
            match ledger {
                "aku_hours" => Decimal::from(aku),
                "data_in_gib" | "data_out_gib" => gib_per_hour,
                "data_retained_gib_hours" => Decimal::from(aku * 100),
                // One instance's uptime in one tier: at most one hour each.
                _ => Decimal::from(8),
            }
        };
        let expected = [
            ("AkuMinutes", 240_000u64),
            ("DataInMiB", 288_000_000),
            ("DataOutMiB", 288_000_000),
            ("DataRetainedMiBHours", 409_600_000),
            ("UptimeMinutesDev", 480),
            ("UptimeMinutesPro", 480),
            ("UptimeMinutesEnterprise", 480),
        ];
        for (mapping, (key, quantity)) in mappings(Marketplace::Aws).iter().zip(expected) {
            assert_eq!(mapping.key, key);
            // The last hour of a month rounds up: the larger of the two.
            let converted = convert(hour(mapping.ledger), *mapping, Decimal::ZERO, true).unwrap();
            assert_eq!(converted.quantity, quantity, "{key}");
            assert!(converted.quantity <= AWS_MAX_QUANTITY, "{key}");
        }
        // And one unit more than an int32 is what the client refuses to send (never wraps).
        assert!(i32::try_from(AWS_MAX_QUANTITY + 1).is_err());
    }

    #[test]
    fn no_record_is_dated_before_the_software_started() {
        let hour = 1_800_000_000 - 1_800_000_000 % HOUR;
        // Started at :20 of the hour: that hour's record is dated :20.
        assert_eq!(report_timestamp(hour, hour + 1200), hour + 1200);
        // Hours after it keep their start.
        assert_eq!(report_timestamp(hour + HOUR, hour + 1200), hour + HOUR);
        // Started on the hour: unchanged.
        assert_eq!(report_timestamp(hour, hour), hour);
        // Never moved out of its hour.
        assert_eq!(report_timestamp(hour, hour + 5 * HOUR), hour);
    }

    #[test]
    fn long_term_keys_are_refused_with_the_reason() {
        let why = credentials_refusal("AKIAEXAMPLE", false).unwrap();
        assert!(why.contains("long-term access key"), "{why}");
        assert!(why.contains("role"), "{why}");
        assert_eq!(credentials_refusal("ASIAEXAMPLE", true), None);
    }

    #[test]
    fn a_resend_from_another_host_is_unknown_not_blind() {
        let aws = Marketplace::Aws;
        // Uncertain, sent from another host: unknown.
        assert_eq!(
            before_resend(aws, true, Some("i-0aaa"), "i-0bbb"),
            Some(ReportState::Unknown)
        );
        // The same host: the ClientToken covers it.
        assert_eq!(before_resend(aws, true, Some("i-0aaa"), "i-0aaa"), None);
        // Certainly not taken (throttled, refused connection): any host may send it.
        assert_eq!(before_resend(aws, false, Some("i-0aaa"), "i-0bbb"), None);
        // Never sent.
        assert_eq!(before_resend(aws, false, None, "i-0bbb"), None);
        // Alibaba: an uncertain push is unknown already.
        assert_eq!(
            before_resend(Marketplace::Alibaba, true, Some("a"), "b"),
            None
        );
    }
}
