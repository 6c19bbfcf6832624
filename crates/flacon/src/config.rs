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
//!
//! Flask-Session's own keys are in [`ServerSideConfig`]. Every settings type is built the
//! same way, `Type::builder()`, a method per setting named like it, then `build()`; a
//! [`SessionConfig`] is checked once, there, so a layer never runs with a cookie that
//! browsers would refuse.

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

/// Session settings, each named after its Flask key (the table above).
///
/// ```
/// use std::time::Duration;
/// use flacon::config::{SameSite, SessionConfig};
/// let config = SessionConfig::builder()
///     .cookie_name("sid")
///     .cookie_same_site(Some(SameSite::Lax))
///     .permanent_lifetime(Duration::from_secs(3600))
///     .build()
///     .unwrap();
/// assert!(config.cookie_http_only());
/// assert_eq!(config.cookie_name(), "sid");
///
/// // What browsers would refuse is refused when built.
/// let refused = SessionConfig::builder().cookie_name("__Host-sid").build();
/// assert!(refused.unwrap_err().to_string().contains("__Host-"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    pub(crate) cookie_name: String,
    pub(crate) cookie_domain: Option<String>,
    pub(crate) cookie_path: String,
    pub(crate) cookie_http_only: bool,
    pub(crate) cookie_secure: bool,
    pub(crate) cookie_same_site: Option<SameSite>,
    pub(crate) cookie_partitioned: bool,
    pub(crate) permanent_lifetime: Duration,
    pub(crate) refresh_each_request: bool,
    pub(crate) max_cookie_size: usize,
    pub(crate) oversize_policy: OversizePolicy,
    pub(crate) rewrite_on_equal_assignment: bool,
    pub(crate) resign_fallback_cookies: bool,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) absolute_timeout: Option<Duration>,
    pub(crate) encrypted: bool,
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
            idle_timeout: None,
            absolute_timeout: None,
            encrypted: false,
        }
    }
}

impl SessionConfig {
    /// A builder starting from Flask's defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder {
            config: SessionConfig::default(),
        }
    }

    /// Flask's defaults with what production wants on top: `Secure` (the cookie never
    /// travels over plain HTTP), `HttpOnly` (scripts cannot read it) and `SameSite=Lax`
    /// (other sites' forms do not carry it). Behind HTTPS only.
    ///
    /// ```
    /// use flacon::config::{SameSite, SessionConfig};
    /// let config = SessionConfig::production();
    /// assert!(config.cookie_secure() && config.cookie_http_only());
    /// assert_eq!(config.cookie_same_site(), Some(SameSite::Lax));
    /// let named = config.to_builder().cookie_name("__Host-session").build().unwrap();
    /// # let _ = named;
    /// ```
    pub fn production() -> Self {
        SessionConfig {
            cookie_secure: true,
            cookie_http_only: true,
            cookie_same_site: Some(SameSite::Lax),
            ..SessionConfig::default()
        }
    }

    /// A builder starting from these settings.
    pub fn to_builder(&self) -> SessionConfigBuilder {
        SessionConfigBuilder {
            config: self.clone(),
        }
    }

    /// `SESSION_COOKIE_NAME`.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// `SESSION_COOKIE_DOMAIN`.
    pub fn cookie_domain(&self) -> Option<&str> {
        self.cookie_domain.as_deref()
    }

    /// `SESSION_COOKIE_PATH`.
    pub fn cookie_path(&self) -> &str {
        &self.cookie_path
    }

    /// `SESSION_COOKIE_HTTPONLY`.
    pub fn cookie_http_only(&self) -> bool {
        self.cookie_http_only
    }

    /// `SESSION_COOKIE_SECURE`.
    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure
    }

    /// `SESSION_COOKIE_SAMESITE`.
    pub fn cookie_same_site(&self) -> Option<SameSite> {
        self.cookie_same_site
    }

    /// `SESSION_COOKIE_PARTITIONED`.
    pub fn cookie_partitioned(&self) -> bool {
        self.cookie_partitioned
    }

    /// `PERMANENT_SESSION_LIFETIME`.
    pub fn permanent_lifetime(&self) -> Duration {
        self.permanent_lifetime
    }

    /// `SESSION_REFRESH_EACH_REQUEST`.
    pub fn refresh_each_request(&self) -> bool {
        self.refresh_each_request
    }

    /// `MAX_COOKIE_SIZE` (0: no check).
    pub fn max_cookie_size(&self) -> usize {
        self.max_cookie_size
    }

    /// What happens past [`max_cookie_size`](Self::max_cookie_size).
    pub fn oversize_policy(&self) -> OversizePolicy {
        self.oversize_policy
    }

    /// Whether assigning an equal value re-sends the cookie, as in Flask.
    pub fn rewrite_on_equal_assignment(&self) -> bool {
        self.rewrite_on_equal_assignment
    }

    /// See [`SessionConfigBuilder::idle_timeout`].
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// See [`SessionConfigBuilder::encrypted`].
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// See [`SessionConfigBuilder::absolute_timeout`].
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute_timeout
    }

    /// Whether fallback-key cookies are re-signed on the next response that loads them.
    pub fn resign_fallback_cookies(&self) -> bool {
        self.resign_fallback_cookies
    }

    /// The checks [`SessionConfigBuilder::build`] makes.
    fn validate(&self) -> Result<(), ConfigError> {
        check_cookie_name(&self.cookie_name)?;
        if let Some(domain) = &self.cookie_domain {
            if domain.is_empty() || !domain.bytes().all(is_attribute_byte) || domain.contains(',') {
                return Err(ConfigError::CookieDomain(domain.clone()));
            }
        }
        if !self.cookie_path.starts_with('/') {
            return Err(ConfigError::CookiePath(self.cookie_path.clone()));
        }
        // Werkzeug adds `Secure` to a partitioned cookie.
        let secure = self.cookie_secure || self.cookie_partitioned;
        if self.cookie_name.starts_with("__Host-") {
            let why = if !secure {
                Some("needs cookie_secure")
            } else if self.cookie_domain.is_some() {
                Some("must have no cookie_domain")
            } else if self.cookie_path != "/" {
                Some("needs cookie_path \"/\"")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ConfigError::HostPrefix(why));
            }
        }
        if self.cookie_name.starts_with("__Secure-") && !secure {
            return Err(ConfigError::SecurePrefix);
        }
        if self.cookie_same_site == Some(SameSite::None) && !secure {
            return Err(ConfigError::SameSiteNoneNeedsSecure);
        }
        if self.permanent_lifetime.as_secs() == 0 {
            return Err(ConfigError::ZeroLifetime);
        }
        for (name, timeout) in [
            ("idle_timeout", self.idle_timeout),
            ("absolute_timeout", self.absolute_timeout),
        ] {
            if timeout.is_some_and(|t| t.as_secs() == 0) {
                return Err(ConfigError::ZeroTimeout(name));
            }
        }
        Ok(())
    }
}

/// RFC 6265's cookie-name: a token (visible ASCII, no separators).
fn check_cookie_name(name: &str) -> Result<(), ConfigError> {
    let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(ConfigError::CookieName(name.to_owned()));
    }
    Ok(())
}

/// A byte that may stand in a cookie attribute value: visible ASCII but `;`.
fn is_attribute_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b';'
}

/// Settings that no browser would honour, refused by [`SessionConfigBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not an RFC 6265 cookie name (empty, or with spaces, separators or non-ASCII).
    #[error("cookie_name {0:?} is not a valid cookie name (visible ASCII without ()<>@,;:\\\"/[]?={{}})")]
    CookieName(String),
    /// A domain with spaces, `;`, `,` or control characters, or an empty one.
    #[error("cookie_domain {0:?} is not a valid cookie domain")]
    CookieDomain(String),
    /// A path not starting with `/` (browsers ignore such a path).
    #[error("cookie_path {0:?} must start with '/'")]
    CookiePath(String),
    /// A `__Host-` cookie name without what browsers require of it.
    #[error("a __Host- cookie {0} (browsers refuse it otherwise)")]
    HostPrefix(&'static str),
    /// A `__Secure-` cookie name without `Secure`.
    #[error("a __Secure- cookie needs cookie_secure (browsers refuse it otherwise)")]
    SecurePrefix,
    /// `SameSite=None` without `Secure`.
    #[error("cookie_same_site None needs cookie_secure (browsers refuse it otherwise)")]
    SameSiteNoneNeedsSecure,
    /// A permanent lifetime of zero seconds would expire every cookie at once.
    #[error("permanent_lifetime must be at least one second")]
    ZeroLifetime,
    /// An idle or absolute timeout of zero seconds would end every session at once.
    #[error("{0} must be at least one second")]
    ZeroTimeout(&'static str),
}

/// Builds a [`SessionConfig`]; each method sets the setting of the same name.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionConfigBuilder {
    config: SessionConfig,
}

impl SessionConfigBuilder {
    /// `SESSION_COOKIE_NAME` (`session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie_name = name.into();
        self
    }

    /// `SESSION_COOKIE_DOMAIN` (none): written without port or leading dot, as Werkzeug
    /// does; `None` for a host-only cookie.
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.config.cookie_domain = domain;
        self
    }

    /// `SESSION_COOKIE_PATH` (`/`; Flask falls back to `APPLICATION_ROOT`).
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.config.cookie_path = path.into();
        self
    }

    /// `SESSION_COOKIE_HTTPONLY` (`true`).
    pub fn cookie_http_only(mut self, http_only: bool) -> Self {
        self.config.cookie_http_only = http_only;
        self
    }

    /// `SESSION_COOKIE_SECURE` (`false`; `true` in production, behind HTTPS).
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.config.cookie_secure = secure;
        self
    }

    /// `SESSION_COOKIE_SAMESITE` (none; `Lax` in production).
    pub fn cookie_same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.config.cookie_same_site = same_site;
        self
    }

    /// `SESSION_COOKIE_PARTITIONED` (`false`; forces `Secure`, as Werkzeug does).
    pub fn cookie_partitioned(mut self, partitioned: bool) -> Self {
        self.config.cookie_partitioned = partitioned;
        self
    }

    /// `PERMANENT_SESSION_LIFETIME` (31 days): the age limit on every cookie, and the
    /// `Expires` of permanent ones.
    ///
    /// It does not make sessions permanent. As in Flask, a signed-cookie session is a
    /// browser-session cookie until the handler sets [`Session::set_permanent`]; as in
    /// Flask-Session, a server-side session starts permanent
    /// ([`ServerSideConfig::permanent_by_default`]). flacon keeps each anchor's default so
    /// that a Flask app and flacon behind one domain send the same cookies; set
    /// `permanent_by_default(false)` for browser-session server-side cookies, or call
    /// `set_permanent(true)` at login for persistent cookie sessions.
    ///
    /// [`Session::set_permanent`]: crate::Session::set_permanent
    pub fn permanent_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.permanent_lifetime = lifetime;
        self
    }

    /// `SESSION_REFRESH_EACH_REQUEST` (`true`): re-send permanent sessions on every request.
    pub fn refresh_each_request(mut self, refresh: bool) -> Self {
        self.config.refresh_each_request = refresh;
        self
    }

    /// `MAX_COOKIE_SIZE` (4093): the longest `Set-Cookie` value (`name=value; attributes`);
    /// 0 disables the check.
    pub fn max_cookie_size(mut self, bytes: usize) -> Self {
        self.config.max_cookie_size = bytes;
        self
    }

    /// What happens past `max_cookie_size` ([`OversizePolicy::Error`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.config.oversize_policy = policy;
        self
    }

    /// Re-send the cookie when a key is assigned the value it already has, as Flask does
    /// (`false`: an equal write is not a change).
    pub fn rewrite_on_equal_assignment(mut self, rewrite: bool) -> Self {
        self.config.rewrite_on_equal_assignment = rewrite;
        self
    }

    /// Re-sign a cookie that verified with a fallback key on the next response that loads
    /// it, so a key rotation moves every active user to the new key (`true`; Flask re-signs
    /// only when it writes the session anyway).
    pub fn resign_fallback_cookies(mut self, resign: bool) -> Self {
        self.config.resign_fallback_cookies = resign;
        self
    }

    /// End a session nobody used for this long (`None`, Flask's default: no idle limit).
    /// Every request that loads the session counts as use, and re-sends its cookie.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flacon::config::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .idle_timeout(Some(Duration::from_secs(30 * 60)))
    ///     .absolute_timeout(Some(Duration::from_secs(12 * 3600)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.idle_timeout(), Some(Duration::from_secs(1800)));
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// End a session this long after it began, however active it is (`None`: no limit).
    /// The start rides in the session under `_flacon_created`, written only while this is
    /// set, so default cookies stay Flask's bytes.
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.absolute_timeout = timeout;
        self
    }

    /// Encrypt signed-cookie sessions (`false`: Flask's signed, readable cookies). The
    /// browser then holds an AES-256-GCM-SIV ciphertext (see
    /// [`CookieCipher`](crate::codec::CookieCipher)); signed cookies from before the switch
    /// are still read, and re-sent encrypted. Flask cannot read encrypted cookies: leave this
    /// off where a Flask app shares the session.
    pub fn encrypted(mut self, encrypted: bool) -> Self {
        self.config.encrypted = encrypted;
        self
    }

    /// The settings, once checked.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

/// Settings of server-side sessions beyond the cookie ones in [`SessionConfig`]: Flask-Session's
/// keys.
///
/// ```
/// use flacon::config::ServerSideConfig;
/// let flask_session_signed = ServerSideConfig::builder().use_signer(true).build();
/// assert!(flask_session_signed.permanent_by_default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerSideConfig {
    pub(crate) permanent_by_default: bool,
    pub(crate) use_signer: bool,
    pub(crate) touch_interval: Duration,
    pub(crate) id_bytes: usize,
}

impl Default for ServerSideConfig {
    fn default() -> Self {
        ServerSideConfig {
            permanent_by_default: true,
            use_signer: false,
            touch_interval: Duration::from_secs(60),
            id_bytes: crate::store::DEFAULT_ID_BYTES,
        }
    }
}

impl ServerSideConfig {
    /// A builder starting from Flask-Session's defaults.
    pub fn builder() -> ServerSideConfigBuilder {
        ServerSideConfigBuilder {
            config: ServerSideConfig::default(),
        }
    }

    /// Flask-Session's `SESSION_PERMANENT`.
    pub fn permanent_by_default(&self) -> bool {
        self.permanent_by_default
    }

    /// Flask-Session's `SESSION_USE_SIGNER`.
    pub fn use_signer(&self) -> bool {
        self.use_signer
    }

    /// How often a read-only session's stored expiry is extended at the most.
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// Flask-Session's `SESSION_ID_LENGTH`: random bytes in a new session id.
    pub fn id_length(&self) -> usize {
        self.id_bytes
    }
}

/// Builds a [`ServerSideConfig`]; each method sets the setting of the same name.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerSideConfigBuilder {
    config: ServerSideConfig,
}

impl ServerSideConfigBuilder {
    /// Flask-Session's `SESSION_PERMANENT` (`true`): new sessions start permanent.
    pub fn permanent_by_default(mut self, permanent: bool) -> Self {
        self.config.permanent_by_default = permanent;
        self
    }

    /// Flask-Session's deprecated `SESSION_USE_SIGNER` (`false`): the cookie carries
    /// `sid.signature` (salt `flask-session`, current key only) instead of the bare id.
    pub fn use_signer(mut self, use_signer: bool) -> Self {
        self.config.use_signer = use_signer;
        self
    }

    /// Extend a stored session's expiry at most this often for sessions that are read but
    /// not changed (60 s), for stores that cannot refresh while loading, such as SQLite.
    /// Redis refreshes in the load itself.
    pub fn touch_interval(mut self, interval: Duration) -> Self {
        self.config.touch_interval = interval;
        self
    }

    /// Flask-Session's `SESSION_ID_LENGTH` (32): random bytes in a new session id, which
    /// is their base64url text (43 characters for 32). Kept within 16..=96: fewer could be
    /// guessed, more would not fit a cookie flacon reads back.
    pub fn id_length(mut self, bytes: usize) -> Self {
        self.config.id_bytes = bytes.clamp(crate::store::MIN_ID_BYTES, crate::store::MAX_ID_BYTES);
        self
    }

    /// The settings (any combination is valid).
    pub fn build(self) -> ServerSideConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn what_browsers_refuse_is_refused_when_built() {
        let refused = [
            (SessionConfig::builder().cookie_name(""), "cookie_name"),
            (
                SessionConfig::builder().cookie_name("my session"),
                "cookie_name",
            ),
            (
                SessionConfig::builder().cookie_name("sess;ion"),
                "cookie_name",
            ),
            (
                SessionConfig::builder().cookie_name("sessión"),
                "cookie_name",
            ),
            (
                SessionConfig::builder().cookie_domain(Some("a b.com".into())),
                "cookie_domain",
            ),
            (
                SessionConfig::builder().cookie_domain(Some("a.com;x".into())),
                "cookie_domain",
            ),
            (SessionConfig::builder().cookie_path("app"), "cookie_path"),
            (
                SessionConfig::builder().cookie_name("__Host-s"),
                "needs cookie_secure",
            ),
            (
                SessionConfig::builder()
                    .cookie_name("__Host-s")
                    .cookie_secure(true)
                    .cookie_path("/app"),
                "cookie_path",
            ),
            (
                SessionConfig::builder()
                    .cookie_name("__Host-s")
                    .cookie_secure(true)
                    .cookie_domain(Some("example.com".into())),
                "no cookie_domain",
            ),
            (
                SessionConfig::builder().cookie_name("__Secure-s"),
                "__Secure-",
            ),
            (
                SessionConfig::builder().cookie_same_site(Some(SameSite::None)),
                "cookie_same_site None",
            ),
            (
                SessionConfig::builder().permanent_lifetime(Duration::ZERO),
                "permanent_lifetime",
            ),
        ];
        for (builder, says) in refused {
            let error = builder.build().unwrap_err().to_string();
            assert!(error.contains(says), "{error:?} should mention {says:?}");
        }
    }

    #[test]
    fn what_browsers_accept_builds() {
        for builder in [
            SessionConfig::builder(),
            SessionConfig::builder()
                .cookie_name("__Host-s")
                .cookie_secure(true),
            SessionConfig::builder()
                .cookie_name("__Host-s")
                .cookie_partitioned(true),
            SessionConfig::builder()
                .cookie_name("__Secure-s")
                .cookie_secure(true)
                .cookie_domain(Some(".example.com:8080".into())),
            SessionConfig::builder()
                .cookie_same_site(Some(SameSite::None))
                .cookie_secure(true),
            SessionConfig::builder().cookie_path("/app x"),
        ] {
            builder.build().unwrap();
        }
        assert_eq!(
            SessionConfig::builder().build().unwrap(),
            SessionConfig::default()
        );
    }
}
