//! Any text pasted into the product key field: parsing and verification never panic, and
//! nothing but a key signed by the trusted key verifies.
#![no_main]

use byoc_domain::license::{verify, TrustedKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let trusted = [TrustedKey { key_id: "fuzz".into(), public_key: signing.verifying_key(), added_at_run_time: false }];
    if let Ok(key) = verify(text, &trusted) {
        // Only possible if the fuzzer forged an Ed25519 signature.
        panic!("verified a key the fuzzer made up: {key:?}");
    }
});
