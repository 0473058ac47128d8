//! When an instance's TLS server certificate is (re)issued: the console's certificate
//! authority signs one per instance, naming the addresses clients use, and renews it well
//! before it expires.

/// A server certificate is valid this long.
pub const SERVER_VALIDITY_S: i64 = 90 * DAY;
/// It is renewed when this little of it is left (a third of its life), so that a console
/// stopped for weeks still renews in time.
pub const RENEW_BEFORE_S: i64 = 30 * DAY;
/// A Kafka user's client certificate (mutual TLS) is valid this long; the user renews it from
/// the instance's page or the API before then (Kafka cannot revoke a certificate: a short life
/// bounds what a lost key allows).
pub const CLIENT_CERT_VALIDITY_S: i64 = 30 * DAY;
/// The organizational unit of an instance's client certificates: the client listener maps a
/// certificate to a user only when its subject names the listener's own instance.
pub fn instance_unit(instance_id: i64) -> String {
    format!("byoc-instance-{instance_id}")
}
/// The environment's certificate authority is valid this long.
pub const CA_VALIDITY_S: i64 = 10 * 365 * DAY;
const DAY: i64 = 86_400;

/// What the console recorded of the certificate it issued last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The names and addresses it was issued for, sorted.
    pub names: Vec<String>,
    pub not_after: i64,
}

/// Why a certificate must be issued now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueReason {
    /// The instance has none yet (or its files are gone).
    First,
    /// The addresses clients use changed.
    NamesChanged,
    /// Less than [`RENEW_BEFORE_S`] is left (or it expired).
    Renewal,
}

impl IssueReason {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueReason::First => "first certificate",
            IssueReason::NamesChanged => "the endpoint's addresses changed",
            IssueReason::Renewal => "renewal before expiry",
        }
    }
}

/// The names a certificate must carry, sorted and without repeats (the order of flags or
/// lookups must not cause a re-issue).
pub fn names(of: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = of
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether a certificate is due, and why; `None`: the one issued serves.
pub fn due(issued: Option<&Issued>, wanted_names: &[String], now: i64) -> Option<IssueReason> {
    match issued {
        None => Some(IssueReason::First),
        Some(issued) if issued.names != wanted_names => Some(IssueReason::NamesChanged),
        Some(issued) if issued.not_after - now < RENEW_BEFORE_S => Some(IssueReason::Renewal),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn issued(names: &[&str], not_after: i64) -> Issued {
        Issued {
            names: super::names(names),
            not_after,
        }
    }

    #[test]
    fn a_fresh_certificate_serves_until_a_third_of_its_life_is_left() {
        let wanted = names(&["127.0.0.1"]);
        let fresh = issued(&["127.0.0.1"], NOW + SERVER_VALIDITY_S);
        assert_eq!(due(Some(&fresh), &wanted, NOW), None);
        let edge = issued(&["127.0.0.1"], NOW + RENEW_BEFORE_S);
        assert_eq!(due(Some(&edge), &wanted, NOW), None);
        let late = issued(&["127.0.0.1"], NOW + RENEW_BEFORE_S - 1);
        assert_eq!(due(Some(&late), &wanted, NOW), Some(IssueReason::Renewal));
        let expired = issued(&["127.0.0.1"], NOW - 1);
        assert_eq!(
            due(Some(&expired), &wanted, NOW),
            Some(IssueReason::Renewal)
        );
    }

    #[test]
    fn none_yet_or_other_names_means_issue() {
        let wanted = names(&["kafka.example.com", "10.0.0.5"]);
        assert_eq!(due(None, &wanted, NOW), Some(IssueReason::First));
        let old = issued(&["10.0.0.5"], NOW + SERVER_VALIDITY_S);
        assert_eq!(
            due(Some(&old), &wanted, NOW),
            Some(IssueReason::NamesChanged)
        );
    }

    #[test]
    fn names_are_normalised_so_order_and_case_do_not_reissue() {
        assert_eq!(
            names(&["Kafka.Example.com", "10.0.0.5", "kafka.example.com", " "]),
            vec!["10.0.0.5".to_string(), "kafka.example.com".to_string()]
        );
        let cert = issued(&["b", "a"], NOW + SERVER_VALIDITY_S);
        assert_eq!(due(Some(&cert), &names(&["A", "B"]), NOW), None);
    }
}
