//! Flask's session cookie format, in itsdangerous' layers.
//!
//! - [`Signer`]: `value.signature` with a derived key (HMAC-SHA1).
//! - [`TimestampSigner`]: `value.timestamp.signature` and the age check.
//! - the payload: base64url, zlib-compressed with a `.` prefix when it pays, of Python's
//!   JSON dialect with Flask's type tags ([`to_tagged_json`], [`from_tagged_json`]).
//! - [`CookieCodec`]: the composition Flask configures.
//!
//! The layers' internals (the payload encoding, the JSON writer and reader, the tag rules,
//! zlib's deflate) are private; the types here are the stable surface.

mod audit;
mod compress;
mod cookie;
#[cfg(feature = "exact-deflate")]
mod deflate;
mod encrypted;
pub(crate) mod python_json;
mod signer;
pub(crate) mod tagged;
pub(crate) mod timestamp;

// The fuzz targets reach the payload layer itself (cargo fuzz builds with `--cfg fuzzing`).
pub(crate) use compress::load_payload;
#[cfg(fuzzing)]
pub use compress::push_payload;
#[cfg(not(fuzzing))]
pub(crate) use compress::push_payload;
pub use compress::PayloadError;
pub use python_json::JsonError;
pub use signer::derive_key;
pub use tagged::TagError;

pub use audit::KeyAudit;
pub use cookie::{
    from_tagged_json, to_tagged_json, BadPayload, CookieCodec, DecodeError, DecodeLimits,
    DecodeLimitsBuilder, Decoded, FLASK_SALT,
};
pub use encrypted::{is_encrypted, CipherError, CookieCipher, ENCRYPTED_PREFIX};
pub use signer::{KeyDerivation, SignatureError, Signer};
pub use timestamp::{TimedError, TimestampSigner, Unsigned};

/// Reads JSON as Python's `json.loads` does (integers of any size, `NaN` and `Infinity`
/// allowed) into flacon's value model, without Flask's tags: what a Flask app's JSON config
/// or data holds. Nesting deeper than `max_depth` is an error.
///
/// ```
/// use flacon::codec::from_python_json;
/// use flacon::Value;
/// let value = from_python_json(r#"{"n": 123456789012345678901234567890, "x": NaN}"#, 16).unwrap();
/// assert!(matches!(value.as_dict().unwrap().get("n"), Some(Value::BigInt(_))));
/// ```
pub fn from_python_json(text: &str, max_depth: usize) -> Result<crate::Value, JsonError> {
    python_json::parse(text, max_depth)
}
