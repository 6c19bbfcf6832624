//! Flask-WTF's CSRF tokens: [`Csrf::generate`] issues tokens a Flask-WTF app accepts, and
//! [`Csrf::validate`] checks the ones it issues, so a form served by either side can be
//! posted to the other.
//!
//! Flask-WTF keeps a random secret in the session (`csrf_token`: 40 hex characters) and puts
//! in the form that secret signed with a timestamp by itsdangerous' `URLSafeTimedSerializer`
//! (salt `wtf-csrf-token`, itsdangerous' default key derivation, SHA-1), valid for
//! `WTF_CSRF_TIME_LIMIT` (3600 s). A form token is therefore tied to one session and expires.
//!
//! ```
//! use flacon::csrf::{Csrf, CsrfError};
//! use flacon::{KeyRing, SecretKey, Session};
//! let csrf = Csrf::new(&KeyRing::new(SecretKey::from_text("the app's secret key")));
//! let session = Session::detached();
//! let token = csrf.generate(&session, 1_700_000_000).unwrap();
//! assert_eq!(csrf.validate(&session, &token, 1_700_000_100), Ok(()));
//! assert_eq!(csrf.validate(&session, &token, 1_700_003_601), Err(CsrfError::Expired));
//! assert_eq!(csrf.validate(&Session::detached(), &token, 1_700_000_100), Err(CsrfError::SessionTokenMissing));
//! ```

use std::time::Duration;

use crate::codec::{
    load_payload, push_payload, KeyDerivation, Signer, TimedError, TimestampSigner,
};
use crate::value::{hex_of, Value};
use crate::{KeyError, KeyRing, Session};
use subtle::ConstantTimeEq as _;

/// Flask-WTF's `WTF_CSRF_FIELD_NAME`: the session key and the form field.
pub const CSRF_FIELD: &str = crate::session::CSRF_SECRET_KEY;
/// The salt Flask-WTF signs tokens with.
const SALT: &[u8] = b"wtf-csrf-token";
/// Flask-WTF's `WTF_CSRF_TIME_LIMIT`.
const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(3600);
/// A token is a few dozen bytes; anything much longer is not one.
const MAX_TOKEN: usize = 512;

/// Why a form's CSRF token was refused, with Flask-WTF's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfError {
    /// The form carried no token.
    #[error("The CSRF token is missing.")]
    Missing,
    /// The session holds no CSRF secret (it expired, or the form came from elsewhere).
    #[error("The CSRF session token is missing.")]
    SessionTokenMissing,
    /// The token is older than the time limit.
    #[error("The CSRF token has expired.")]
    Expired,
    /// The token is not one this key signed.
    #[error("The CSRF token is invalid.")]
    Invalid,
    /// The token was issued for another session.
    #[error("The CSRF tokens do not match.")]
    Mismatch,
}

/// Issues and checks Flask-WTF CSRF tokens with an app's keys.
#[derive(Debug, Clone)]
pub struct Csrf {
    signer: TimestampSigner,
    time_limit: Option<Duration>,
    field: String,
}

impl Csrf {
    /// Tokens signed with `keys` (Flask-WTF's `WTF_CSRF_SECRET_KEY`, by default the app's
    /// `SECRET_KEY`; fallback keys are accepted when validating), valid for an hour.
    pub fn new(keys: &KeyRing) -> Self {
        Csrf {
            signer: TimestampSigner::new(Signer::new(keys, SALT, KeyDerivation::DjangoConcat)),
            time_limit: Some(DEFAULT_TIME_LIMIT),
            field: CSRF_FIELD.to_owned(),
        }
    }

    /// `WTF_CSRF_TIME_LIMIT`: how long a token is valid (`None`: for the session's life).
    #[must_use]
    pub fn with_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.time_limit = limit;
        self
    }

    /// `WTF_CSRF_FIELD_NAME` (`csrf_token`): the session key the secret lives under.
    #[must_use]
    pub fn with_field_name(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// A token for a form, signed at `now` (Unix seconds); the session gets its CSRF secret
    /// first if it has none (or one that is not a string), as Flask-WTF's `generate_csrf`.
    /// An error only when the operating system has no randomness for a new secret.
    pub fn generate(&self, session: &Session, now: u64) -> Result<String, KeyError> {
        let secret = match session.get_value(&self.field) {
            Some(Value::Str(secret)) => secret,
            _ => {
                let secret = random_secret()?;
                session.insert_value(self.field.clone(), Value::Str(secret.clone()));
                secret
            }
        };
        let json = crate::codec::to_tagged_json(&Value::Str(secret));
        let mut token = String::with_capacity(96);
        push_payload(&mut token, json.as_bytes());
        self.signer.sign_in_place(&mut token, now);
        Ok(token)
    }

    /// Drops the session's CSRF secret, voiding every token issued for it: what a sign-in
    /// must do, so that a token taken before it (by whoever fixated the session) does not
    /// post as the signed-in user. [`Session::login`] does it for the default field.
    ///
    /// ```
    /// use flacon::csrf::{Csrf, CsrfError};
    /// use flacon::{KeyRing, SecretKey, Session};
    /// let csrf = Csrf::new(&KeyRing::new(SecretKey::from_text("the app's secret key")))
    ///     .with_field_name("_csrf");
    /// let session = Session::detached();
    /// let token = csrf.generate(&session, 1_700_000_000).unwrap();
    /// csrf.rotate(&session);
    /// assert_eq!(csrf.validate(&session, &token, 1_700_000_001), Err(CsrfError::SessionTokenMissing));
    /// ```
    pub fn rotate(&self, session: &Session) {
        session.remove(&self.field);
    }

    /// Checks a form's token against the session at `now`, in Flask-WTF's order: missing,
    /// no session secret, expired or badly signed, then not this session's.
    pub fn validate(&self, session: &Session, token: &str, now: u64) -> Result<(), CsrfError> {
        if token.is_empty() {
            return Err(CsrfError::Missing);
        }
        let Some(Value::Str(secret)) = session.get_value(&self.field) else {
            return Err(CsrfError::SessionTokenMissing);
        };
        if token.len() > MAX_TOKEN {
            return Err(CsrfError::Invalid);
        }
        let max_age = self.time_limit.map(|limit| limit.as_secs());
        let unsigned = self
            .signer
            .unsign(token, max_age, now)
            .map_err(|error| match error {
                TimedError::Expired { .. } => CsrfError::Expired,
                _ => CsrfError::Invalid,
            })?;
        let json = load_payload(unsigned.value, MAX_TOKEN).map_err(|_| CsrfError::Invalid)?;
        let signed_secret = std::str::from_utf8(&json)
            .ok()
            .and_then(|text| crate::codec::python_json::parse(text, 4).ok());
        let Some(Value::Str(signed_secret)) = signed_secret else {
            return Err(CsrfError::Invalid);
        };
        if bool::from(signed_secret.as_bytes().ct_eq(secret.as_bytes())) {
            Ok(())
        } else {
            Err(CsrfError::Mismatch)
        }
    }
}

/// 20 random bytes as 40 lowercase hex characters: what `sha1(os.urandom(64)).hexdigest()`
/// gives Flask-WTF.
fn random_secret() -> Result<String, KeyError> {
    let mut raw = [0_u8; 20];
    getrandom::fill(&mut raw).map_err(KeyError::Random)?;
    Ok(hex_of(&raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::SecretKey;

    #[test]
    fn a_token_taken_before_sign_in_is_void_after_it() {
        let csrf = Csrf::new(&KeyRing::new(SecretKey::from_text(
            "csrf-unit-test-key-0123456789",
        )));
        let session = Session::detached();
        let before = csrf.generate(&session, 1_700_000_000).unwrap();
        assert_eq!(csrf.validate(&session, &before, 1_700_000_001), Ok(()));
        session.login("ada");
        assert_eq!(
            csrf.validate(&session, &before, 1_700_000_002),
            Err(CsrfError::SessionTokenMissing)
        );
        let after = csrf.generate(&session, 1_700_000_003).unwrap();
        assert_eq!(csrf.validate(&session, &after, 1_700_000_004), Ok(()));
        assert_eq!(
            csrf.validate(&session, &before, 1_700_000_005),
            Err(CsrfError::Mismatch)
        );
    }
}
