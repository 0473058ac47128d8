//! An instance's certificates, kept valid and true to its names. Three live in its directory,
//! each signed by the environment's authority for [`SERVER_VALIDITY_S`] (90 days):
//!
//! - `node.pem`: the nodes' own (`CN=broker`, on the internal and controller listeners);
//! - `client-listener.pem`: the TLS client listener's, naming the client-facing host;
//! - `console-identity.pem`: the console's client certificate (`CN=byoc-console`).
//!
//! Each is re-issued by the control loop's maintenance pass when less than
//! [`RENEW_BEFORE_S`] (30 days, the last third of its life) is left, when it names other
//! names than the instance must (`serve --broker-host` / `--broker-public-host` changed), or
//! when its file cannot be read as a certificate. What is wanted is read back from the files
//! themselves (their dates and names), so nothing else records it. The nodes read theirs only
//! at start: a new `node.pem` or `client-listener.pem` is rolled out by restarting the nodes
//! one at a time ([`super::roll`]); the console's own takes effect at its next connection
//! (the control loop's kept Admin client is dropped for it).

use super::KafkaProvisioner;
use crate::domain::certificate::{
    due, names, IssueReason, Issued, RENEW_BEFORE_S, SERVER_VALIDITY_S,
};
use crate::server::provisioner::ProvisionError;
use crate::server::store::instances::InstanceRow;
use byoc_engine::config::CONSOLE_PRINCIPAL;
use rustls::pki_types::{pem::PemObject, CertificateDer};
use std::path::Path;

pub(super) const NODE_PEM: &str = "node.pem";
pub(super) const CLIENT_LISTENER_PEM: &str = "client-listener.pem";
/// The console's client key and certificate, one file (written whole: a key never goes
/// without its certificate).
pub(super) const CONSOLE_IDENTITY: &str = "console-identity.pem";
/// The names of the nodes' own certificate (the internal and controller listeners are on
/// loopback).
pub(super) const NODE_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// Which certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    Node,
    ClientListener,
    Console,
}

impl Which {
    fn file(self) -> &'static str {
        match self {
            Which::Node => NODE_PEM,
            Which::ClientListener => CLIENT_LISTENER_PEM,
            Which::Console => CONSOLE_IDENTITY,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Which::Node => "the nodes' certificate",
            Which::ClientListener => "the client listener's certificate",
            Which::Console => "the console's client certificate",
        }
    }
}

/// What a certificate file holds: its names (DNS names and addresses, sorted) and its end;
/// `None` when the file is missing or holds no readable certificate.
pub(super) fn issued_in(path: &Path) -> Option<Issued> {
    let text = std::fs::read_to_string(path).ok()?;
    let der = CertificateDer::from_pem_slice(text.as_bytes()).ok()?;
    let params = rcgen::CertificateParams::from_ca_cert_der(&der).ok()?;
    let found: Vec<String> = params
        .subject_alt_names
        .iter()
        .filter_map(|san| match san {
            rcgen::SanType::DnsName(name) => Some(name.as_str().to_string()),
            rcgen::SanType::IpAddress(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    Some(Issued {
        names: names(&found),
        not_after: params.not_after.unix_timestamp(),
    })
}

/// Why the certificate in `path` must be issued again now, if it must: `wanted` are the
/// names it must carry.
pub(super) fn renewal_due(path: &Path, wanted: &[String], now: i64) -> Option<IssueReason> {
    due(issued_in(path).as_ref(), wanted, now)
}

impl KafkaProvisioner {
    /// The names each certificate of `row` must carry (the client listener's: none when the
    /// instance does not speak TLS to clients).
    fn wanted_names(&self, row: &InstanceRow) -> Result<Vec<(Which, Vec<String>)>, ProvisionError> {
        let client = self.client_listener(row)?;
        let mut wanted = vec![
            (Which::Node, names(&NODE_NAMES)),
            (Which::Console, Vec::new()),
        ];
        if client.protocol.tls() {
            wanted.push((Which::ClientListener, names(&[client.host.as_str()])));
        }
        Ok(wanted)
    }

    /// Issues again every certificate of `row` that is due, or missing (the first one);
    /// answers what was renewed and why, one line each, for the audit log (a first issue is
    /// not a renewal and is not listed).
    pub(super) async fn renew_certificates(
        &self,
        row: &InstanceRow,
    ) -> Result<Vec<String>, ProvisionError> {
        let dir = self.dir(row.id);
        let now = self.clock.unix();
        let mut renewed = Vec::new();
        for (which, wanted) in self.wanted_names(row)? {
            let path = dir.join(which.file());
            let Some(reason) = renewal_due(&path, &wanted, now) else {
                continue;
            };
            let (existed, old) = (path.exists(), issued_in(&path));
            let authority = self.authority().await?;
            let cert = match which {
                Which::Node => authority.issue_node(now)?,
                Which::ClientListener => authority.issue(&wanted, now)?,
                Which::Console => authority.issue_client(CONSOLE_PRINCIPAL, now)?,
            };
            super::write_private(&path, &format!("{}{}", cert.key_pem, cert.cert_pem))?;
            if which == Which::Console {
                // The probes' kept client goes: the next one connects with the new identity.
                let kept = self
                    .probe_admins
                    .lock()
                    .ok()
                    .and_then(|mut a| a.remove(&row.id));
                if let Some(admin) = kept {
                    admin.close();
                }
            }
            if let Some(old) = old {
                let left_days = (old.not_after - now).div_euclid(86_400);
                renewed.push(format!(
                    "{} re-issued: {} (the old one named {}, {left_days} day(s) left of {}; \
                     renewed when fewer than {} are left); the new one names {}, serial {}, \
                     valid to {}",
                    which.label(),
                    reason.as_str(),
                    shown(&old.names),
                    SERVER_VALIDITY_S / 86_400,
                    RENEW_BEFORE_S / 86_400,
                    shown(&wanted),
                    cert.serial,
                    date(cert.not_after),
                ));
            } else if existed {
                renewed.push(format!(
                    "{} could not be read and was issued again (serial {})",
                    which.label(),
                    cert.serial
                ));
            }
        }
        Ok(renewed)
    }
}

fn shown(names: &[String]) -> String {
    if names.is_empty() {
        "no host (a client certificate)".to_string()
    } else {
        names.join(", ")
    }
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::kafka::tls::Authority;

    #[tokio::test]
    async fn a_certificate_is_due_in_the_last_third_of_its_life_or_for_other_names() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::migrate!("../migrations").run(&pool).await.unwrap();
        let now = 1_800_000_000;
        let ca = Authority::load_or_create(&pool, now).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client-listener.pem");
        let wanted = names(&["Kafka.internal", "10.0.0.5"]);
        assert_eq!(renewal_due(&path, &wanted, now), Some(IssueReason::First));
        let cert = ca.issue(&wanted, now).unwrap();
        std::fs::write(&path, format!("{}{}", cert.key_pem, cert.cert_pem)).unwrap();
        let read = issued_in(&path).unwrap();
        assert_eq!(read.names, ["10.0.0.5", "kafka.internal"]);
        assert_eq!(read.not_after, now + SERVER_VALIDITY_S);
        // Two thirds of its life: kept; a second later: due.
        let edge = now + SERVER_VALIDITY_S - RENEW_BEFORE_S;
        assert_eq!(renewal_due(&path, &wanted, edge), None);
        assert_eq!(
            renewal_due(&path, &wanted, edge + 1),
            Some(IssueReason::Renewal)
        );
        // Another client-facing host.
        let other = names(&["localhost"]);
        assert_eq!(
            renewal_due(&path, &other, now),
            Some(IssueReason::NamesChanged)
        );
        // The nodes' and the console's certificates are read back the same way.
        let node = ca.issue_node(now).unwrap();
        std::fs::write(&path, format!("{}{}", node.key_pem, node.cert_pem)).unwrap();
        assert_eq!(renewal_due(&path, &names(&NODE_NAMES), now), None);
        let console = ca.issue_client(CONSOLE_PRINCIPAL, now).unwrap();
        std::fs::write(&path, format!("{}{}", console.key_pem, console.cert_pem)).unwrap();
        assert_eq!(renewal_due(&path, &[], now), None);
        // Damaged on disk: issued again, no panic.
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        assert_eq!(renewal_due(&path, &[], now), Some(IssueReason::First));
    }
}
