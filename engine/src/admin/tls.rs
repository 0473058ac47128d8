//! TLS to a node's internal listener: the console presents its client certificate and checks
//! the node's against the environment's CA (and the address it dialled: the nodes'
//! certificates name `127.0.0.1` and `localhost`).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::error::AdminError;

/// The console's identity on the internal listener, all PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The CA (or CAs) the nodes' certificates must chain to.
    pub ca_pem: String,
    /// The client certificate, then its intermediates if any.
    pub cert_chain_pem: String,
    /// The client certificate's private key (PKCS#8 `BEGIN PRIVATE KEY`; SEC1 and PKCS#1
    /// are read too).
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A connector for this identity; fails on PEM that holds no certificate or no key.
    pub fn connector(&self) -> Result<TlsConnector, AdminError> {
        let bad =
            |what: &str, e: &dyn std::fmt::Display| AdminError::Config(format!("{what}: {e}"));
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&self.ca_pem).map_err(|e| bad("CA PEM", &e))? {
            roots.add(ca).map_err(|e| bad("CA certificate", &e))?;
        }
        if roots.is_empty() {
            return Err(AdminError::Config("CA PEM: no certificate".into()));
        }
        let chain =
            read_certs(&self.cert_chain_pem).map_err(|e| bad("client certificate PEM", &e))?;
        if chain.is_empty() {
            return Err(AdminError::Config(
                "client certificate PEM: no certificate".into(),
            ));
        }
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut self.key_pem.as_bytes())
            .map_err(|e| bad("client key PEM", &e))?
            .ok_or_else(|| AdminError::Config("client key PEM: no private key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS versions", &e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad("client certificate and key", &e))?;
        Ok(TlsConnector::from(Arc::new(config)))
    }
}

fn read_certs(pem: &str) -> std::io::Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut pem.as_bytes()).collect()
}

/// The TLS handshake over `tcp` to `addr` (`host:port`; the host is the name checked against
/// the node's certificate, an IP address or a DNS name).
pub(crate) async fn handshake(
    connector: &TlsConnector,
    addr: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, AdminError> {
    let host = host_of(addr);
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| AdminError::Config(format!("{addr}: not a server name: {e}")))?;
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| AdminError::io(addr, e))
}

/// `host` of `host:port`, `[::1]:port` -> `::1`.
pub(crate) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_addresses() {
        assert_eq!(host_of("127.0.0.1:9093"), "127.0.0.1");
        assert_eq!(host_of("localhost:9093"), "localhost");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }

    #[test]
    fn refuses_pem_without_certificates() {
        let id = TlsIdentity {
            ca_pem: String::new(),
            cert_chain_pem: String::new(),
            key_pem: String::new(),
        };
        assert!(matches!(id.connector(), Err(AdminError::Config(_))));
    }
}
