//! The signer layer (itsdangerous `Signer`): `value.signature`, where the signature is
//! base64url(HMAC-SHA1(derived key, value)) without padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

use crate::keys::{KeyMatch, KeyRing};

type HmacSha1 = Hmac<Sha1>;

/// The separator between a value and its signature.
pub(super) const SEPARATOR: char = '.';

/// Length of a base64url SHA-1 signature without padding.
const SIGNATURE_LEN: usize = 27;

/// How the signing key is derived from the secret and the salt (itsdangerous
/// `Signer.derive_key`). Flask uses [`KeyDerivation::Hmac`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyDerivation {
    /// `HMAC(secret, salt)`: Flask's choice.
    #[default]
    Hmac,
    /// `SHA1(salt + secret)`.
    Concat,
    /// `SHA1(salt + b"signer" + secret)`: itsdangerous' default.
    DjangoConcat,
    /// The secret as is; the salt is ignored.
    None,
}

/// Why a signed value was rejected. Mirrors itsdangerous' `BadSignature` and
/// `BadTimeSignature` without their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// There is no `.` separator at all.
    #[error("no separator found")]
    NoSeparator,
    /// No key produced this signature.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp segment is missing, not base64url, or longer than 8 bytes.
    #[error("malformed timestamp")]
    MalformedTimestamp,
}

/// Signs with the current key of a [`KeyRing`] and verifies with every key in it.
///
/// Derived keys are computed once, when the signer is built; each keyed HMAC state is then
/// cloned per operation, which gives the same bytes as deriving on every call.
///
/// ```
/// use flacon::codec::{KeyDerivation, Signer};
/// use flacon::{KeyRing, SecretKey};
/// let signer = Signer::new(&KeyRing::new(SecretKey::from_text("k")), b"salt", KeyDerivation::Hmac);
/// let signed = signer.sign("hello");
/// assert_eq!(signer.unsign(&signed).unwrap().0, "hello");
/// assert!(signer.unsign("hello.AAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
/// ```
#[derive(Clone)]
pub struct Signer {
    keys: Vec<(KeyMatch, HmacSha1)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `salt` over every key of `ring`.
    pub fn new(ring: &KeyRing, salt: &[u8], derivation: KeyDerivation) -> Self {
        let keys = ring
            .iter()
            .map(|(which, key)| {
                let derived = derive_key(key.as_bytes(), salt, derivation);
                (which, keyed_mac(&derived))
            })
            .collect();
        Signer { keys }
    }

    fn current(&self) -> Option<&HmacSha1> {
        self.keys.first().map(|(_, mac)| mac)
    }

    /// The raw signature of `value` with the current key.
    pub fn signature(&self, value: &[u8]) -> [u8; 20] {
        let mut mac = self.current().cloned().unwrap_or_else(|| keyed_mac(&[]));
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// Appends `.` and the base64url signature of everything already in `signed`.
    pub fn sign_in_place(&self, signed: &mut String) {
        let signature = self.signature(signed.as_bytes());
        signed.push(SEPARATOR);
        URL_SAFE_NO_PAD.encode_string(signature, signed);
    }

    /// `value.signature`.
    pub fn sign(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 1 + SIGNATURE_LEN);
        out.push_str(value);
        self.sign_in_place(&mut out);
        out
    }

    /// Checks `signature` (base64url text) over `value` with each key in turn, in constant
    /// time per key, and says which key matched.
    pub fn verify(&self, value: &[u8], signature: &str) -> Option<KeyMatch> {
        let mut raw = [0_u8; 20];
        // Only the canonical encoding is accepted: itsdangerous also takes padding, the
        // standard alphabet and other trailing bits, which only let the signature vary.
        if signature.len() != SIGNATURE_LEN
            || URL_SAFE_NO_PAD
                .decode_slice(signature.as_bytes(), &mut raw)
                .ok()
                != Some(20)
        {
            return None;
        }
        self.keys.iter().find_map(|(which, keyed)| {
            let mut mac = keyed.clone();
            mac.update(value);
            mac.verify_slice(&raw).ok().map(|()| *which)
        })
    }

    /// Splits `signed` on its last `.` and verifies the signature; returns the value and the
    /// key that signed it.
    pub fn unsign<'a>(&self, signed: &'a str) -> Result<(&'a str, KeyMatch), SignatureError> {
        let (value, signature) = signed
            .rsplit_once(SEPARATOR)
            .ok_or(SignatureError::NoSeparator)?;
        self.verify(value.as_bytes(), signature)
            .map(|which| (value, which))
            .ok_or(SignatureError::Mismatch)
    }
}

fn keyed_mac(key: &[u8]) -> HmacSha1 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha1 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// The derived signing key for `secret` and `salt`.
pub fn derive_key(secret: &[u8], salt: &[u8], derivation: KeyDerivation) -> Vec<u8> {
    match derivation {
        KeyDerivation::Hmac => {
            let mut mac = keyed_mac(secret);
            mac.update(salt);
            mac.finalize().into_bytes().to_vec()
        }
        KeyDerivation::Concat => Sha1::new()
            .chain_update(salt)
            .chain_update(secret)
            .finalize()
            .to_vec(),
        KeyDerivation::DjangoConcat => Sha1::new()
            .chain_update(salt)
            .chain_update(b"signer")
            .chain_update(secret)
            .finalize()
            .to_vec(),
        KeyDerivation::None => secret.to_vec(),
    }
}
