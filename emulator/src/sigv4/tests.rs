//! Vectors from AWS's SigV4 test suite as published in awslabs/aws-c-auth
//! (`tests/aws-signing-test-suite/v4/<case>/`), copied from the `aws-signing-test-suite`
//! directory of the aws-sigv4 1.6.4 crate into `tests/vectors/sigv4/` (see the README
//! there). Each case: the signed request as sent, its canonical request, string to sign
//! and signature, with AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
//! us-east-1, service "service", 20150830T123600Z.
use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

macro_rules! vector {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../tests/vectors/sigv4/",
                $name,
                "/header-signed-request.txt"
            )),
            include_str!(concat!(
                "../../tests/vectors/sigv4/",
                $name,
                "/header-canonical-request.txt"
            )),
            include_str!(concat!(
                "../../tests/vectors/sigv4/",
                $name,
                "/header-string-to-sign.txt"
            )),
            include_str!(concat!(
                "../../tests/vectors/sigv4/",
                $name,
                "/header-signature.txt"
            )),
        )
    };
}

const VECTORS: &[(&str, &str, &str, &str, &str)] = &[
    vector!("get-vanilla"),
    vector!("get-vanilla-query-order-key-case"),
    vector!("get-vanilla-query-order-encoded"),
    vector!("get-vanilla-query-unreserved"),
    vector!("get-vanilla-empty-query-key"),
    vector!("get-header-value-trim"),
    vector!("get-header-key-duplicate"),
    vector!("get-utf8"),
    vector!("get-space-normalized"),
    vector!("get-slashes-normalized"),
    vector!("get-relative-relative-normalized"),
    vector!("get-slash-pointless-dot-normalized"),
    vector!("get-vanilla-with-session-token"),
    vector!("post-vanilla"),
    vector!("post-vanilla-query"),
    vector!("post-header-key-sort"),
    vector!("post-x-www-form-urlencoded"),
];

struct Parsed {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Parses the suite's `header-signed-request.txt`: `METHOD TARGET HTTP/1.1`, header
/// lines `Name:value`, a blank line, the body. The target may hold a raw space
/// (get-space-*), so it runs to the last space.
fn parse(raw: &str) -> Parsed {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let (target, _version) = rest.rsplit_once(' ').expect("version");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header");
            (n.to_string(), v.to_string())
        })
        .collect();
    Parsed {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn header<'a>(p: &'a Parsed, name: &str) -> Option<&'a str> {
    p.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn published_vectors_canonical_request_string_to_sign_and_signature() {
    assert!(VECTORS.len() >= 5);
    for (name, signed, creq, sts, sig) in VECTORS {
        let p = parse(signed);
        let auth = parse_authorization(header(&p, "authorization").expect("authorization"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE", "{name}");
        assert_eq!(
            auth.signature,
            sig.trim(),
            "{name}: signature in the signed request"
        );
        let amz_date = header(&p, "x-amz-date").expect("x-amz-date");
        let hash = header(&p, "x-amz-content-sha256")
            .map(str::to_string)
            .unwrap_or_else(|| payload_hash(&p.body));
        let req = Request {
            method: &p.method,
            path: &p.path,
            query: &p.query,
            // The Authorization header is not signed; leaving it in proves that only
            // signed headers take part.
            headers: &p.headers,
        };
        let c = compute(&req, &auth, SECRET, amz_date, &hash)
            .unwrap_or_else(|| panic!("{name}: a signed header is missing"));
        assert_eq!(c.canonical_request, *creq, "{name}: canonical request");
        assert_eq!(c.string_to_sign, *sts, "{name}: string to sign");
        assert_eq!(c.signature, sig.trim(), "{name}: signature");
    }
}

#[test]
fn the_x_www_form_urlencoded_vector_signs_the_body_hash() {
    let (_, signed, ..) = VECTORS
        .iter()
        .find(|v| v.0 == "post-x-www-form-urlencoded")
        .copied()
        .expect("vector");
    let p = parse(signed);
    assert_eq!(
        header(&p, "x-amz-content-sha256"),
        Some(payload_hash(b"Param1=value1").as_str())
    );
}

#[test]
fn a_changed_request_no_longer_matches() {
    let (_, signed, _, _, sig) = VECTORS[1];
    let p = parse(signed);
    let auth = parse_authorization(header(&p, "authorization").unwrap()).unwrap();
    let req = Request {
        method: &p.method,
        path: &p.path,
        query: "Param2=value2&Param1=value2",
        headers: &p.headers,
    };
    let c = compute(&req, &auth, SECRET, "20150830T123600Z", EMPTY_SHA256).unwrap();
    assert_ne!(c.signature, sig.trim());
    let wrong_secret = compute(
        &Request {
            query: &p.query,
            ..req
        },
        &auth,
        "not-the-secret",
        "20150830T123600Z",
        EMPTY_SHA256,
    )
    .unwrap();
    assert_ne!(wrong_secret.signature, sig.trim());
}

#[test]
fn a_missing_signed_header_is_reported() {
    let headers = vec![("Host".to_string(), "example.amazonaws.com".to_string())];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
    };
    let signed = vec!["host".to_string(), "x-amz-date".to_string()];
    assert!(canonical_request(&req, &signed, EMPTY_SHA256).is_none());
}

#[test]
fn authorization_parsing() {
    let a = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host;x-amz-date, Signature=ABCDEF",
    )
    .unwrap();
    assert_eq!(a.access_key_id, "AKID");
    assert_eq!(a.scope(), "20260101/us-east-1/aws-marketplace/aws4_request");
    assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
    assert_eq!(a.signature, "abcdef");
    assert!(parse_authorization("Bearer x").is_err());
    assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/aws4_request, SignedHeaders=host, Signature=ab").is_err());
    assert!(parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s/aws4_request, Signature=ab"
    )
    .is_err());
}

#[test]
fn path_encoding_is_double_for_already_encoded_paths() {
    // From the suite's double-encode-path case (canonical request only).
    assert_eq!(
        canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D"),
        "/test/%40connections/JBDvjfGEIAMCERw%253D"
    );
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a/b/.."), "/a/");
}

#[test]
fn constant_time_eq_compares() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
