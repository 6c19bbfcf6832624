//! Flask-Login on flacon sessions: its session keys (`_user_id`, `_fresh`, `_id`,
//! `_remember`, `_remember_seconds`) and its remember-me cookie (`remember_token`, the user
//! id and an HMAC-SHA512 of it under the app's secret key), written and read as Flask-Login
//! 0.6 does, so that a user signed in by a Flask-Login app is signed in for flacon and back,
//! and a remember-me cookie alone restores the login on either side.
//!
//! ```
//! use std::time::Duration;
//! use flacon::flask_login::{session_identifier, FlaskLogin, Remember};
//! use flacon::{KeyRing, SecretKey, Session};
//! let login = FlaskLogin::new(&KeyRing::new(SecretKey::from_text("the app's secret key")));
//! let session = Session::detached();
//! let ident = session_identifier(Some("203.0.113.9"), Some("Mozilla/5.0"));
//! let remember = login.login(&session, "ada", &ident, Remember::For(Duration::from_secs(3600)));
//! assert_eq!(session.user().as_deref(), Some("ada"));
//! let cookie = remember.unwrap();
//! assert!(cookie.starts_with("remember_token=ada|"));
//!
//! // Later, with only the remember-me cookie: the login comes back, not fresh.
//! let value = cookie.split(';').next().unwrap().trim_start_matches("remember_token=");
//! let later = Session::detached();
//! assert_eq!(login.restore(&later, Some(value)).as_deref(), Some("ada"));
//! assert_eq!(later.get::<bool>("_fresh"), Some(false));
//! ```

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha512};

use crate::config::SessionConfig;
use crate::cookie::{deletion_cookie, set_cookie, Expiry};
use crate::session::{FRESH_KEY, USER_KEY};
use crate::value::{hex_of, push_hex, Value};
use crate::{KeyRing, Session};

/// Flask-Login's `REMEMBER_COOKIE_NAME`.
pub const REMEMBER_COOKIE: &str = "remember_token";
/// Flask-Login's key for the identifier of the client that signed in (session protection).
pub const IDENTIFIER_KEY: &str = "_id";
/// Flask-Login's key for a pending remember-me cookie operation (`"set"` or `"clear"`).
pub const REMEMBER_KEY: &str = "_remember";
/// Flask-Login's key for a remember-me duration given at login, in seconds.
pub const REMEMBER_SECONDS_KEY: &str = "_remember_seconds";
/// Flask-Login's `REMEMBER_COOKIE_DURATION`: 365 days.
const DEFAULT_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Whether a login sets the remember-me cookie, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Remember {
    /// No remember-me cookie: the login lasts as long as the session.
    No,
    /// The cookie, for `REMEMBER_COOKIE_DURATION` (365 days unless configured).
    Default,
    /// The cookie, for this long (Flask-Login's `login_user(..., duration=...)`, kept in
    /// the session as `_remember_seconds`).
    For(Duration),
}

/// Flask-Login's behaviour over an app's keys and its `REMEMBER_COOKIE_*` settings.
#[derive(Debug, Clone)]
pub struct FlaskLogin {
    keys: KeyRing,
    cookie: SessionConfig,
    deletion: SessionConfig,
    duration: Duration,
}

impl FlaskLogin {
    /// Flask-Login with its defaults, signing remember-me cookies with `keys`' current key
    /// (a cookie signed with a fallback key is accepted too).
    pub fn new(keys: &KeyRing) -> Self {
        let cookie = SessionConfig::builder()
            .cookie_name(REMEMBER_COOKIE)
            .build()
            .unwrap_or_default();
        FlaskLogin {
            keys: keys.clone(),
            deletion: deletion_config(&cookie),
            cookie,
            duration: DEFAULT_DURATION,
        }
    }

    /// `REMEMBER_COOKIE_NAME`, `_DOMAIN`, `_PATH`, `_SECURE`, `_HTTPONLY`, `_SAMESITE`: the
    /// cookie settings of `config` (its name included) for the remember-me cookie.
    #[must_use]
    pub fn with_cookie(mut self, config: SessionConfig) -> Self {
        self.deletion = deletion_config(&config);
        self.cookie = config;
        self
    }

    /// `REMEMBER_COOKIE_DURATION` (365 days).
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// The remember-me cookie's name.
    pub fn cookie_name(&self) -> &str {
        self.cookie.cookie_name()
    }

    /// Signs `user_id` in as Flask-Login's `login_user` does: `_user_id`, `_fresh = True`,
    /// `_id` = `identifier` (see [`session_identifier`]), `_remember_seconds` for a given
    /// duration; flacon's own login bookkeeping (a new server-side id, the per-user index)
    /// as [`Session::login`]. Returns the `Set-Cookie` value of the remember-me cookie when
    /// one is asked for: Flask-Login sets it at the end of the same request, and so must
    /// the handler.
    pub fn login(
        &self,
        session: &Session,
        user_id: &str,
        identifier: &str,
        remember: Remember,
    ) -> Option<String> {
        session.login(user_id);
        session.update(|data| {
            data.insert(IDENTIFIER_KEY.to_owned(), Value::from(identifier));
            data.shift_remove(REMEMBER_KEY);
            if let Remember::For(duration) = remember {
                data.insert(
                    REMEMBER_SECONDS_KEY.to_owned(),
                    Value::Float(duration.as_secs_f64()),
                );
            }
        });
        let duration = match remember {
            Remember::No => return None,
            Remember::Default => self.duration,
            Remember::For(duration) => duration,
        };
        Some(self.remember_cookie(user_id, duration, crate::policy::system_clock()))
    }

    /// The remember-me `Set-Cookie` value for `user_id`, expiring `duration` after `now`
    /// (Unix seconds).
    pub fn remember_cookie(&self, user_id: &str, duration: Duration, now: u64) -> String {
        let expires = now.saturating_add(duration.as_secs());
        set_cookie(
            &self.cookie,
            &werkzeug_quoted(&self.encode(user_id)),
            Expiry::At(i64::try_from(expires).unwrap_or(i64::MAX)),
        )
    }

    /// The `Set-Cookie` value deleting the remember-me cookie, as Flask-Login writes it
    /// (name, domain and path only).
    pub fn clear_cookie(&self) -> String {
        deletion_cookie(&self.deletion)
    }

    /// Flask-Login's `encode_cookie`: `user_id|hex(HMAC-SHA512(secret key, user_id))`.
    pub fn encode(&self, user_id: &str) -> String {
        let digest = hex_of(&digest(self.keys.current().as_bytes(), user_id));
        format!("{user_id}|{digest}")
    }

    /// Flask-Login's `decode_cookie`: the user id, if the digest is right for one of the
    /// keys (compared in constant time).
    pub fn decode(&self, cookie: &str) -> Option<String> {
        let (user_id, hex_digest) = cookie.rsplit_once('|')?;
        let given = decode_hex_64(hex_digest)?;
        self.keys.iter().find_map(|(_, key)| {
            let mut mac = keyed(key.as_bytes());
            mac.update(user_id.as_bytes());
            mac.verify_slice(&given).ok().map(|()| user_id.to_owned())
        })
    }

    /// What Flask-Login does when a request's session has no user: with a valid
    /// remember-me cookie (`cookie`, the value the request carried) and no pending `"clear"`,
    /// the user is signed in again, not fresh (`_user_id`, `_fresh = False`). Returns the
    /// user now signed in, whether restored or already there.
    pub fn restore(&self, session: &Session, cookie: Option<&str>) -> Option<String> {
        if let Some(user) = session.user() {
            return Some(user);
        }
        let cleared =
            matches!(session.get_value(REMEMBER_KEY), Some(Value::Str(op)) if op == "clear");
        let user = self.decode(cookie?).filter(|_| !cleared)?;
        session.update(|data| {
            data.insert(USER_KEY.to_owned(), Value::from(user.as_str()));
            data.insert(FRESH_KEY.to_owned(), Value::Bool(false));
        });
        Some(user)
    }
}

/// The deletion cookie Flask-Login sends: `delete_cookie(name, domain=, path=)`, Werkzeug's
/// defaults for everything else.
fn deletion_config(cookie: &SessionConfig) -> SessionConfig {
    SessionConfig::builder()
        .cookie_name(cookie.cookie_name())
        .cookie_domain(cookie.cookie_domain().map(str::to_owned))
        .cookie_path(cookie.cookie_path())
        .cookie_http_only(false)
        .cookie_secure(false)
        .cookie_same_site(None)
        .build()
        .unwrap_or_default()
}

type HmacSha512 = Hmac<Sha512>;

fn keyed(key: &[u8]) -> HmacSha512 {
    // HMAC takes a key of any length; the error arm cannot happen.
    HmacSha512::new_from_slice(key).unwrap_or_else(|_| HmacSha512::new(&Default::default()))
}

fn digest(key: &[u8], user_id: &str) -> [u8; 64] {
    let mut mac = keyed(key);
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Flask-Login's `_create_identifier`: SHA-512 (hex) of `"{addr}|{agent}"` where both are
/// Python `bytes` reprs (`b'203.0.113.9'|b'Mozilla/5.0'`, `None` when absent), `addr` being
/// the first entry of `X-Forwarded-For` if the request has one, else the peer's address.
///
/// ```
/// let ident = flacon::flask_login::session_identifier(Some("127.0.0.1"), None);
/// assert_eq!(ident.len(), 128);
/// ```
pub fn session_identifier(remote_addr: Option<&str>, user_agent: Option<&str>) -> String {
    let addr = remote_addr.map(|a| a.split(',').next().unwrap_or_default().trim());
    let base = format!(
        "{}|{}",
        addr.map_or_else(|| "None".to_owned(), |a| python_bytes_repr(a.as_bytes())),
        user_agent.map_or_else(|| "None".to_owned(), |a| python_bytes_repr(a.as_bytes()))
    );
    hex_of(&Sha512::digest(base.as_bytes()))
}

/// The remote address Flask-Login sees for a request: `X-Forwarded-For` if present, else
/// the peer's.
pub fn remote_addr(
    headers: &http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> Option<String> {
    headers
        .get("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or_else(|| peer.map(|p| p.ip().to_string()))
}

/// 128 lowercase hex digits as 64 bytes.
fn decode_hex_64(text: &str) -> Option<[u8; 64]> {
    let digits = text.as_bytes();
    if digits.len() != 128 {
        return None;
    }
    let mut out = [0_u8; 64];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        // Lowercase only: Flask-Login compares the hex text itself.
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Some(u32::from(d - b'0')),
            b'a'..=b'f' => Some(u32::from(d - b'a' + 10)),
            _ => None,
        };
        *byte = u8::try_from(nibble(*pair.first()?)? * 16 + nibble(*pair.get(1)?)?).ok()?;
    }
    Some(out)
}

/// Python's `repr(bytes)`: `b'...'`, or `b"..."` when the bytes hold `'` and no `"`.
fn python_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(char::from(quote));
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => {
                out.push_str("\\x");
                push_hex(&mut out, b);
            }
        }
    }
    out.push(char::from(quote));
    out
}

/// A cookie value as Werkzeug's `dump_cookie` writes it: as is when every character is in
/// its safe set, else in double quotes with `"`, `\`, `,`, `;`, control and non-ASCII bytes
/// escaped (`\"`, `\\`, octal `\054`).
fn werkzeug_quoted(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_!#$%&'()*+-./:<=>?@[]^`{|}~".contains(c);
    if value.chars().all(safe) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for &b in value.as_bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x00..=0x19 | b',' | b';' | 0x7f..=0xff => out.push_str(&format!("\\{b:03o}")),
            b => out.push(char::from(b)),
        }
    }
    out.push('"');
    out
}
