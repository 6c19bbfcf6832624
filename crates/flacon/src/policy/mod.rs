//! Flask's session rules, free of any web framework: what a request's cookie loads, what the
//! response must carry (`Set-Cookie`, `Vary: Cookie`), when and how a store is written. The
//! adapters ([`crate::http`]'s tower layers) only read the cookie from the request, call
//! these, and write the [`Decision`] into the response.
//!
//! - [`CookiePolicy`]: signed-cookie sessions, Flask's `SecureCookieSessionInterface`.
//! - [`StorePolicy`]: server-side sessions, Flask-Session's interface made update-only.

mod cookie;
pub(crate) mod expiry;
pub(crate) mod merge;
mod overlap;
pub(crate) mod rejections;
mod server_side;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use cookie::CookiePolicy;
pub(crate) use server_side::StorePolicy;

use crate::config::SessionConfig;

/// Unix seconds, replaceable in tests.
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub(crate) fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix milliseconds by the system clock: sign-in times, which revocations compare with
/// (seconds would let a sign-in in the same second as a "log out everywhere" survive it).
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A failure to load or save, and where: a load failure the handler saw through its
/// extractor may have been answered by the handler itself.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) at_load: bool,
    pub(crate) failure: crate::http::SessionFailure,
}

impl Failure {
    /// The session could not be loaded (the store, or the revocation registry, failed).
    pub(crate) fn at_load(cause: Option<Arc<crate::store::StoreError>>) -> Self {
        Failure {
            at_load: true,
            failure: crate::http::SessionFailure::StoreUnavailable { cause },
        }
    }
}

/// What both policies are configured with.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) config: SessionConfig,
    pub(crate) clock: Clock,
    /// Rejected cookies and records, logged without letting an attacker flood the log.
    pub(crate) rejections: Arc<rejections::RejectionLog>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: SessionConfig::default(),
            clock: Arc::new(system_clock),
            rejections: Arc::default(),
        }
    }
}

impl Settings {
    pub(crate) fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The lifetime, idle and absolute limits.
    pub(crate) fn limits(&self) -> expiry::Limits {
        expiry::Limits::of(&self.config)
    }
}

/// What a response must carry for its session.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Add `Cookie` to `Vary`: the session was accessed, or a cookie is sent.
    pub(crate) vary_cookie: bool,
    /// A `Set-Cookie` header value to send.
    pub(crate) set_cookie: Option<String>,
}

impl Decision {
    /// Sends `cookie` (which always varies the response by `Cookie`).
    fn send(&mut self, cookie: String) {
        self.set_cookie = Some(cookie);
        self.vary_cookie = true;
    }
}
