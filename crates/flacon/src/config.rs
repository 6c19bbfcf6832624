//! [`SessionConfig`]: Flask's session settings, under the names a Flask user looks for.
//!
//! | Flask key                       | here                                   | default          |
//! |---------------------------------|----------------------------------------|------------------|
//! | `SESSION_COOKIE_NAME`           | [`SessionConfig::cookie_name`]         | `session`        |
//! | `SESSION_COOKIE_DOMAIN`         | [`SessionConfig::cookie_domain`]       | none             |
//! | `SESSION_COOKIE_PATH`           | [`SessionConfig::cookie_path`]         | `/`              |
//! | `SESSION_COOKIE_HTTPONLY`       | [`SessionConfig::cookie_http_only`]    | `true`           |
//! | `SESSION_COOKIE_SECURE`         | [`SessionConfig::cookie_secure`]       | `false`          |
//! | `SESSION_COOKIE_SAMESITE`       | [`SessionConfig::cookie_same_site`]    | none             |
//! | `SESSION_COOKIE_PARTITIONED`    | [`SessionConfig::cookie_partitioned`]  | `false`          |
//! | `PERMANENT_SESSION_LIFETIME`    | [`SessionConfig::permanent_lifetime`]  | 31 days          |
//! | `SESSION_REFRESH_EACH_REQUEST`  | [`SessionConfig::refresh_each_request`]| `true`           |
//! | `MAX_COOKIE_SIZE`               | [`SessionConfig::max_cookie_size`]     | 4093             |

use std::time::Duration;

/// The `SameSite` cookie attribute.
///
/// ```
/// use flacon::config::SameSite;
/// assert_eq!(SameSite::parse("lax"), Some(SameSite::Lax));
/// assert_eq!(SameSite::Lax.as_str(), "Lax");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers then also require `Secure`).
    None,
}

impl SameSite {
    /// Parses Flask's config value, case-insensitively (`"lax"` is `Lax`).
    pub fn parse(text: &str) -> Option<SameSite> {
        match text.to_ascii_lowercase().as_str() {
            "strict" => Some(SameSite::Strict),
            "lax" => Some(SameSite::Lax),
            "none" => Some(SameSite::None),
            _ => None,
        }
    }

    /// The attribute value, title-cased as Werkzeug writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// What to do when the session cookie would exceed [`SessionConfig::max_cookie_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OversizePolicy {
    /// Replace the response with an error (500 by default) and log the size and the largest
    /// keys. The user's browser keeps its previous cookie, so nothing is silently lost.
    #[default]
    Error,
    /// Flask's behaviour: log a warning and send the cookie anyway (browsers may drop it).
    Warn,
}

/// Session settings. Build with [`SessionConfig::default`] and the `with_*`-free setters:
/// every field is public and named after its Flask key.
///
/// ```
/// use std::time::Duration;
/// use flacon::config::{SameSite, SessionConfig};
/// let config = SessionConfig {
///     cookie_name: "sid".into(),
///     cookie_same_site: Some(SameSite::Lax),
///     permanent_lifetime: Duration::from_secs(3600),
///     ..SessionConfig::default()
/// };
/// assert!(config.cookie_http_only);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// `SESSION_COOKIE_NAME`.
    pub cookie_name: String,
    /// `SESSION_COOKIE_DOMAIN`: written without port or leading dot, as Werkzeug does.
    pub cookie_domain: Option<String>,
    /// `SESSION_COOKIE_PATH` (Flask falls back to `APPLICATION_ROOT`, `/`).
    pub cookie_path: String,
    /// `SESSION_COOKIE_HTTPONLY`.
    pub cookie_http_only: bool,
    /// `SESSION_COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// `SESSION_COOKIE_SAMESITE`.
    pub cookie_same_site: Option<SameSite>,
    /// `SESSION_COOKIE_PARTITIONED` (forces `Secure`, as Werkzeug does).
    pub cookie_partitioned: bool,
    /// `PERMANENT_SESSION_LIFETIME`: the age limit on every cookie, and the `Expires` of
    /// permanent ones.
    pub permanent_lifetime: Duration,
    /// `SESSION_REFRESH_EACH_REQUEST`: re-send permanent sessions on every request.
    pub refresh_each_request: bool,
    /// `MAX_COOKIE_SIZE`: the longest `Set-Cookie` value (`name=value; attributes`); 0
    /// disables the check.
    pub max_cookie_size: usize,
    /// What happens past `max_cookie_size`.
    pub oversize_policy: OversizePolicy,
    /// Flask re-sends the cookie when a key is assigned the value it already has. flacon
    /// does not by default (an equal write is not a change); set this to match Flask.
    pub rewrite_on_equal_assignment: bool,
    /// Re-sign a cookie that verified with a fallback key on the next response that loads
    /// it, so a key rotation moves every active user to the new key. Flask re-signs only
    /// when it writes the session anyway.
    pub resign_fallback_cookies: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            cookie_name: "session".to_owned(),
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_http_only: true,
            cookie_secure: false,
            cookie_same_site: None,
            cookie_partitioned: false,
            permanent_lifetime: Duration::from_secs(31 * 24 * 3600),
            refresh_each_request: true,
            max_cookie_size: 4093,
            oversize_policy: OversizePolicy::Error,
            rewrite_on_equal_assignment: false,
            resign_fallback_cookies: true,
        }
    }
}

/// Settings of server-side sessions beyond the cookie ones in [`SessionConfig`].
///
/// ```
/// use flacon::config::ServerSideConfig;
/// let flask_session_signed = ServerSideConfig { use_signer: true, ..ServerSideConfig::default() };
/// assert!(flask_session_signed.permanent_by_default);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSideConfig {
    /// Flask-Session's `SESSION_PERMANENT`: new sessions start permanent.
    pub permanent_by_default: bool,
    /// Flask-Session's deprecated `SESSION_USE_SIGNER`: the cookie carries
    /// `sid.signature` (salt `flask-session`, current key only) instead of the bare id.
    pub use_signer: bool,
    /// Extend a stored session's expiry at most this often for sessions that are read but
    /// not changed (stores that cannot refresh while loading, such as SQLite). Redis
    /// refreshes in the load itself.
    pub touch_interval: Duration,
}

impl Default for ServerSideConfig {
    fn default() -> Self {
        ServerSideConfig {
            permanent_by_default: true,
            use_signer: false,
            touch_interval: Duration::from_secs(60),
        }
    }
}
