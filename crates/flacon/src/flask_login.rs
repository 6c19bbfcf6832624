//! Flask-Login on flacon sessions: its session keys (`_user_id`, `_fresh`, `_id`,
//! `_remember`, `_remember_seconds`) and its remember-me cookie (`remember_token`: a payload
//! and an HMAC-SHA512 of it under the app's secret key), written and read as Flask-Login
//! 0.6 does, so that a user signed in by a Flask-Login app is signed in for flacon and back,
//! and a remember-me cookie alone restores the login on either side.
//!
//! Flask-Login's own token is the bare user id signed: the same for every login of a user,
//! valid until the key changes, and never revocable. flacon's token carries when it was
//! issued and an id of its own (`user|issued.id`, signed the same way), so that a restore is
//! refused after the user's "log out everywhere", after a logout of that sign-in, or past
//! the absolute timeout; and a restore is a real sign-in ([`Session::login`]: a new
//! server-side id, the per-user index). See [`FlaskLogin::remember_cookie`] for what a
//! Flask app sharing the cookie does with it.
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
//! assert_eq!(login.restore(&later, Some(value), &ident).as_deref(), Some("ada"));
//! assert_eq!(later.get::<bool>("_fresh"), Some(false));
//! ```

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha512};

use crate::config::SessionConfig;
use crate::cookie::{deletion_cookie, set_cookie, Expiry};
use crate::session::{split_stamp, FRESH_KEY, USER_KEY};
use crate::value::{hex_of, push_hex, Value};
use crate::{KeyRing, Session};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Flask-Login's `REMEMBER_COOKIE_NAME`.
pub const REMEMBER_COOKIE: &str = "remember_token";
/// Flask-Login's key for the identifier of the client that signed in (session protection).
pub const IDENTIFIER_KEY: &str = "_id";
/// Flask-Login's key for a pending remember-me cookie operation (`"set"` or `"clear"`).
pub const REMEMBER_KEY: &str = "_remember";
/// Flask-Login's key for a remember-me duration given at login, in seconds.
pub const REMEMBER_SECONDS_KEY: &str = "_remember_seconds";
/// flacon's key for the id of the sign-in's remember-me token, which a logout denies.
pub const REMEMBER_ID_KEY: &str = "_flacon_remember";
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

/// Flask-Login's `SESSION_PROTECTION`: what happens when a signed-in session is used from
/// another client identifier (address and `User-Agent`) than the one it signed in from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionProtection {
    /// Not checked.
    Off,
    /// The login is marked not fresh (Flask-Login's default).
    #[default]
    Basic,
    /// The user is signed out, and the remember-me cookie cleared (permanent sessions are
    /// only marked not fresh, as Flask-Login does).
    Strong,
}

/// What [`FlaskLogin::protect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protected {
    /// Same client, no protection, or nobody signed in.
    Unchanged,
    /// Another client: the login is no longer fresh.
    NotFresh,
    /// Another client, strong protection: signed out.
    SignedOut,
}

/// Flask-Login's session keys, which strong protection removes.
const SESSION_KEYS: [&str; 6] = [
    USER_KEY,
    REMEMBER_KEY,
    REMEMBER_SECONDS_KEY,
    IDENTIFIER_KEY,
    FRESH_KEY,
    "next",
];

/// Flask-Login's behaviour over an app's keys and its `REMEMBER_COOKIE_*` settings.
#[derive(Debug, Clone)]
pub struct FlaskLogin {
    keys: KeyRing,
    cookie: SessionConfig,
    deletion: SessionConfig,
    duration: Duration,
    protection: SessionProtection,
    /// The longest a sign-in may last through its remember-me cookie (the absolute timeout).
    max_age: Option<Duration>,
    /// Whether Flask-Login's own tokens (no issue time) restore a login.
    flask_tokens: bool,
    /// Where tokens are checked and a logout voids them.
    #[cfg(feature = "tokio")]
    revocations: Option<std::sync::Arc<crate::revocation::RevocationRegistry>>,
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
            protection: SessionProtection::default(),
            max_age: None,
            flask_tokens: true,
            #[cfg(feature = "tokio")]
            revocations: None,
        }
    }

    /// The longest a sign-in lasts, remember-me cookie included (the absolute timeout): the
    /// cookie is issued for no longer, a token older than that restores nothing, and neither
    /// does a Flask-Login token, whose age cannot be known.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Voids every remember-me cookie of `user` issued until now ("log out everywhere"),
    /// in the registry given to [`with_revocations`](Self::with_revocations).
    #[cfg(feature = "tokio")]
    pub async fn forget_everywhere(&self, user: &str) -> Result<(), crate::store::StoreError> {
        match &self.revocations {
            Some(registry) => registry.revoke_user(user).await,
            None => Ok(()),
        }
    }

    /// Whether a remember-me cookie issued by Flask-Login itself (`user|digest`, no issue
    /// time, the same for every login of a user until the key changes) restores a login
    /// (yes by default, so that a Flask app's remember-me cookie works here). Such a cookie
    /// is voided by the user's next "log out everywhere" (it counts as issued at time 0),
    /// not by a single logout.
    #[must_use]
    pub fn with_flask_tokens(mut self, accepted: bool) -> Self {
        self.flask_tokens = accepted;
        self
    }

    /// Checks remember-me cookies against `registry` before restoring a login: a cookie
    /// issued before its user's last "log out everywhere", or whose own id a logout denied
    /// ([`forget`](Self::forget)), restores nothing. (For server-side sessions, a registry
    /// over the same store.)
    #[cfg(feature = "tokio")]
    #[must_use]
    pub fn with_revocations(
        mut self,
        registry: std::sync::Arc<crate::revocation::RevocationRegistry>,
    ) -> Self {
        self.revocations = Some(registry);
        self
    }

    /// `SESSION_PROTECTION` (`basic`).
    #[must_use]
    pub fn with_session_protection(mut self, protection: SessionProtection) -> Self {
        self.protection = protection;
        self
    }

    /// Flask-Login's session protection (`_session_protection_failed`), run before the
    /// user is read: a non-empty session whose `_id` is not this request's `identifier`
    /// (see [`client_identifier`]) is marked not fresh, or, with strong protection and a
    /// session that is not permanent, has Flask-Login's keys removed and its remember-me
    /// cookie marked for clearing.
    ///
    /// ```
    /// use flacon::flask_login::{FlaskLogin, Protected, Remember, SessionProtection};
    /// use flacon::{KeyRing, SecretKey, Session};
    /// let login = FlaskLogin::new(&KeyRing::new(SecretKey::from_text("the app's secret key")))
    ///     .with_session_protection(SessionProtection::Strong);
    /// let session = Session::detached();
    /// login.login(&session, "ada", "identifier of the laptop", Remember::No);
    /// assert_eq!(login.protect(&session, "identifier of the laptop"), Protected::Unchanged);
    /// assert_eq!(login.protect(&session, "somebody else"), Protected::SignedOut);
    /// assert_eq!(session.user(), None);
    /// ```
    pub fn protect(&self, session: &Session, identifier: &str) -> Protected {
        if self.protection == SessionProtection::Off || session.is_empty() {
            return Protected::Unchanged;
        }
        let same =
            matches!(session.get_value(IDENTIFIER_KEY), Some(Value::Str(id)) if id == identifier);
        if same {
            return Protected::Unchanged;
        }
        if self.protection == SessionProtection::Basic || session.permanent() {
            if session.get_value(FRESH_KEY) != Some(Value::Bool(false)) {
                session.insert_value(FRESH_KEY, Value::Bool(false));
            }
            return Protected::NotFresh;
        }
        session.update(|data| {
            for key in SESSION_KEYS {
                data.shift_remove(key);
            }
            data.insert(REMEMBER_KEY.to_owned(), Value::from("clear"));
        });
        Protected::SignedOut
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
    /// `_id` = `identifier` (see [`client_identifier`]), `_remember_seconds` for a given
    /// duration; flacon's own login bookkeeping (a new server-side id, the per-user index)
    /// as [`Session::login`]. Returns the `Set-Cookie` value of the remember-me cookie when
    /// one is asked for: Flask-Login sets it at the end of the same request, and so must
    /// the handler. The cookie is a token of this sign-in (see
    /// [`remember_cookie`](Self::remember_cookie)), whose id the session keeps so that a
    /// logout can void it.
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
            data.shift_remove(REMEMBER_ID_KEY);
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
        let token = Token::issue(user_id, crate::policy::unix_millis())?;
        session.insert_value(REMEMBER_ID_KEY, Value::from(token.id.as_str()));
        Some(self.cookie_for(&token, duration))
    }

    /// A remember-me `Set-Cookie` value for `user_id`, issued at `now` (Unix seconds) and
    /// expiring `duration` later (or at the [`max_age`](Self::with_max_age), if sooner).
    ///
    /// The value is Flask-Login's `payload|digest` (the digest its `encode_cookie` makes, so
    /// Flask-Login verifies it), with the payload `user_id|issued.id`: the issue time in
    /// Unix milliseconds and a random id. That is what makes it revocable: a "log out
    /// everywhere" voids the tokens issued before it, a logout the one of its session. A
    /// Flask app sharing the cookie gets that payload as the user id in its `user_loader`
    /// (Flask-Login's alternative-token pattern): it loads the user named before the last
    /// `|`; flacon reads such a `_user_id` the same way.
    pub fn remember_cookie(&self, user_id: &str, duration: Duration, now: u64) -> String {
        let token = Token::issue(user_id, now.saturating_mul(1000)).unwrap_or_else(|| Token {
            user: user_id.to_owned(),
            issued_ms: Some(now.saturating_mul(1000)),
            id: String::new(),
        });
        self.cookie_for(&token, duration)
    }

    fn cookie_for(&self, token: &Token, duration: Duration) -> String {
        let duration = self.max_age.map_or(duration, |max| duration.min(max));
        let issued = token.issued_ms.unwrap_or(0) / 1000;
        let expires = issued.saturating_add(duration.as_secs());
        set_cookie(
            &self.cookie,
            &werkzeug_quoted(&self.encode(&token.payload())),
            Expiry::At(i64::try_from(expires).unwrap_or(i64::MAX)),
        )
    }

    /// The `Set-Cookie` value deleting the remember-me cookie, as Flask-Login writes it
    /// (name, domain and path only).
    pub fn clear_cookie(&self) -> String {
        deletion_cookie(&self.deletion)
    }

    /// Flask-Login's `encode_cookie`: `payload|hex(HMAC-SHA512(secret key, payload))`. With a
    /// bare user id as the payload this is the token Flask-Login itself issues.
    pub fn encode(&self, payload: &str) -> String {
        let digest = hex_of(&digest(self.keys.current().as_bytes(), payload));
        format!("{payload}|{digest}")
    }

    /// Flask-Login's `decode_cookie`, then the user the payload names: the user id, if the
    /// digest is right for one of the keys (compared in constant time).
    pub fn decode(&self, cookie: &str) -> Option<String> {
        self.verify(cookie).map(|token| token.user)
    }

    fn verify(&self, cookie: &str) -> Option<Token> {
        let (payload, hex_digest) = cookie.rsplit_once('|')?;
        let given = decode_hex_64(hex_digest)?;
        self.keys.iter().find_map(|(_, key)| {
            let mut mac = keyed(key.as_bytes());
            mac.update(payload.as_bytes());
            mac.verify_slice(&given)
                .ok()
                .map(|()| Token::parse(payload))
        })
    }

    /// What Flask-Login does when a request's session has no user: with a valid
    /// remember-me cookie (`cookie`, the value the request carried) and no pending `"clear"`,
    /// the user is signed in again, not fresh. The sign-in is a real one
    /// ([`Session::login`]: a new server-side id, the per-user index, the sign-in time and,
    /// for signed cookies, an id a logout can deny), from the client `identifier`. A cookie
    /// older than the [`max_age`](Self::with_max_age) or than the user's last "log out
    /// everywhere", or denied by a logout, restores nothing. Returns the user now signed in,
    /// whether restored or already there.
    pub fn restore(
        &self,
        session: &Session,
        cookie: Option<&str>,
        identifier: &str,
    ) -> Option<String> {
        if let Some(user) = session.user() {
            return Some(user);
        }
        let cleared =
            matches!(session.get_value(REMEMBER_KEY), Some(Value::Str(op)) if op == "clear");
        if cleared {
            return None;
        }
        let token = self.verify(cookie?)?;
        if let Err(refused) = self.admissible(&token, crate::policy::unix_millis()) {
            tracing::info!(
                reason = refused,
                "remember-me cookie refused; not signed in"
            );
            return None;
        }
        session.login(&token.user);
        session.update(|data| {
            data.insert(FRESH_KEY.to_owned(), Value::Bool(false));
            data.insert(IDENTIFIER_KEY.to_owned(), Value::from(identifier));
            if !token.id.is_empty() {
                data.insert(REMEMBER_ID_KEY.to_owned(), Value::from(token.id.as_str()));
            }
        });
        Some(token.user)
    }

    /// The longest a remember-me token lives: its duration, or the max age if shorter.
    fn longest(&self) -> Duration {
        self.max_age
            .map_or(self.duration, |max| max.min(self.duration))
    }

    /// Why a verified token may not restore a login at `now_ms`, if it may not.
    fn admissible(&self, token: &Token, now_ms: u64) -> Result<(), &'static str> {
        let Some(issued_ms) = token.issued_ms else {
            if !self.flask_tokens {
                return Err("flask-login-token");
            }
            if self.max_age.is_some() {
                return Err("flask-login-token-age-unknown");
            }
            return self.unrevoked(token);
        };
        let age_ms = now_ms.saturating_sub(issued_ms);
        if u128::from(age_ms) > self.longest().as_millis() {
            return Err("expired");
        }
        self.unrevoked(token)
    }

    #[cfg(feature = "tokio")]
    fn unrevoked(&self, token: &Token) -> Result<(), &'static str> {
        use crate::revocation::Verdict;
        let Some(registry) = &self.revocations else {
            return Ok(());
        };
        let sign_in = crate::revocation::SignIn {
            at_ms: token.issued_ms.unwrap_or(0),
            logouts: None,
            token: Some(token.id.as_str()).filter(|id| !id.is_empty()),
        };
        match registry.sign_in_verdict(&token.user, sign_in) {
            Ok(Verdict::Valid) => Ok(()),
            Ok(Verdict::Revoked) => Err("revoked"),
            Err(_) => Err("revocations-stale"),
        }
    }

    #[cfg(not(feature = "tokio"))]
    fn unrevoked(&self, _token: &Token) -> Result<(), &'static str> {
        Ok(())
    }

    /// Voids the remember-me cookie of this session's sign-in (a logout): its id is denied in
    /// the registry until it would have expired anyway, so a copy of the cookie replayed
    /// later restores nothing. Call it before [`Session::logout`], which clears the id.
    #[cfg(feature = "tokio")]
    pub async fn forget(&self, session: &Session) -> Result<(), crate::store::StoreError> {
        self.forget_sign_in(&session.snapshot()).await
    }

    /// [`forget`](Self::forget) for a session known by what it holds: a device revoked from
    /// its user's list, whose record is about to go.
    #[cfg(feature = "tokio")]
    pub async fn forget_sign_in(
        &self,
        session_data: &crate::value::Map,
    ) -> Result<(), crate::store::StoreError> {
        let (Some(registry), Some(Value::Str(id)), Some(user)) = (
            &self.revocations,
            session_data.get(REMEMBER_ID_KEY),
            crate::session::user_of(session_data),
        ) else {
            return Ok(());
        };
        let until = crate::policy::system_clock().saturating_add(self.longest().as_secs());
        registry.deny_for(&user, id, until).await
    }
}

/// A remember-me token's payload: flacon's `user|issued_ms.id`, or Flask-Login's bare user.
#[derive(Debug)]
struct Token {
    user: String,
    issued_ms: Option<u64>,
    /// Empty for Flask-Login's tokens.
    id: String,
}

impl Token {
    /// A token of `user` issued at `now_ms` with a fresh random id; `None` without randomness.
    fn issue(user: &str, now_ms: u64) -> Option<Token> {
        let mut raw = [0_u8; 16];
        getrandom::fill(&mut raw).ok()?;
        Some(Token {
            user: user.to_owned(),
            issued_ms: Some(now_ms),
            id: URL_SAFE_NO_PAD.encode(raw),
        })
    }

    fn payload(&self) -> String {
        match self.issued_ms {
            Some(issued) if !self.id.is_empty() => format!("{}|{issued}.{}", self.user, self.id),
            _ => self.user.clone(),
        }
    }

    fn parse(payload: &str) -> Token {
        match split_stamp(payload) {
            Some((user, issued_ms, id)) => Token {
                user: user.to_owned(),
                issued_ms: Some(issued_ms),
                id: id.to_owned(),
            },
            None => Token {
                user: payload.to_owned(),
                issued_ms: None,
                id: String::new(),
            },
        }
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

/// The proxies whose `X-Forwarded-For` is believed. Flask-Login reads that header from
/// anyone; behind no proxy a client could then name any address it likes, so flacon reads it
/// only when the connection comes from a proxy listed here (by default the loopback
/// addresses: a proxy on the same machine).
///
/// ```
/// use flacon::flask_login::TrustedProxies;
/// let proxies = TrustedProxies::parse("10.0.0.0/8, 2001:db8::1").unwrap();
/// assert!(proxies.trusts("10.1.2.3".parse().unwrap()));
/// assert!(!proxies.trusts("192.0.2.1".parse().unwrap()));
/// assert!(TrustedProxies::default().trusts("127.0.0.1".parse().unwrap()));
/// assert!(!TrustedProxies::none().trusts("127.0.0.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies(vec![
            (std::net::Ipv4Addr::LOCALHOST.into(), 8),
            (std::net::Ipv6Addr::LOCALHOST.into(), 128),
        ])
    }
}

/// A trusted-proxy list that is not a list of addresses or networks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an address or network (such as 10.0.0.0/8 or ::1): {0:?}")]
pub struct BadProxy(pub String);

impl TrustedProxies {
    /// No proxy: `X-Forwarded-For` is never read, the peer's address is the client's.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// A comma-separated list of addresses and networks (`10.0.0.0/8`, `::1`); empty or
    /// `none` for no proxy.
    pub fn parse(list: &str) -> Result<Self, BadProxy> {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty() && !entry.eq_ignore_ascii_case("none"));
        entries
            .map(|entry| {
                let bad = || BadProxy(entry.to_owned());
                let (addr, bits) = entry.split_once('/').unwrap_or((entry, ""));
                let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = if bits.is_empty() {
                    max
                } else {
                    bits.parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(bad)?
                };
                Ok((addr, bits))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether a connection from `peer` comes from a trusted proxy.
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|(net, bits)| match (net, peer) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => prefix_matches(
                u128::from(net.to_bits()) << 96,
                u128::from(ip.to_bits()) << 96,
                *bits,
            ),
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
                prefix_matches(net.to_bits(), ip.to_bits(), *bits)
            }
            _ => false,
        })
    }
}

fn prefix_matches(net: u128, ip: u128, bits: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
    net & mask == ip & mask
}

/// The remote address Flask-Login sees for a request: `X-Forwarded-For` (Flask-Login takes
/// its first entry) when the peer is a trusted proxy, else the peer's.
pub fn remote_addr(
    headers: &http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trusted: &TrustedProxies,
) -> Option<String> {
    let forwarded = headers
        .get("x-forwarded-for")
        .filter(|_| peer.is_some_and(|p| trusted.trusts(p.ip())));
    forwarded
        .map(|v| latin1(v.as_bytes()))
        .or_else(|| peer.map(|p| p.ip().to_string()))
}

/// Flask-Login's identifier for a request ([`session_identifier`] of its [`remote_addr`] and
/// `User-Agent`). Header bytes are read as Werkzeug reads them (latin-1), so a `User-Agent`
/// with bytes above 0x7f hashes as Flask-Login hashes it.
pub fn client_identifier(
    headers: &http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trusted: &TrustedProxies,
) -> String {
    let agent = headers
        .get(http::header::USER_AGENT)
        .map(|v| latin1(v.as_bytes()));
    session_identifier(
        remote_addr(headers, peer, trusted).as_deref(),
        agent.as_deref(),
    )
}

/// Header bytes as WSGI hands them to Flask: one character per byte.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
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
