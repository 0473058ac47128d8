//! Alibaba Cloud Compute Nest, called from inside the service instance (the ECS host Compute
//! Nest created for this subscription), as its documentation gives it (addresses in
//! `docs/research/alibaba-compute-nest-metering.md`):
//!
//! - `PushMeteringData` takes `Metering` (a JSON string) and `Token` = MD5 of
//!   `"{Metering}&{ServiceKey}"`, lowercase hex; no access key;
//! - every answer's `result` carries a `Token`: MD5 of its other fields sorted by name as
//!   `Name=value` joined by `&`, then `&key={ServiceKey}`; a mismatch means the answer was not
//!   written by Compute Nest for this service;
//! - `Value` is an integer (the examples send decimal strings): at most 2^31 - 1 here.

use std::collections::BTreeMap;

/// The largest `Value` the console sends (the documentation types it Integer; the examples
/// send decimal strings; a 32-bit signed integer's largest is the safe reading).
pub const MAX_VALUE: u64 = i32::MAX as u64;

/// The MD5 of `data` as lowercase hex (Compute Nest's tokens are MD5; RustCrypto's `md-5`).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `PushMeteringData`'s `Token`: MD5 of `"{Metering}&{ServiceKey}"`.
pub fn push_token(metering: &str, service_key: &str) -> String {
    md5_hex(format!("{metering}&{service_key}").as_bytes())
}

/// The `Token` an answer's `result` must carry: its other fields (scalars as their text)
/// sorted by name, `Name=value` joined by `&`, then `&key={ServiceKey}`, MD5.
pub fn answer_token(fields: &BTreeMap<String, String>, service_key: &str) -> String {
    let mut text: String = fields
        .iter()
        .filter(|(name, _)| name.as_str() != "Token")
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    text.push_str(&format!("&key={service_key}"));
    md5_hex(text.as_bytes())
}

/// A `Value` as sent: a decimal string within [`MAX_VALUE`], or why not (naming the key).
pub fn value_text(key: &str, quantity: u64) -> Result<String, String> {
    if quantity > MAX_VALUE {
        return Err(format!(
            "{key}: {quantity} is more than the largest value Compute Nest takes ({MAX_VALUE}); the hour cannot be pushed"
        ));
    }
    Ok(quantity.to_string())
}

/// The most AKU one hour's `Period` (AKU-seconds) can carry: (2^31 - 1) / 3600 = 596,523.
pub const MAX_AKU_PER_HOUR: u64 = MAX_VALUE / 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"message digest"),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn the_push_token_is_md5_of_metering_and_the_key() {
        let metering = r#"[{"StartTime":"1664451045","EndTime":"1664451198","Entities":[{"Key":"Frequency","Value":"6"}]}]"#;
        assert_eq!(
            push_token(metering, "k"),
            md5_hex(format!("{metering}&k").as_bytes())
        );
        assert_ne!(push_token(metering, "k"), push_token(metering, "K"));
    }

    #[test]
    fn the_answer_token_sorts_fields_and_leaves_the_token_out() {
        let fields: BTreeMap<String, String> = [
            ("ServiceInstanceId", "si-1"),
            ("ExpireTime", "2022-11-02T02:39:43Z"),
            ("Token", "ignored"),
            ("RequestId", "R"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            answer_token(&fields, "sk"),
            md5_hex(b"ExpireTime=2022-11-02T02:39:43Z&RequestId=R&ServiceInstanceId=si-1&key=sk")
        );
    }

    #[test]
    fn values_beyond_int32_are_refused_naming_the_key() {
        assert_eq!(value_text("Period", MAX_VALUE).unwrap(), "2147483647");
        let error = value_text("Period", MAX_VALUE + 1).unwrap_err();
        assert!(error.starts_with("Period:"), "{error}");
        // 596,523 AKU for a whole hour fits; one more does not.
        assert!(value_text("Period", MAX_AKU_PER_HOUR * 3600).is_ok());
        assert!(value_text("Period", (MAX_AKU_PER_HOUR + 1) * 3600).is_err());
        assert_eq!(MAX_AKU_PER_HOUR, 596_523);
    }
}
