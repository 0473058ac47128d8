//! The control loop's health probe: one Kafka `ApiVersions` request (version 0) on a fresh
//! connection. Brokers answer it before any authentication, so the same probe works on
//! secured instances; an accepted TCP connection alone proves nothing (a hung process's
//! listen socket still accepts). The frame is 24 bytes, written here rather than through a
//! client library, whose connection set-up (metadata, SASL) is more than a probe should do.

use crate::server::provisioner::ProvisionError;
use anyhow::{anyhow, Context};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const API_VERSIONS: i16 = 18;
const CLIENT_ID: &[u8] = b"byoc-probe";
/// Larger answers than this are not a broker's ApiVersions response.
const MAX_RESPONSE: i32 = 1 << 20;

/// The request: size, then header v1 (api key, version 0, correlation id, client id); the
/// v0 body is empty.
fn request(correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&API_VERSIONS.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    body.extend_from_slice(CLIENT_ID);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Where a broker is probed: its listening address, and for a TLS listener the client
/// configuration (trusting the console's authority) and the name its certificate carries.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Option<TlsTarget>,
}

#[derive(Clone)]
pub struct TlsTarget {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// Ok when the broker at `target` answers `ApiVersions` with the request's correlation id
/// within `timeout` (connection and TLS handshake included); otherwise what went wrong.
pub async fn api_versions(target: &Target, timeout: Duration) -> Result<(), ProvisionError> {
    match tokio::time::timeout(timeout, connect_and_ask(target)).await {
        Ok(result) => result,
        Err(_) => Err(anyhow!(
            "no answer to a Kafka ApiVersions request within {} ms",
            timeout.as_millis()
        )),
    }
}

async fn connect_and_ask(target: &Target) -> Result<(), ProvisionError> {
    let stream = TcpStream::connect(target.addr)
        .await
        .context("cannot connect")?;
    let correlation_id = i32::from(target.addr.port()) ^ 0x5eed;
    match &target.tls {
        None => exchange(stream, correlation_id).await,
        Some(tls) => {
            let stream = tokio_rustls::TlsConnector::from(tls.config.clone())
                .connect(tls.server_name.clone(), stream)
                .await
                .context("the TLS handshake failed")?;
            exchange(stream, correlation_id).await
        }
    }
}

async fn exchange<S>(mut stream: S, correlation_id: i32) -> Result<(), ProvisionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(&request(correlation_id))
        .await
        .context("the request could not be sent")?;
    stream
        .flush()
        .await
        .context("the request could not be sent")?;
    let size = stream
        .read_i32()
        .await
        .context("the connection closed without an answer")?;
    if !(6..=MAX_RESPONSE).contains(&size) {
        return Err(anyhow!("an answer that is not Kafka ({size} bytes)"));
    }
    let answered_id = stream.read_i32().await.context("a truncated answer")?;
    if answered_id != correlation_id {
        return Err(anyhow!("an answer to another request"));
    }
    // The error code follows; any code means a Kafka broker is serving this port (a broker
    // that does not speak version 0 says so with UNSUPPORTED_VERSION, which is an answer).
    stream.read_i16().await.context("a truncated answer")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(port: u16) -> Target {
        Target {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: None,
        }
    }

    #[test]
    fn the_request_frame_is_kafka_api_versions_v0() {
        let frame = request(7);
        assert_eq!(&frame[..4], &20i32.to_be_bytes(), "size of what follows");
        assert_eq!(&frame[4..6], &18i16.to_be_bytes(), "ApiVersions");
        assert_eq!(&frame[6..8], &0i16.to_be_bytes(), "version 0");
        assert_eq!(&frame[8..12], &7i32.to_be_bytes(), "correlation id");
        assert_eq!(&frame[12..14], &10i16.to_be_bytes());
        assert_eq!(&frame[14..], b"byoc-probe");
    }

    #[tokio::test]
    async fn a_port_that_accepts_but_never_answers_fails_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts (as a stopped process's backlog does) and never answers.
        let _held = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let started = std::time::Instant::now();
        let error = api_versions(&plain(port), Duration::from_millis(300))
            .await
            .unwrap_err();
        let error = format!("{error:#}");
        assert!(error.contains("no answer"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_correct_answer_passes_and_a_foreign_one_does_not() {
        for (reply_id, ok) in [(None, true), (Some(1), false)] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 24];
                socket.read_exact(&mut request).await.unwrap();
                let asked = i32::from_be_bytes(request[8..12].try_into().unwrap());
                let mut answer = 6i32.to_be_bytes().to_vec();
                answer.extend_from_slice(&reply_id.unwrap_or(asked).to_be_bytes());
                answer.extend_from_slice(&0i16.to_be_bytes());
                socket.write_all(&answer).await.unwrap();
            });
            let result = api_versions(&plain(port), Duration::from_secs(2)).await;
            assert_eq!(result.is_ok(), ok, "{result:?}");
        }
    }
}
