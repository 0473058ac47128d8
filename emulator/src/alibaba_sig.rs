//! Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1), server side.
//!
//! StringToSign = METHOD & percentEncode("/") & percentEncode(sorted, encoded `k=v` pairs of
//! every parameter but `Signature`), signed with HMAC-SHA1 under `secret + "&"` and
//! base64-encoded. Written here (not taken from an SDK) so that the console's signer is
//! checked by an independent implementation; see the documented example in the tests.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// Alibaba's encoding: RFC 3986 unreserved characters stay, everything else is `%XY` in
/// upper-case hex (so space is `%20`, `*` is `%2A`, and `~` stays).
const ALIBABA: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one name or value the way the signature needs.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIBABA).to_string()
}

/// Decodes `application/x-www-form-urlencoded` (or a query string) into pairs, in order:
/// `+` is a space, `%XY` a byte. Invalid UTF-8 is replaced rather than refused, so that the
/// signature check (not a parser) is what rejects such a request.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    String::from_utf8_lossy(&percent_decode(spaced.as_bytes()).collect::<Vec<u8>>()).into_owned()
}

/// The canonicalized query string: every parameter but `Signature`, encoded, sorted by
/// encoded name (then value), joined with `&`.
pub fn canonicalized_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string to sign for a request made with `method`.
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonicalized_query(params))
    )
}

/// Base64 of HMAC-SHA1 over the string to sign, keyed with `secret&`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    // HMAC takes a key of any length; were it ever refused, an empty signature matches no
    // request, so the request is refused rather than the emulator panicking.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_params(timestamp_name: &str) -> Vec<(String, String)> {
        [
            (timestamp_name, "2016-02-23T12:46:24Z"),
            ("Format", "XML"),
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Version", "2014-05-26"),
            ("SignatureVersion", "1.0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Alibaba Cloud's "Request signature" documentation (RPC, signature v1.0), example
    /// section: DescribeRegions with AccessKeyId `testid`, AccessKeySecret `testsecret`,
    /// GET; signature `OLeaidS1JvxuMvnyHOwuJ+uX5qY=`. The string to sign follows the
    /// documented formula for those parameters.
    #[test]
    fn documented_example() {
        let params = doc_params("Timestamp");
        let sts = string_to_sign("GET", &params);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(sign("testsecret", &sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    /// The older edition of the same page (e.g. developer.aliyun.com/ask/210168, and the
    /// `Signature=CT9X0VtwR86fNWSnsc6v8YGOjuE%3D` in the overview of many Alibaba API
    /// references) spells the parameter `TimeStamp`, which sorts after `SignatureVersion`
    /// all the same but changes the bytes signed.
    #[test]
    fn documented_example_older_edition() {
        let params = doc_params("TimeStamp");
        assert_eq!(
            sign("testsecret", &string_to_sign("GET", &params)),
            "CT9X0VtwR86fNWSnsc6v8YGOjuE="
        );
    }

    /// The signed URL printed in the documentation, parsed the way the emulator parses a
    /// request, verifies (its unencoded `+` in the signature arrives as a space).
    #[test]
    fn documented_signed_url_parses_and_verifies() {
        let query = "SignatureVersion=1.0&Action=DescribeRegions&Format=XML\
                     &SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Version=2014-05-26\
                     &AccessKeyId=testid&Signature=OLeaidS1JvxuMvnyHOwuJ+uX5qY=\
                     &SignatureMethod=HMAC-SHA1&Timestamp=2016-02-23T12%3A46%3A24Z";
        let params = parse_form(query);
        let given = params
            .iter()
            .find(|(k, _)| k == "Signature")
            .map(|(_, v)| v.replace(' ', "+"))
            .unwrap();
        assert_eq!(sign("testsecret", &string_to_sign("GET", &params)), given);
        assert_ne!(sign("testsecret", &string_to_sign("POST", &params)), given);
    }

    #[test]
    fn percent_encoding_rules() {
        assert_eq!(percent_encode("a b*c~d"), "a%20b%2Ac~d");
        assert_eq!(
            percent_encode("2016-02-23T12:46:24Z"),
            "2016-02-23T12%3A46%3A24Z"
        );
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("[{\"k\":1}]"), "%5B%7B%22k%22%3A1%7D%5D");
    }

    #[test]
    fn form_parsing() {
        assert_eq!(
            parse_form("a=1+2&b=%2A&c&&d=x%3Dy"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "*".into()),
                ("c".into(), "".into()),
                ("d".into(), "x=y".into()),
            ]
        );
    }
}
