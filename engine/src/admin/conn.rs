//! One connection to one node: TCP (and TLS), Kafka's framing (a 4-byte big-endian length, then
//! the request header and body), correlation ids, and the versions agreed by ApiVersions, which
//! is the first request on every connection. One request at a time: the admin client keeps a
//! connection per node and never needs two requests in flight on one.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::api::{negotiate, AdminRequest};
use super::error::{code, AdminError, KafkaError};
use super::tls;

/// Frames larger than this are refused (a Metadata or DescribeLogDirs answer of a large cluster
/// is a few MiB).
const MAX_FRAME: usize = 100 << 20;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a node's ApiVersions answer says: the APIs and versions it serves on the listener, and
/// its finalized features (`metadata.version`, `kraft.version`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVersions {
    /// API key -> (min, max) version the node serves.
    pub apis: BTreeMap<i16, (i16, i16)>,
    /// Finalized feature -> level (the same on every node once agreed).
    pub finalized_features: BTreeMap<String, i16>,
    /// The epoch of the finalized features (-1 if the node does not know them yet).
    pub finalized_features_epoch: i64,
}

impl NodeVersions {
    /// The version range the node serves for `key`.
    pub fn range(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.apis.get(&(key as i16)).copied()
    }

    fn from_response(r: &ApiVersionsResponse) -> Self {
        Self {
            apis: r
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
            finalized_features: r
                .finalized_features
                .iter()
                .map(|f| (f.name.to_string(), f.max_version_level))
                .collect(),
            finalized_features_epoch: r.finalized_features_epoch,
        }
    }
}

pub(crate) struct Connection {
    addr: String,
    stream: Box<dyn Io>,
    correlation: i32,
    client_id: StrBytes,
    /// What the node's last ApiVersions answer said.
    pub(crate) versions: NodeVersions,
}

impl Connection {
    /// Dials `addr`, makes the TLS handshake if `tls`, and agrees versions with ApiVersions,
    /// all within `timeout`.
    pub(crate) async fn open(
        addr: &str,
        tls: Option<&TlsConnector>,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Connection, AdminError> {
        let open = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| AdminError::io(addr, e))?;
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Io> = match tls {
                Some(connector) => Box::new(tls::handshake(connector, addr, tcp).await?),
                None => Box::new(tcp),
            };
            let mut conn = Connection {
                addr: addr.to_owned(),
                stream,
                correlation: 0,
                client_id: StrBytes::from_string(client_id.to_owned()),
                versions: NodeVersions {
                    apis: BTreeMap::new(),
                    finalized_features: BTreeMap::new(),
                    finalized_features_epoch: -1,
                },
            };
            conn.api_versions().await?;
            Ok(conn)
        };
        match tokio::time::timeout(timeout, open).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(addr, "connecting")),
        }
    }

    /// ApiVersions at the highest version we know; if the node answers UNSUPPORTED_VERSION
    /// (in a v0 body, with its own range), again at the highest it serves.
    pub(crate) async fn api_versions(&mut self) -> Result<NodeVersions, AdminError> {
        let mut version = ApiVersionsRequest::VERSIONS.max;
        loop {
            let mut request = ApiVersionsRequest::default();
            if version >= 3 {
                request.client_software_name = StrBytes::from_static_str("byoc-console");
                request.client_software_version =
                    StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
            }
            let body = self.round_trip(&request, version).await?;
            let error = body.clone().try_get_i16().unwrap_or(0);
            if error == code::UNSUPPORTED_VERSION && version > 0 {
                let v0 = ApiVersionsResponse::decode(&mut body.clone(), 0)
                    .map_err(|e| AdminError::protocol(&self.addr, e))?;
                let theirs = v0
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map_or(0, |k| k.max_version);
                version = theirs.min(version - 1).max(0);
                continue;
            }
            let response = ApiVersionsResponse::decode(&mut body.clone(), version)
                .map_err(|e| AdminError::protocol(&self.addr, e))?;
            if let Some(e) = KafkaError::from_code(response.error_code, None) {
                return Err(e.into());
            }
            self.versions = NodeVersions::from_response(&response);
            return Ok(self.versions.clone());
        }
    }

    /// The highest version of `R` both sides serve.
    pub(crate) fn version_of<R: AdminRequest>(&self) -> Result<i16, AdminError> {
        let theirs = self.versions.range(R::KEY);
        negotiate(R::VERSIONS, theirs).ok_or_else(|| AdminError::Unsupported {
            addr: self.addr.clone(),
            api: R::NAME.to_owned(),
            ours: R::VERSIONS.to_string(),
            theirs: theirs.map_or("none".into(), |(a, b)| format!("{a}..{b}")),
        })
    }

    /// Sends the request `build` makes for the agreed version; decodes the answer.
    pub(crate) async fn send<R: AdminRequest>(
        &mut self,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response, AdminError> {
        let version = self.version_of::<R>()?;
        let request = build(version);
        let mut body = self.round_trip(&request, version).await?;
        R::Response::decode(&mut body, version)
            .map_err(|e| AdminError::protocol(&self.addr, format!("{} v{version}: {e}", R::NAME)))
    }

    /// One frame out, one frame in; returns the response body after its header.
    async fn round_trip<R: AdminRequest>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<Bytes, AdminError> {
        self.correlation = self.correlation.wrapping_add(1);
        let correlation = self.correlation;
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY as i16;
        header.request_api_version = version;
        header.correlation_id = correlation;
        header.client_id = Some(self.client_id.clone());

        let addr = self.addr.clone();
        let encode_err = |e: anyhow::Error| {
            AdminError::protocol(&addr, format!("encoding {} v{version}: {e}", R::NAME))
        };
        let mut frame = BytesMut::with_capacity(256);
        frame.put_i32(0);
        header
            .encode(&mut frame, R::header_version(version))
            .map_err(encode_err)?;
        request.encode(&mut frame, version).map_err(encode_err)?;
        let len =
            i32::try_from(frame.len() - 4).map_err(|_| encode_err(anyhow::anyhow!("too large")))?;
        frame[..4].copy_from_slice(&len.to_be_bytes());

        let io_err = |e: io::Error| AdminError::io(&addr, e);
        self.stream.write_all(&frame).await.map_err(io_err)?;
        self.stream.flush().await.map_err(io_err)?;
        let len = self.stream.read_i32().await.map_err(io_err)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(|| AdminError::protocol(&addr, format!("frame of {len} bytes")))?;
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await.map_err(io_err)?;
        let mut body = Bytes::from(body);

        let response_header =
            ResponseHeader::decode(&mut body, R::Response::header_version(version))
                .map_err(|e| AdminError::protocol(&addr, format!("response header: {e}")))?;
        if response_header.correlation_id != correlation {
            return Err(AdminError::protocol(
                &addr,
                format!(
                    "correlation id {} answers {correlation}",
                    response_header.correlation_id
                ),
            ));
        }
        Ok(body)
    }
}

pub(crate) fn timed_out(addr: &str, what: &str) -> AdminError {
    AdminError::Io {
        addr: addr.to_owned(),
        source: io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;
    use tokio::net::TcpListener;

    /// Reads one request frame: (api key, version, correlation id).
    async fn read_request(s: &mut TcpStream) -> (i16, i16, i32) {
        let len = s.read_i32().await.unwrap() as usize;
        let mut frame = vec![0; len];
        s.read_exact(&mut frame).await.unwrap();
        let mut b = &frame[..];
        (b.get_i16(), b.get_i16(), b.get_i32())
    }

    async fn write_frame(s: &mut TcpStream, body: &[u8]) {
        s.write_i32(body.len() as i32).await.unwrap();
        s.write_all(body).await.unwrap();
    }

    fn api_keys(b: &mut Vec<u8>) {
        b.put_i32(2); // ApiVersions 0..2, Metadata 0..12
        for (key, max) in [(ApiKey::ApiVersions, 2), (ApiKey::Metadata, 12)] {
            b.put_i16(key as i16);
            b.put_i16(0);
            b.put_i16(max);
        }
    }

    /// A node older than us: ApiVersions at our version is answered UNSUPPORTED_VERSION in a
    /// v0 body, then at the highest it serves; Metadata goes at the highest both serve; an
    /// answer with another correlation id is refused.
    #[tokio::test]
    async fn falls_back_negotiates_and_checks_correlation() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let node = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (key, version, correlation) = read_request(&mut s).await;
            assert_eq!((key, version), (18, ApiVersionsRequest::VERSIONS.max));
            let mut b = Vec::new();
            b.put_i32(correlation);
            b.put_i16(code::UNSUPPORTED_VERSION);
            api_keys(&mut b);
            write_frame(&mut s, &b).await;

            let (key, version, correlation) = read_request(&mut s).await;
            assert_eq!((key, version), (18, 2));
            let mut b = Vec::new();
            b.put_i32(correlation);
            b.put_i16(0);
            api_keys(&mut b);
            b.put_i32(0); // throttle_time_ms
            write_frame(&mut s, &b).await;

            let (key, version, correlation) = read_request(&mut s).await;
            assert_eq!((key, version), (3, 12));
            let mut b = Vec::new();
            b.put_i32(correlation + 7);
            b.put_u8(0); // no tagged fields
            write_frame(&mut s, &b).await;
        });
        let mut conn = Connection::open(&addr, None, "test", Duration::from_secs(5))
            .await
            .expect("open");
        assert_eq!(conn.versions.range(ApiKey::Metadata), Some((0, 12)));
        let err = conn.send(|_| MetadataRequest::default()).await.unwrap_err();
        assert!(
            matches!(&err, AdminError::Protocol { message, .. } if message.contains("correlation")),
            "{err}"
        );
        let err = conn.version_of::<kafka_protocol::messages::DescribeQuorumRequest>();
        assert!(matches!(err, Err(AdminError::Unsupported { .. })));
        node.await.unwrap();
    }
}
