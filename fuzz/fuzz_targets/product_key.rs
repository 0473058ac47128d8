//! Any text pasted into the product key field: parsing and verification never panic, and the
//! only texts that verify are the keys the vendor signed (the seeds, signed with the key
//! trusted here), give or take white space.
#![no_main]

use byoc_domain::license::{normalise, verify, TrustedKey};
use libfuzzer_sys::fuzz_target;

const SIGNED: [&str; 2] = [
    include_str!("../seeds/product_key/prepaid-key"),
    include_str!("../seeds/product_key/payg-key"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let trusted = [TrustedKey { key_id: "fuzz".into(), public_key: signing.verifying_key(), added_at_run_time: false }];
    if let Ok(key) = verify(text, &trusted) {
        let normalised = normalise(text);
        assert!(SIGNED.iter().any(|k| normalise(k) == normalised), "verified a key nobody signed: {normalised}");
        assert!(key.payload.validate().is_ok());
    }
});
