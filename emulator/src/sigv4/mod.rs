//! AWS Signature Version 4, server side: rebuild the canonical request from what was
//! received and recompute the signature.
//!
//! Written here rather than borrowed from `aws-sigv4` so that a client-side signing bug is
//! caught by an independent implementation; checked against AWS's published test suite in
//! the unit tests below.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The algorithm name in the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Everything but RFC 3986 unreserved characters is encoded (query keys and values).
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Path: as `STRICT`, but the segment separator stays.
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// A received request, as raw as the server saw it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: &'a str,
    /// Every header line in arrival order; repeated names appear repeatedly.
    pub headers: &'a [(String, String)],
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case names, in the order given (the spec requires them sorted).
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// `DATE/REGION/SERVICE/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses the header value; the error is a message in the style of AWS's
/// `IncompleteSignatureException`.
pub fn parse_authorization(value: &str) -> Result<Authorization, String> {
    let rest = value.trim().strip_prefix(ALGORITHM).ok_or_else(|| {
        format!("Unsupported authorization type: the algorithm must be {ALGORITHM}")
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, val) = part.split_once('=').ok_or_else(|| {
            format!("Authorization header requires each component to be key=value: '{part}'")
        })?;
        match key.trim() {
            "Credential" => credential = Some(val.trim()),
            "SignedHeaders" => signed_headers = Some(val.trim()),
            "Signature" => signature = Some(val.trim()),
            _ => {}
        }
    }
    let missing = |what: &str| {
        format!("Authorization header requires '{what}' parameter. Authorization={value}")
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let mut scope = credential.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(format!(
            "Credential should be scoped to a valid form: AKID/DATE/REGION/SERVICE/aws4_request, not '{credential}'"
        ));
    };
    if akid.is_empty() || signature.is_empty() || signed_headers.is_empty() {
        return Err(format!("Authorization header is incomplete: {value}"));
    }
    Ok(Authorization {
        access_key_id: akid.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed_headers
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Removes `.`/`..` segments and empty segments (`//`), as SigV4 does for every service but
/// S3; keeps a trailing slash.
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut trailing = path.ends_with('/');
    for seg in path.split('/') {
        match seg {
            "" => {}
            "." => trailing = true,
            ".." => {
                out.pop();
                trailing = true;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    if path.ends_with('/') {
        trailing = true;
    }
    if out.is_empty() {
        return "/".to_string();
    }
    let mut joined = String::new();
    for seg in &out {
        joined.push('/');
        joined.push_str(seg);
    }
    if trailing {
        joined.push('/');
    }
    joined
}

/// The canonical URI: normalized, then every byte outside the unreserved set encoded. The
/// received path is already encoded once, so `%` becomes `%25` (AWS's double encoding).
pub fn canonical_uri(path: &str) -> String {
    utf8_percent_encode(&normalize_path(path), PATH).to_string()
}

/// The canonical query string: each key and value decoded, re-encoded strictly, and the
/// pairs sorted by key, then by value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (reencode(k), reencode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn reencode(s: &str) -> String {
    let bytes: Vec<u8> = percent_decode_str(s).collect();
    percent_encoding::percent_encode(&bytes, STRICT).to_string()
}

/// A header value as canonicalized: trimmed, inner runs of whitespace made one space.
fn trim_value(v: &str) -> String {
    v.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request. `None` when a signed header is absent from the request.
pub fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Option<String> {
    let mut out = String::new();
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    let mut names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_value(v))
            .collect();
        if values.is_empty() {
            return None;
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Some(out)
}

/// The string to sign over a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length; were it ever refused, an all-zero value signs nothing
    // that a request carries, so the request is refused rather than the emulator panicking.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The hex signature of a string to sign.
pub fn signature(secret: &str, date: &str, region: &str, service: &str, sts: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, sts.as_bytes()))
}

/// Hex SHA-256 of a body.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Equality that does not stop at the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the server computed, kept to explain a mismatch.
#[derive(Debug, Clone)]
pub struct Computed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// Recomputes the signature of `req` under `auth` with `secret`. `amz_date` is the request's
/// `X-Amz-Date`, `payload_hash` the hash the canonical request ends with. `None` when a
/// signed header is missing.
pub fn compute(
    req: &Request<'_>,
    auth: &Authorization,
    secret: &str,
    amz_date: &str,
    payload_hash: &str,
) -> Option<Computed> {
    let creq = canonical_request(req, &auth.signed_headers, payload_hash)?;
    let sts = string_to_sign(amz_date, &auth.scope(), &creq);
    let sig = signature(secret, &auth.date, &auth.region, &auth.service, &sts);
    Some(Computed {
        canonical_request: creq,
        string_to_sign: sts,
        signature: sig,
    })
}

#[cfg(test)]
mod tests;
