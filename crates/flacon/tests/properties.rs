//! Properties over arbitrary sessions: the codec is lossless, and no single-character
//! change to a cookie gets through.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{same, strategy};
use flacon::codec::{from_tagged_json, to_tagged_json, CookieCodec};
use flacon::{KeyRing, SecretKey};
use proptest::prelude::*;

fn codec() -> CookieCodec {
    CookieCodec::flask(&KeyRing::new(SecretKey::from_text(
        "property-test-key-0123456789",
    )))
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_the_identity(session in strategy::session(), ts in 1_u64..1 << 40) {
        let codec = codec();
        let cookie = codec.encode(&session, ts);
        let decoded = codec.decode(&cookie, Some(0), ts).unwrap();
        prop_assert!(same(&decoded.value, &session));
        prop_assert_eq!(decoded.timestamp, ts);
        prop_assert_eq!(codec.encode(&decoded.value, ts), cookie);
        // The tagged JSON text alone round-trips too (what `flacon cookie sign` reads).
        let text = to_tagged_json(&session);
        prop_assert_eq!(to_tagged_json(&from_tagged_json(&text).unwrap()), text);
    }

    #[test]
    fn any_single_character_change_is_rejected(
        session in strategy::session(),
        position in any::<prop::sample::Index>(),
        replacement in any::<prop::sample::Index>(),
    ) {
        let codec = codec();
        let cookie = codec.encode(&session, 1_700_000_000);
        let i = position.index(cookie.len());
        let mut bytes = cookie.into_bytes();
        let mut c = ALPHABET[replacement.index(ALPHABET.len())];
        if c == bytes[i] {
            c = if c == b'A' { b'B' } else { b'A' };
        }
        bytes[i] = c;
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(codec.decode(&tampered, None, 1_700_000_000).is_err(), "{} accepted", tampered);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = codec().decode(&text, Some(100), 1_700_000_000);
        let _ = codec().decode_unverified(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Records come from a shared Redis that others can write to: any bytes are an error or
    /// a value, never a panic.
    #[test]
    fn arbitrary_store_records_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = flacon::store::flask_session::decode(&bytes);
    }

    /// What flacon writes to a store reads back as the same session.
    #[test]
    fn store_records_round_trip(session in strategy::session()) {
        let flacon::Value::Dict(map) = session else { unreachable!() };
        // msgpack has no tuple, Markup or big-int types: Flask-Session turns them into lists,
        // strings and (for big ints) an error; compare what survives, as Flask-Session would.
        let bytes = flacon::store::flask_session::encode(&map);
        let back = flacon::store::flask_session::decode(&bytes).unwrap();
        prop_assert_eq!(back.len(), map.len());
        prop_assert_eq!(back.keys().collect::<Vec<_>>(), map.keys().collect::<Vec<_>>());
    }
}
