//! Decoding never panics, whatever the cookie. The first byte picks the path:
//! - raw: the input as the cookie text (the MAC stops nearly everything early);
//! - signed: the input as the payload JSON, correctly signed, so the JSON reader, the
//!   tag decoder and the limits see attacker-shaped data behind a valid MAC;
//! - compressed: the same, zlib-compressed with the `.` prefix.
#![no_main]

use std::io::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flacon::codec::{to_tagged_json, CookieCodec, Signer, KeyDerivation, FLASK_SALT};
use flacon::{KeyRing, SecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let ring = KeyRing::new(SecretKey::from_text("fuzz-key-0123456789abcdef"));
    let codec = CookieCodec::flask(&ring);
    let now = 1_700_000_000;
    let cookie = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => signed(&ring, URL_SAFE_NO_PAD.encode(rest)),
        _ => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = z.write_all(rest);
            let compressed = z.finish().unwrap_or_default();
            signed(&ring, format!(".{}", URL_SAFE_NO_PAD.encode(compressed)))
        }
    };
    if let Ok(decoded) = codec.decode(&cookie, Some(2_678_400), now) {
        // Whatever decodes must encode again and decode to the same tagged JSON.
        let again = codec.encode(&decoded.value, now);
        let back = codec.decode(&again, Some(2_678_400), now).map(|d| to_tagged_json(&d.value));
        assert_eq!(back.ok(), Some(to_tagged_json(&decoded.value)));
    }
    let _ = codec.decode_unverified(&cookie);
});

fn signed(ring: &KeyRing, payload: String) -> String {
    let signer = Signer::new(ring, FLASK_SALT, KeyDerivation::Hmac);
    let mut value = payload;
    value.push_str(".ZVPxAA");
    signer.sign(&value)
}
