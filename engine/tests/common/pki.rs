//! Test certificates, made as the console makes them (rcgen, EC P-256, PKCS#8 PEM keys): a CA,
//! the nodes' certificate (`CN=broker`, server and client, naming 127.0.0.1 and localhost) and
//! the console's (`CN=byoc-console`, client only).

use byoc_engine::admin::TlsIdentity;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// A certificate and its key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Issued {
    /// Key then certificate: Kafka's PEM key store in one file.
    pub fn keystore(&self) -> String {
        format!("{}{}", self.key_pem, self.cert_pem)
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::default();
        p.distinguished_name = name(cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn issue(&self, cn: &str, sans: &[&str], ekus: Vec<ExtendedKeyUsagePurpose>) -> Issued {
        let key = KeyPair::generate().expect("key");
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(sans).expect("params");
        p.distinguished_name = name(cn);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = ekus;
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &self.cert, &self.key).expect("sign");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The nodes' certificate: server and client on the internal and controller listeners.
    pub fn node(&self) -> Issued {
        use ExtendedKeyUsagePurpose::*;
        self.issue(
            "broker",
            &["127.0.0.1", "localhost"],
            vec![ServerAuth, ClientAuth],
        )
    }

    /// The console's identity, trusting `trusted` for the nodes' certificates.
    pub fn console(&self, trusted: &Ca) -> TlsIdentity {
        let issued = self.issue(
            "byoc-console",
            &[],
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        );
        TlsIdentity {
            ca_pem: trusted.pem(),
            cert_chain_pem: issued.cert_pem,
            key_pem: issued.key_pem,
        }
    }
}
