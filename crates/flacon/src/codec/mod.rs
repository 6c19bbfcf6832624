//! Flask's session cookie format, in itsdangerous' layers.
//!
//! - [`signer`]: `value.signature` with a derived key (HMAC-SHA1).
//! - [`timestamp`]: `value.timestamp.signature` and the age check.
//! - [`compress`]: base64url payloads, zlib-compressed with a `.` prefix when it pays.
//! - [`python_json`] and [`tagged`]: Python's JSON dialect and Flask's type tags.
//! - [`cookie`]: the composition Flask configures, [`CookieCodec`].

pub mod compress;
pub mod cookie;
#[cfg(feature = "exact-deflate")]
mod deflate;
pub mod python_json;
pub mod signer;
pub mod tagged;
pub mod timestamp;

pub use cookie::{
    from_tagged_json, to_tagged_json, BadPayload, CookieCodec, DecodeError, DecodeLimits, Decoded,
    FLASK_SALT,
};
pub use signer::{KeyDerivation, SignatureError, Signer};
pub use timestamp::{TimedError, TimestampSigner, Unsigned};
