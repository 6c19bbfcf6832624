//! The timestamp layer (itsdangerous `TimestampSigner`): `value.timestamp.signature`, where
//! the timestamp is the signing time in Unix seconds as minimal big-endian bytes, base64url.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::signer::{SignatureError, Signer, SEPARATOR};
use crate::keys::KeyMatch;

/// A value that passed signature and age checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsigned<'a> {
    /// The signed value (for a session cookie: the payload segment).
    pub value: &'a str,
    /// When it was signed, in Unix seconds.
    pub timestamp: u64,
    /// Which key verified it.
    pub key: KeyMatch,
}

/// Why a timed value was rejected, by itsdangerous class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimedError {
    /// itsdangerous `BadSignature`: no separator, or a bad signature over a value that has
    /// no timestamp separator.
    #[error("bad signature: {0}")]
    BadSignature(#[source] SignatureError),
    /// itsdangerous `BadTimeSignature`: a bad signature over a timestamped value, or a
    /// valid signature over a missing or malformed timestamp.
    #[error("bad time signature: {0}")]
    BadTimeSignature(#[source] SignatureError),
    /// itsdangerous `SignatureExpired`: older than the maximum age, or signed in the future.
    #[error("signature age {age}s is outside 0..={max_age}s")]
    Expired {
        /// `now - timestamp`; negative when signed in the future.
        age: i128,
        /// The limit.
        max_age: u64,
    },
}

/// Signs values with the current time and checks their age on the way back.
#[derive(Debug, Clone)]
pub struct TimestampSigner {
    signer: Signer,
}

/// Appends the base64url of `timestamp` as big-endian bytes with leading zeros removed
/// (itsdangerous `int_to_bytes`): time 0 is the empty string.
pub(crate) fn push_timestamp(out: &mut String, timestamp: u64) {
    let bytes = timestamp.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    URL_SAFE_NO_PAD.encode_string(bytes.get(skip..).unwrap_or_default(), out);
}

/// Reads a timestamp segment: 0 to 8 bytes, big-endian, leading zeros allowed.
pub(crate) fn parse_timestamp(segment: &str) -> Result<u64, SignatureError> {
    let mut buf = [0_u8; 9];
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment.as_bytes(), &mut buf)
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    if len > 8 {
        return Err(SignatureError::MalformedTimestamp);
    }
    Ok(buf
        .iter()
        .take(len)
        .fold(0_u64, |acc, b| (acc << 8) | u64::from(*b)))
}

impl TimestampSigner {
    /// Wraps a signer.
    pub fn new(signer: Signer) -> Self {
        TimestampSigner { signer }
    }

    /// The underlying signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Appends `.timestamp.signature` to the value already in `out`.
    pub fn sign_in_place(&self, out: &mut String, timestamp: u64) {
        out.push(SEPARATOR);
        push_timestamp(out, timestamp);
        self.signer.sign_in_place(out);
    }

    /// Verifies the signature, then the timestamp, then the age (when `max_age` is given),
    /// in itsdangerous' order: a tampered cookie is never reported as merely expired.
    pub fn unsign<'a>(
        &self,
        signed: &'a str,
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Unsigned<'a>, TimedError> {
        let (value_and_time, key) = self.signer.unsign(signed).map_err(|cause| {
            let timed = signed
                .rsplit_once(SEPARATOR)
                .is_some_and(|(value, _)| value.contains(SEPARATOR));
            if timed {
                TimedError::BadTimeSignature(cause)
            } else {
                TimedError::BadSignature(cause)
            }
        })?;
        let (value, time_segment) =
            value_and_time
                .rsplit_once(SEPARATOR)
                .ok_or(TimedError::BadTimeSignature(
                    SignatureError::MalformedTimestamp,
                ))?;
        let timestamp = parse_timestamp(time_segment).map_err(TimedError::BadTimeSignature)?;
        if let Some(max_age) = max_age {
            let age = i128::from(now) - i128::from(timestamp);
            if age > i128::from(max_age) || age < 0 {
                return Err(TimedError::Expired { age, max_age });
            }
        }
        Ok(Unsigned {
            value,
            timestamp,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(t: u64) -> String {
        let mut s = String::new();
        push_timestamp(&mut s, t);
        s
    }

    #[test]
    fn timestamps_are_minimal_big_endian() {
        assert_eq!(segment(1_700_000_000), "ZVPxAA");
        assert_eq!(segment(0), "");
        assert_eq!(segment(1 << 32).len(), 7);
        assert_eq!(parse_timestamp("ZVPxAA"), Ok(1_700_000_000));
        assert_eq!(parse_timestamp(""), Ok(0));
        assert_eq!(parse_timestamp("AABlU_EA"), Ok(1_700_000_000));
        assert_eq!(
            parse_timestamp("AAAAAAAAAAAA"),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            parse_timestamp("!!"),
            Err(SignatureError::MalformedTimestamp)
        );
    }
}
