//! The composition Flask uses for its session cookie: tagged JSON, then the payload layer
//! (zlib + base64url), then the timestamp signer with salt `cookie-session` and HMAC key
//! derivation over SHA-1 (`flask/sessions.py SecureCookieSessionInterface`).

use super::compress::{push_payload, with_payload, PayloadError};
use super::python_json::{self, JsonError};
use super::signer::{KeyDerivation, SignatureError, Signer};
use super::tagged::{self, TagError};
use super::timestamp::{TimedError, TimestampSigner};
use crate::keys::{KeyMatch, KeyRing};
use crate::value::Value;

/// The salt Flask's session serializer signs with.
pub const FLASK_SALT: &[u8] = b"cookie-session";

/// Bounds on what a decoder will do for one untrusted cookie.
///
/// ```
/// use flacon::codec::{CookieCodec, DecodeLimits};
/// use flacon::{KeyRing, SecretKey};
/// let strict = DecodeLimits::builder().max_depth(8).build();
/// let codec = CookieCodec::flask(&KeyRing::new(SecretKey::from_text("k"))).with_limits(strict);
/// assert_eq!(codec.limits().max_depth(), 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeLimits {
    pub(crate) max_cookie_len: usize,
    pub(crate) max_payload_len: usize,
    pub(crate) max_depth: usize,
}

impl DecodeLimits {
    /// A builder starting from the defaults.
    pub fn builder() -> DecodeLimitsBuilder {
        DecodeLimitsBuilder {
            limits: DecodeLimits::default(),
        }
    }

    /// Longest cookie value accepted, in bytes.
    pub fn max_cookie_len(&self) -> usize {
        self.max_cookie_len
    }

    /// Largest payload after decompression, in bytes.
    pub fn max_payload_len(&self) -> usize {
        self.max_payload_len
    }

    /// Deepest nesting of lists and dicts.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
}

/// Builds [`DecodeLimits`]; each method sets the limit of the same name.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct DecodeLimitsBuilder {
    limits: DecodeLimits,
}

impl DecodeLimitsBuilder {
    /// Longest cookie value accepted, in bytes (16 KiB; browsers send at most about 4 KiB
    /// per cookie).
    pub fn max_cookie_len(mut self, bytes: usize) -> Self {
        self.limits.max_cookie_len = bytes;
        self
    }

    /// Largest payload after decompression, in bytes (256 KiB).
    pub fn max_payload_len(mut self, bytes: usize) -> Self {
        self.limits.max_payload_len = bytes;
        self
    }

    /// Deepest nesting of lists and dicts (64).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.limits.max_depth = depth;
        self
    }

    /// The limits (any values are valid; a smaller limit only rejects more).
    pub fn build(self) -> DecodeLimits {
        self.limits
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_cookie_len: 16 * 1024,
            max_payload_len: 256 * 1024,
            max_depth: 64,
        }
    }
}

/// Why a cookie was rejected. Each variant maps to one itsdangerous exception class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than [`DecodeLimits::max_cookie_len`]; nothing else was looked at.
    #[error("cookie is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The cookie's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// No separator, or a signature that no key produced over an untimed value.
    #[error("bad signature: {0}")]
    BadSignature(#[source] SignatureError),
    /// A signature no key produced, or a malformed timestamp.
    #[error("bad signature: {0}")]
    BadTimeSignature(#[source] SignatureError),
    /// Validly signed, but older than the maximum age or signed in the future.
    #[error("{}", describe_age(*.age, *.max_age))]
    Expired {
        /// `now - timestamp`; negative when the timestamp is in the future.
        age: i128,
        /// The limit.
        max_age: u64,
    },
    /// Validly signed, but the payload does not decode.
    #[error("bad payload: {0}")]
    BadPayload(#[source] BadPayload),
    /// An encrypted cookie that does not open (see [`CookieCipher`](super::CookieCipher)).
    #[error("cannot decrypt: {0}")]
    Encrypted(#[source] super::encrypted::CipherError),
}

/// "signed 90 s ago, max age 60 s", or for a timestamp ahead of the clock "signed 5 s in the
/// future".
fn describe_age(age: i128, max_age: u64) -> String {
    if age < 0 {
        format!(
            "signed {} s in the future (max age {max_age} s)",
            age.unsigned_abs()
        )
    } else {
        format!("signed {age} s ago, max age {max_age} s")
    }
}

/// What was wrong inside a validly signed payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BadPayload {
    /// base64 or zlib failed, or the payload was too large.
    #[error(transparent)]
    Encoding(#[from] PayloadError),
    /// The JSON is not UTF-8.
    #[error("payload is not UTF-8")]
    Utf8(#[source] std::str::Utf8Error),
    /// The JSON is malformed or too deep.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// A tagged value is malformed.
    #[error(transparent)]
    Tag(#[from] TagError),
}

impl DecodeError {
    /// A stable short name for logs and the CLI: `too-large`, `bad-signature`, `expired`,
    /// or `bad-payload`.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too-large",
            DecodeError::BadSignature(_)
            | DecodeError::BadTimeSignature(_)
            | DecodeError::Encrypted(_) => "bad-signature",
            DecodeError::Expired { .. } => "expired",
            DecodeError::BadPayload(_) => "bad-payload",
        }
    }

    /// The itsdangerous exception Python raises for the same cookie.
    pub fn itsdangerous_class(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. }
            | DecodeError::BadSignature(_)
            | DecodeError::Encrypted(_) => "BadSignature",
            DecodeError::BadTimeSignature(_) => "BadTimeSignature",
            DecodeError::Expired { .. } => "SignatureExpired",
            DecodeError::BadPayload(_) => "BadPayload",
        }
    }
}

impl From<TimedError> for DecodeError {
    fn from(e: TimedError) -> Self {
        match e {
            TimedError::BadSignature(cause) => DecodeError::BadSignature(cause),
            TimedError::BadTimeSignature(cause) => DecodeError::BadTimeSignature(cause),
            TimedError::Expired { age, max_age } => DecodeError::Expired { age, max_age },
        }
    }
}

impl<E: Into<BadPayload>> From<E> for DecodeError {
    fn from(e: E) -> Self {
        DecodeError::BadPayload(e.into())
    }
}

/// A cookie that verified and decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The session value (a dict for any cookie Flask wrote).
    pub value: Value,
    /// When the cookie was signed, in Unix seconds.
    pub timestamp: u64,
    /// Which key signed it; anything but `Current` is due for re-signing.
    pub key: KeyMatch,
}

/// Encodes and decodes Flask session cookies.
///
/// ```
/// use flacon::codec::CookieCodec;
/// use flacon::{KeyRing, SecretKey, Value};
/// let codec = CookieCodec::flask(&KeyRing::new(SecretKey::from_text("dev-secret-key")));
/// let session = flacon::codec::from_tagged_json(r#"{"a":1}"#).unwrap();
/// let cookie = codec.encode(&session, 1_700_000_000);
/// assert_eq!(cookie, "eyJhIjoxfQ.ZVPxAA.tnwKd8EGenglSGAk3sS75AOJh7w");
/// let decoded = codec.decode(&cookie, Some(2_678_400), 1_700_000_001).unwrap();
/// assert_eq!(decoded.value, session);
/// ```
#[derive(Debug, Clone)]
pub struct CookieCodec {
    signer: TimestampSigner,
    limits: DecodeLimits,
}

impl CookieCodec {
    /// Flask's configuration: salt `cookie-session`, HMAC key derivation, SHA-1.
    pub fn flask(keys: &KeyRing) -> Self {
        Self::with_salt(keys, FLASK_SALT, KeyDerivation::Hmac)
    }

    /// Another itsdangerous configuration of the same layers.
    pub fn with_salt(keys: &KeyRing, salt: &[u8], derivation: KeyDerivation) -> Self {
        CookieCodec {
            signer: TimestampSigner::new(Signer::new(keys, salt, derivation)),
            limits: DecodeLimits::default(),
        }
    }

    /// Replaces the decoding limits.
    #[must_use]
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The decoding limits in force.
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }

    /// The cookie value for `value` signed at `timestamp` (Unix seconds).
    pub fn encode(&self, value: &Value, timestamp: u64) -> String {
        let json = to_tagged_json(value);
        let mut cookie = String::with_capacity(json.len() * 4 / 3 + 40);
        push_payload(&mut cookie, json.as_bytes());
        self.signer.sign_in_place(&mut cookie, timestamp);
        cookie
    }

    /// Re-signs, at `timestamp`, a payload segment that verified with this codec: the cookie
    /// Flask would write for the same, unchanged, session, without serializing and
    /// compressing it again.
    pub fn resign(&self, payload_segment: &str, timestamp: u64) -> String {
        // Room for ".timestamp.signature": at most 1 + 11 + 1 + 27 characters.
        let mut cookie = String::with_capacity(payload_segment.len() + 40);
        cookie.push_str(payload_segment);
        self.signer.sign_in_place(&mut cookie, timestamp);
        cookie
    }

    /// The payload segment of a cookie (everything before its timestamp).
    pub fn payload_segment(cookie: &str) -> Option<&str> {
        cookie.rsplitn(3, '.').nth(2)
    }

    /// Verifies `cookie` (signature, then age when `max_age` is given, at time `now`) and
    /// decodes its payload. The MAC is checked before any byte of the payload is decoded.
    pub fn decode(
        &self,
        cookie: &str,
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Decoded, DecodeError> {
        self.check_len(cookie)?;
        let unsigned = self.signer.unsign(cookie, max_age, now)?;
        Ok(Decoded {
            value: self.decode_payload(unsigned.value)?,
            timestamp: unsigned.timestamp,
            key: unsigned.key,
        })
    }

    /// Verifies `cookie` as [`decode`](Self::decode) does and, instead of decoding its
    /// payload, says whether the payload's JSON might contain `needle` (a key name): `false`
    /// is certain; `true` when it does, when it could spell it with an escape, or when the
    /// payload is compressed (inflating costs what decoding does). Returns the key that
    /// verified the cookie with the answer.
    pub fn verify_and_probe(
        &self,
        cookie: &str,
        max_age: Option<u64>,
        now: u64,
        needle: &str,
    ) -> Result<(KeyMatch, bool), DecodeError> {
        self.check_len(cookie)?;
        let unsigned = self.signer.unsign(cookie, max_age, now)?;
        if unsigned.value.starts_with('.') {
            return Ok((unsigned.key, true));
        }
        let needle = needle.as_bytes();
        let may_contain = with_payload(unsigned.value, self.limits.max_payload_len, |json| {
            json.contains(&b'\\')
                || (!needle.is_empty() && json.windows(needle.len()).any(|w| w == needle))
        })?;
        Ok((unsigned.key, may_contain))
    }

    /// Decodes the payload of `cookie` without checking its signature or age: for
    /// inspecting a cookie whose key you do not have. Never trust the result.
    pub fn decode_unverified(&self, cookie: &str) -> Result<Value, DecodeError> {
        self.check_len(cookie)?;
        let payload = Self::payload_segment(cookie)
            .ok_or(DecodeError::BadSignature(SignatureError::NoSeparator))?;
        self.decode_payload(payload)
    }

    fn check_len(&self, cookie: &str) -> Result<(), DecodeError> {
        if cookie.len() > self.limits.max_cookie_len {
            return Err(DecodeError::TooLarge {
                len: cookie.len(),
                limit: self.limits.max_cookie_len,
            });
        }
        Ok(())
    }

    fn decode_payload(&self, segment: &str) -> Result<Value, DecodeError> {
        let parsed = with_payload(segment, self.limits.max_payload_len, |json| {
            let text = std::str::from_utf8(json).map_err(BadPayload::Utf8)?;
            Ok::<_, BadPayload>(python_json::parse(text, self.limits.max_depth)?)
        })??;
        Ok(tagged::untag(parsed)?)
    }
}

/// `value` as Flask's tagged JSON text: sorted keys, compact, ASCII-escaped.
pub fn to_tagged_json(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    tagged::write(&mut out, value);
    out
}

/// Parses Flask's tagged JSON text into a value, with the default depth limit.
pub fn from_tagged_json(text: &str) -> Result<Value, BadPayload> {
    let parsed = python_json::parse(text, DecodeLimits::default().max_depth)?;
    Ok(tagged::untag(parsed)?)
}
