//! Secret keys, the key ring (current key plus fallbacks) and the weak-key check.
//!
//! Flask signs with `SECRET_KEY` and, since 3.1, also accepts cookies signed with any key in
//! `SECRET_KEY_FALLBACKS`. [`KeyRing`] is that pair: sign with the current key, verify with
//! the current key first and then each fallback, and report which one matched so a caller
//! can re-sign cookies that still carry an old key.

use std::fmt;

use zeroize::Zeroizing;

/// A secret key. Its bytes never appear in `Debug` or `Display` output.
///
/// A text key is used as its UTF-8 bytes, as itsdangerous does for a Python `str`.
///
/// ```
/// use flacon::SecretKey;
/// let key = SecretKey::from_text("correct horse battery staple 42");
/// assert_eq!(format!("{key:?}"), "SecretKey(<redacted, 31 bytes>)");
/// assert_eq!(key.as_bytes(), b"correct horse battery staple 42");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl SecretKey {
    /// A key from text (its UTF-8 bytes).
    pub fn from_text(text: &str) -> Self {
        SecretKey(Zeroizing::new(text.as_bytes().to_vec()))
    }

    /// A key from raw bytes (a Python `bytes` key).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        SecretKey(Zeroizing::new(bytes.into()))
    }

    /// A key from hexadecimal text of its bytes.
    pub fn from_hex(hex: &str) -> Result<Self, KeyError> {
        let hex = hex.trim();
        if !hex.len().is_multiple_of(2) {
            return Err(KeyError::BadHex);
        }
        let bytes = hex
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(KeyError::BadHex)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key: 32 bytes from the OS generator, written as 64 lowercase hex
    /// characters (the key is the text, as with Python's `secrets.token_hex()`).
    pub fn generate() -> Result<Self, KeyError> {
        let mut raw = Zeroizing::new([0_u8; 32]);
        getrandom::fill(raw.as_mut()).map_err(KeyError::Random)?;
        let text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self::from_text(&text))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Checks that this key is fit to issue cookies: see [`WeakKey`] for what is refused.
    pub fn check_strength(&self) -> Result<(), WeakKey> {
        check_strength(self.as_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted, {} bytes>)", self.0.len())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted secret key>")
    }
}

/// Why a key could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The hex text had an odd length or a non-hex character.
    #[error("the key is not valid hexadecimal")]
    BadHex,
    /// The operating system's random generator failed.
    #[error("the random generator failed: {0}")]
    Random(getrandom::Error),
}

/// Which key of a [`KeyRing`] verified a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// The current key.
    Current,
    /// The fallback at this index in [`KeyRing::fallbacks`].
    Fallback(usize),
}

/// The current key and the older keys still accepted for verification.
///
/// ```
/// use flacon::{KeyRing, SecretKey};
/// let ring = KeyRing::new(SecretKey::from_text("new key, long and varied 2026"))
///     .with_fallback(SecretKey::from_text("old key, long and varied 2025"));
/// assert_eq!(ring.fallbacks().len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SecretKey,
    fallbacks: Vec<SecretKey>,
}

impl KeyRing {
    /// A ring with only the current key.
    pub fn new(current: SecretKey) -> Self {
        KeyRing {
            current,
            fallbacks: Vec::new(),
        }
    }

    /// Adds an older key accepted for verification. Fallbacks are tried in the order added.
    #[must_use]
    pub fn with_fallback(mut self, key: SecretKey) -> Self {
        self.fallbacks.push(key);
        self
    }

    /// The signing key.
    pub fn current(&self) -> &SecretKey {
        &self.current
    }

    /// The verification-only keys.
    pub fn fallbacks(&self) -> &[SecretKey] {
        &self.fallbacks
    }

    /// Checks every key of the ring as [`SecretKey::check_strength`] does. A weak fallback
    /// is as dangerous as a weak current key: a cookie forged with it is accepted, and then
    /// re-signed with the current key. The first weak key is reported with its place.
    ///
    /// ```
    /// use flacon::{KeyMatch, KeyRing, SecretKey};
    /// let ring = KeyRing::new(SecretKey::from_text("new key, long and varied 2026"))
    ///     .with_fallback(SecretKey::from_text("dev"));
    /// let weak = ring.check_strength().unwrap_err();
    /// assert_eq!(weak.key, KeyMatch::Fallback(0));
    /// ```
    pub fn check_strength(&self) -> Result<(), WeakRingKey> {
        self.iter().try_for_each(|(key, secret)| {
            secret
                .check_strength()
                .map_err(|weakness| WeakRingKey { key, weakness })
        })
    }

    /// A ring whose every key passed [`check_strength`](Self::check_strength): the checked
    /// way to build one from configuration.
    ///
    /// ```
    /// use flacon::{KeyRing, SecretKey};
    /// let current = SecretKey::from_text("new key, long and varied 2026");
    /// assert!(KeyRing::strong(current.clone(), [SecretKey::from_text("BAD_SECRET_KEY")]).is_err());
    /// assert!(KeyRing::strong(current, []).is_ok());
    /// ```
    pub fn strong(
        current: SecretKey,
        fallbacks: impl IntoIterator<Item = SecretKey>,
    ) -> Result<Self, WeakRingKey> {
        let ring = KeyRing {
            current,
            fallbacks: fallbacks.into_iter().collect(),
        };
        ring.check_strength()?;
        Ok(ring)
    }

    /// Says in the log, when a layer is built over this ring, that a key of it is weak: the
    /// library cannot refuse a ring it is handed (tests and demos use weak keys on purpose),
    /// but nobody should serve one without being told.
    pub(crate) fn warn_if_weak(&self) {
        if let Err(weak) = self.check_strength() {
            tracing::warn!(%weak, "sessions are signed or checked with a weak key: anyone who guesses it can forge them (KeyRing::strong refuses such rings)");
        }
    }

    /// Every key in verification order: current first, then fallbacks, with how each is named.
    pub fn iter(&self) -> impl Iterator<Item = (KeyMatch, &SecretKey)> {
        std::iter::once((KeyMatch::Current, &self.current)).chain(
            self.fallbacks
                .iter()
                .enumerate()
                .map(|(i, k)| (KeyMatch::Fallback(i), k)),
        )
    }
}

impl From<SecretKey> for KeyRing {
    fn from(key: SecretKey) -> Self {
        KeyRing::new(key)
    }
}

/// A key of a [`KeyRing`] failed the weak-key check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is weak: {weakness}", match .key { KeyMatch::Current => "the current key".to_owned(), KeyMatch::Fallback(i) => format!("fallback key {}", i + 1) })]
pub struct WeakRingKey {
    /// Which key.
    pub key: KeyMatch,
    /// Why it is weak.
    pub weakness: WeakKey,
}

/// The shortest key accepted to issue cookies, in bytes.
pub(crate) const MIN_KEY_LEN: usize = 16;

/// Why a key is too weak to issue cookies with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WeakKey {
    /// Fewer than 16 bytes (less than 128 bits).
    #[error("too short: {len} bytes, at least {MIN_KEY_LEN} needed")]
    TooShort {
        /// The key's length.
        len: usize,
    },
    /// Too few distinct bytes to be random (such as `aaaaaaaaaaaaaaaa` or `0101010101010101`).
    #[error("too little variety: only {distinct} distinct characters")]
    LowVariety {
        /// How many distinct bytes the key has.
        distinct: usize,
    },
    /// A key published in documentation, tutorials or well-known leaked defaults.
    #[error("a published example key ({0:?}): anyone can forge cookies signed with it")]
    KnownExample(&'static str),
    /// A key found in public code (one of the 52,828 of flask-unsign's wordlist, which
    /// attackers try first).
    #[error("a key published in public code (on flask-unsign's wordlist): anyone can forge cookies signed with it")]
    Published,
}

/// Keys printed in framework docs, tutorials and leaked default configurations. Compared
/// case-insensitively, ignoring surrounding whitespace and quotes.
pub(crate) const KNOWN_EXAMPLE_KEYS: &[&str] = &[
    "BAD_SECRET_KEY",
    "dev",
    "development",
    "development key",
    "secret",
    "secret key",
    "secret-key",
    "secret_key",
    "secretkey",
    "changeme",
    "change-me",
    "change_me",
    "change this",
    "changethis",
    "super secret key",
    "super-secret-key",
    "supersecretkey",
    "super secret",
    "supersecret",
    "my secret key",
    "mysecretkey",
    "mysecret",
    "your-secret-key",
    "your_secret_key",
    "yoursecretkey",
    "your-secret-key-here",
    "replace-me",
    "please-change-me",
    "default",
    "password",
    "keyboard cat",
    "notasecret",
    "insecure",
    "test",
    "testing",
    "s3cr3t",
    "thisisasecretkey",
    "this-is-a-secret-key",
    "this is a secret key",
    "flask-secret-key",
    "flask_secret_key",
    "dev-secret-key",
    "dev_secret_key",
    "you-will-never-guess",
    "hard to guess string",
    "hard-to-guess-string",
    "a default secret that should be overridden by instance config",
    "ThisIsNotASecret",
    "1234567890abcdef",
    "0123456789abcdef",
    "abcdefghijklmnop",
    "secret-key-goes-here",
    "temporary secret key",
];

fn check_strength(key: &[u8]) -> Result<(), WeakKey> {
    let normalized = String::from_utf8_lossy(key);
    let normalized = normalized.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(known) = KNOWN_EXAMPLE_KEYS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(normalized) || k.as_bytes() == key)
    {
        return Err(WeakKey::KnownExample(known));
    }
    // Flask's docs print `b'_5#y2L"F4Q8z\n\xec]/'`; Django's generated keys carry this marker.
    if key == b"_5#y2L\"F4Q8z\n\xec]/" {
        return Err(WeakKey::KnownExample("_5#y2L\"F4Q8z\\n\\xec]/"));
    }
    if normalized.starts_with("django-insecure-") {
        return Err(WeakKey::KnownExample("django-insecure-…"));
    }
    if crate::weak_keys::is_published(key) {
        return Err(WeakKey::Published);
    }
    if key.len() < MIN_KEY_LEN {
        return Err(WeakKey::TooShort { len: key.len() });
    }
    let mut seen = [false; 256];
    for &b in key {
        if let Some(slot) = seen.get_mut(usize::from(b)) {
            *slot = true;
        }
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < 8 {
        return Err(WeakKey::LowVariety { distinct });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_key_and_published_keys_are_refused() {
        for key in [
            "BAD_SECRET_KEY",
            "dev",
            "secret",
            "changeme",
            "Keyboard Cat",
        ] {
            assert!(
                matches!(
                    SecretKey::from_text(key).check_strength(),
                    Err(WeakKey::KnownExample(_))
                ),
                "{key}"
            );
        }
        assert!(SecretKey::from_bytes(b"_5#y2L\"F4Q8z\n\xec]/".to_vec())
            .check_strength()
            .is_err());
        assert!(
            SecretKey::from_text("django-insecure-3x@mpl3k3y+abcdefghijklmnopqrstu")
                .check_strength()
                .is_err()
        );
    }

    #[test]
    fn short_and_repetitive_keys_are_refused() {
        assert_eq!(
            SecretKey::from_text("short-but-7").check_strength(),
            Err(WeakKey::TooShort { len: 11 })
        );
        assert_eq!(
            SecretKey::from_text("abababababababababab").check_strength(),
            Err(WeakKey::LowVariety { distinct: 2 })
        );
    }

    #[test]
    fn generated_keys_are_strong_and_distinct() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes().len(), 64);
        assert_eq!(a.check_strength(), Ok(()));
    }

    #[test]
    fn secrets_never_print() {
        let key = SecretKey::from_text("hunter2-hunter2-hunter2");
        assert!(!format!("{key:?}{key}").contains("hunter2"));
        let ring = KeyRing::new(key.clone()).with_fallback(key);
        assert!(!format!("{ring:?}").contains("hunter2"));
    }

    #[test]
    fn a_weak_fallback_fails_the_ring_as_a_weak_current_key_does() {
        let strong = SecretKey::from_text("a strong current key, 2026-12");
        let ring = KeyRing::new(strong.clone())
            .with_fallback(SecretKey::from_text("another strong key, 2025-11"))
            .with_fallback(SecretKey::from_text("dev"));
        assert_eq!(
            ring.check_strength(),
            Err(WeakRingKey {
                key: KeyMatch::Fallback(1),
                weakness: WeakKey::KnownExample("dev")
            })
        );
        assert_eq!(
            ring.check_strength().unwrap_err().to_string(),
            "fallback key 2 is weak: a published example key (\"dev\"): anyone can forge cookies signed with it"
        );
        let weak_current = KeyRing::new(SecretKey::from_text("secret")).with_fallback(strong);
        assert_eq!(
            weak_current.check_strength().map_err(|w| w.key),
            Err(KeyMatch::Current)
        );
        assert!(
            KeyRing::strong(SecretKey::from_text("a strong current key, 2026-12"), [])
                .is_ok_and(|ring| ring.check_strength().is_ok())
        );
    }

    #[test]
    fn hex_keys_decode_exactly() {
        let key = SecretKey::from_hex("fffe0073").unwrap();
        assert_eq!(key.as_bytes(), &[0xff, 0xfe, 0x00, 0x73]);
        assert!(SecretKey::from_hex("abc").is_err());
        assert!(SecretKey::from_hex("zz").is_err());
    }
}
