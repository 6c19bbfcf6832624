//! Opening an encrypted cookie never panics, whatever the bytes. The first byte picks the
//! path: raw (the input as the cookie text), or framed (the input behind the `e1.` prefix as
//! base64url, so the length checks, the nonce split and the AEAD see every shape), or sealed
//! (a genuine cookie with one input-chosen byte flipped, which must never open).
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flacon::codec::{CookieCipher, ENCRYPTED_PREFIX};
use flacon::{KeyRing, SecretKey, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let cipher = CookieCipher::new(
        &KeyRing::new(SecretKey::from_text("fuzz-key-0123456789abcdef")),
        "session",
    );
    match mode % 3 {
        0 => {
            let _ = cipher.decrypt(&String::from_utf8_lossy(rest), Some(60), 1_700_000_000);
        }
        1 => {
            let cookie = format!("{ENCRYPTED_PREFIX}{}", URL_SAFE_NO_PAD.encode(rest));
            let _ = cipher.decrypt(&cookie, None, 0);
        }
        _ => {
            let text = String::from_utf8_lossy(rest).into_owned();
            let cookie = cipher.encrypt(&Value::from(text), 1_700_000_000);
            let mut raw = URL_SAFE_NO_PAD
                .decode(&cookie[ENCRYPTED_PREFIX.len()..])
                .unwrap_or_default();
            if raw.is_empty() {
                return;
            }
            let at = usize::from(rest.first().copied().unwrap_or(0)) % raw.len();
            if let Some(byte) = raw.get_mut(at) {
                *byte ^= 1 << (rest.len() % 8);
            }
            let changed = format!("{ENCRYPTED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
            assert!(cipher.decrypt(&changed, None, 0).is_err(), "a changed cookie opened");
        }
    }
});
