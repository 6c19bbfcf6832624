//! Finding the weak key a cookie was signed with, as security teams do with flask-unsign:
//! every candidate key is derived as Flask derives it (HMAC-SHA1 over the `cookie-session`
//! salt) and checked against each cookie's signature. One keyed HMAC state per candidate,
//! cloned for each cookie; nothing allocated per try.
//!
//! ```
//! use flacon::codec::{CookieCodec, KeyAudit};
//! use flacon::{KeyRing, SecretKey};
//! let cookie = CookieCodec::flask(&KeyRing::new(SecretKey::from_text("dev")))
//!     .encode(&flacon::codec::from_tagged_json("{}").unwrap(), 1_700_000_000);
//! let audit = KeyAudit::new([cookie.as_str()]).unwrap();
//! let found = KeyAudit::built_in_keys().find(|key| audit.signed_by(key).is_some());
//! assert_eq!(found, Some(&b"dev"[..]));
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::cookie::FLASK_SALT;
use super::signer::SignatureError;
use super::DecodeError;

type HmacSha1 = Hmac<Sha1>;

struct Target {
    /// What the signature covers: `payload.timestamp`.
    signed: Vec<u8>,
    signature: [u8; 20],
}

/// Cookies to audit, parsed once.
pub struct KeyAudit {
    targets: Vec<Target>,
}

impl std::fmt::Debug for KeyAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAudit")
            .field("cookies", &self.targets.len())
            .finish()
    }
}

impl KeyAudit {
    /// The cookies to audit; an error for one without a signature of Flask's shape.
    pub fn new<'a>(cookies: impl IntoIterator<Item = &'a str>) -> Result<Self, DecodeError> {
        let targets = cookies
            .into_iter()
            .map(|cookie| {
                let cookie = cookie.trim();
                let (signed, signature) = cookie
                    .rsplit_once('.')
                    .ok_or(DecodeError::BadSignature(SignatureError::NoSeparator))?;
                let signature: [u8; 20] = URL_SAFE_NO_PAD
                    .decode(signature)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or(DecodeError::BadSignature(SignatureError::Mismatch))?;
                Ok(Target {
                    signed: signed.as_bytes().to_vec(),
                    signature,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(KeyAudit { targets })
    }

    /// How many cookies are audited.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether no cookie is audited.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The index of the first cookie `key` signed, if any.
    pub fn signed_by(&self, key: &[u8]) -> Option<usize> {
        let mut derive = HmacSha1::new_from_slice(key).ok()?;
        derive.update(FLASK_SALT);
        let derived = derive.finalize().into_bytes();
        let keyed = HmacSha1::new_from_slice(&derived).ok()?;
        self.targets.iter().position(|target| {
            let mut mac = keyed.clone();
            mac.update(&target.signed);
            mac.finalize().into_bytes().as_slice() == target.signature
        })
    }

    /// The keys tried by default: the published examples `flacon key check` names, then
    /// the 52,828 keys of flask-unsign's wordlist.
    pub fn built_in_keys() -> impl Iterator<Item = &'static [u8]> {
        crate::keys::KNOWN_EXAMPLE_KEYS
            .iter()
            .map(|key| key.as_bytes())
            .chain(crate::weak_keys::all())
    }
}
