//! The environment's certificate authority (rcgen) and the TLS client side of the console's
//! own connections to the brokers (rustls, trusting this authority only).
//!
//! The authority is made once, on first need, and kept in the console's database (so a
//! backup carries it). It signs one server certificate per instance, naming the addresses
//! clients use; the broker reads it from its directory at start.

use super::super::store;
use crate::domain::certificate::{CA_VALIDITY_S, CLIENT_CERT_VALIDITY_S, SERVER_VALIDITY_S};
use crate::server::provisioner::ProvisionError;
use anyhow::Context;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use sqlx::SqlitePool;
use std::sync::Arc;
use time::OffsetDateTime;

pub struct Authority {
    cert_pem: String,
    /// The authority's own certificate rebuilt from its parameters: rcgen signs with it.
    issuer: Certificate,
    key: KeyPair,
    client: Arc<rustls::ClientConfig>,
}

/// A server certificate and its key, PEM.
pub struct ServerCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
}

fn at(unix: i64) -> Result<OffsetDateTime, ProvisionError> {
    OffsetDateTime::from_unix_timestamp(unix).context("bad certificate date")
}

fn random_serial() -> (rcgen::SerialNumber, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // Positive (DER integers are signed).
    bytes[0] &= 0x7f;
    let text = bytes.iter().map(|b| format!("{b:02x}")).collect();
    (rcgen::SerialNumber::from_slice(&bytes), text)
}

impl Authority {
    /// The environment's authority: the stored one, or a new one made and stored now.
    pub async fn load_or_create(pool: &SqlitePool, now: i64) -> Result<Authority, ProvisionError> {
        let stored = store::kafka_security::authority(pool)
            .await
            .context("cannot read the certificate authority")?;
        if let Some((cert_pem, key_pem)) = stored {
            return Authority::from_pem(cert_pem, &key_pem);
        }
        let key = KeyPair::generate().context("cannot make a CA key")?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "BYOC environment console CA");
        name.push(DnType::OrganizationName, "BYOC environment console");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = at(now - 3600)?;
        params.not_after = at(now + CA_VALIDITY_S)?;
        params.serial_number = Some(random_serial().0);
        let cert = params
            .self_signed(&key)
            .context("cannot make the CA certificate")?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        store::kafka_security::insert_authority(
            pool,
            &cert_pem,
            &key_pem,
            now,
            now + CA_VALIDITY_S,
        )
        .await
        .context("cannot store the certificate authority")?;
        // Two first uses at once: the one stored first wins.
        let (cert_pem, key_pem) = store::kafka_security::authority(pool)
            .await
            .context("cannot read the certificate authority")?
            .context("the certificate authority was not stored")?;
        Authority::from_pem(cert_pem, &key_pem)
    }

    fn from_pem(cert_pem: String, key_pem: &str) -> Result<Authority, ProvisionError> {
        let bad = "the stored certificate authority is unusable";
        let key = KeyPair::from_pem(key_pem).context(bad)?;
        let params = CertificateParams::from_ca_cert_pem(&cert_pem).context(bad)?;
        let issuer = params.self_signed(&key).context(bad)?;
        let mut roots = rustls::RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).context(bad)?;
        roots.add(der).context(bad)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context(bad)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Authority {
            cert_pem,
            issuer,
            key,
            client: Arc::new(client),
        })
    }

    /// The authority's certificate, for clients to trust (the Connect panel offers it).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A TLS client configuration that trusts this authority only.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.client.clone()
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid from now.
    pub fn issue(&self, names: &[String], now: i64) -> Result<ServerCertificate, ProvisionError> {
        let common_name = names.first().cloned().unwrap_or_default();
        self.sign(
            &common_name,
            names,
            vec![ExtendedKeyUsagePurpose::ServerAuth],
            now,
        )
    }

    /// The certificate of a Kafka cluster's nodes on their internal and controller listeners,
    /// as server and as client: `CN=broker` (the principal `User:broker`), naming this host's
    /// loopback. Kafka refuses to start with a node key store that lacks clientAuth.
    pub fn issue_node(&self, now: i64) -> Result<ServerCertificate, ProvisionError> {
        let names = ["127.0.0.1".to_string(), "localhost".to_string()];
        let usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.sign("broker", &names, usages, now)
    }

    /// A client certificate `CN=common_name` (the principal `User:common_name` on a listener
    /// that requires client certificates).
    pub fn issue_client(
        &self,
        common_name: &str,
        now: i64,
    ) -> Result<ServerCertificate, ProvisionError> {
        self.sign(
            common_name,
            &[],
            vec![ExtendedKeyUsagePurpose::ClientAuth],
            now,
        )
    }

    /// A Kafka user's client certificate for mutual TLS: subject `CN=username,OU=unit` (the
    /// instance's unit, [`crate::domain::certificate::instance_unit`]), client use only, valid
    /// from an hour before `now` for [`CLIENT_CERT_VALIDITY_S`]. Its key is made here for the
    /// one download; the caller keeps only the serial and the dates.
    pub fn issue_user(
        &self,
        unit: &str,
        username: &str,
        now: i64,
    ) -> Result<ServerCertificate, ProvisionError> {
        let key = KeyPair::generate().context("cannot make a key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())
            .context("cannot make a client certificate")?;
        let mut dn = DistinguishedName::new();
        // In this order the subject reads `CN=username,OU=unit` (RFC 2253, as Kafka maps it).
        dn.push(DnType::OrganizationalUnitName, unit);
        dn.push(DnType::CommonName, username);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let not_before = now - 3600;
        let not_after = now + CLIENT_CERT_VALIDITY_S;
        params.not_before = at(not_before)?;
        params.not_after = at(not_after)?;
        let (serial, serial_text) = random_serial();
        params.serial_number = Some(serial);
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .context("cannot sign the client certificate")?;
        Ok(ServerCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial_text,
            not_before,
            not_after,
        })
    }

    fn sign(
        &self,
        common_name: &str,
        names: &[String],
        usages: Vec<ExtendedKeyUsagePurpose>,
        now: i64,
    ) -> Result<ServerCertificate, ProvisionError> {
        let key = KeyPair::generate().context("cannot make a key")?;
        let mut params = CertificateParams::new(names.to_vec())
            .with_context(|| format!("cannot name a certificate {names:?}"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = usages;
        params.use_authority_key_identifier_extension = true;
        // An hour back: clients whose clock is a little behind accept it at once.
        let not_before = now - 3600;
        let not_after = now + SERVER_VALIDITY_S;
        params.not_before = at(not_before)?;
        params.not_after = at(not_after)?;
        let (serial, serial_text) = random_serial();
        params.serial_number = Some(serial);
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .context("cannot sign the certificate")?;
        Ok(ServerCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial_text,
            not_before,
            not_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_authority_signs_certificates_that_rustls_accepts_for_their_names() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::migrate!("../migrations").run(&pool).await.unwrap();
        let now = 1_800_000_000;
        let ca = Authority::load_or_create(&pool, now).await.unwrap();
        let again = Authority::load_or_create(&pool, now).await.unwrap();
        assert_eq!(ca.cert_pem(), again.cert_pem(), "made once, then loaded");

        let cert = ca
            .issue(&["127.0.0.1".into(), "kafka.internal".into()], now)
            .unwrap();
        assert_eq!(cert.not_after - now, SERVER_VALIDITY_S);
        let leaf = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap();
        let roots = {
            let mut r = rustls::RootCertStore::empty();
            r.add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap())
                .unwrap();
            Arc::new(r)
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap();
        let check = |name: &str| {
            let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
            let when = rustls::pki_types::UnixTime::since_unix_epoch(
                std::time::Duration::from_secs((now + 60) as u64),
            );
            rustls::client::danger::ServerCertVerifier::verify_server_cert(
                verifier.as_ref(),
                &leaf,
                &[],
                &server,
                &[],
                when,
            )
        };
        assert!(check("127.0.0.1").is_ok());
        assert!(check("kafka.internal").is_ok());
        assert!(
            check("other.internal").is_err(),
            "a name it was not issued for"
        );

        // Another environment's authority is not trusted.
        let other_pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::migrate!("../migrations")
            .run(&other_pool)
            .await
            .unwrap();
        let other = Authority::load_or_create(&other_pool, now).await.unwrap();
        assert_ne!(other.cert_pem(), ca.cert_pem());
    }
}
