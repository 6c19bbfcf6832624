//! Pieces both tower layers use: writing a policy's [`Decision`] into the response, and the
//! builder methods they share.

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use super::SessionMode;
use crate::policy::Decision;
use crate::session::Session;

/// What a response whose route set a [`SessionMode`] carries, decided without the policy:
/// `None` when the route set no mode and the policy decides.
pub(crate) fn decision_for_mode(mode: Option<SessionMode>, session: &Session) -> Option<Decision> {
    let mode = mode?;
    if session.is_modified() {
        tracing::warn!(
            ?mode,
            "a route marked {mode:?} changed its session; the change is not saved"
        );
    }
    Some(match mode {
        SessionMode::Skip => Decision::default(),
        SessionMode::ReadOnly => Decision {
            vary_cookie: session.is_accessed(),
            set_cookie: None,
        },
    })
}

/// Writes what the policy decided into `headers`.
pub(crate) fn apply(decision: Decision, headers: &mut HeaderMap) {
    if decision.vary_cookie {
        add_vary_cookie(headers);
    }
    if let Some(cookie) = decision.set_cookie {
        append_set_cookie(headers, &cookie);
    }
}

fn append_set_cookie(headers: &mut HeaderMap, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            headers.append(SET_COOKIE, value);
        }
        Err(_) => {
            tracing::error!(
                "session cookie attributes are not a valid header; check SessionConfig"
            );
        }
    }
}

/// Adds `Cookie` to `Vary` unless it is already listed (Werkzeug's `vary.add`).
fn add_vary_cookie(headers: &mut HeaderMap) {
    let listed = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !listed {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

/// The builder methods every session layer has, written once: the layer holds
/// `policy: Arc<P>` (`P`, the macro's argument, a `Clone` policy with a `settings` field) and
/// `on_error: ErrorResponder`.
macro_rules! shared_builder_methods {
    ($policy:ty) => {
        fn policy_mut(&mut self) -> &mut $policy {
            std::sync::Arc::make_mut(&mut self.policy)
        }

        /// Replaces the cookie and lifetime settings (Flask's `SESSION_COOKIE_*`,
        /// `PERMANENT_SESSION_LIFETIME`, ...).
        #[must_use]
        pub fn with_config(mut self, config: $crate::config::SessionConfig) -> Self {
            self.policy_mut().settings.config = config;
            self
        }

        /// The cookie and lifetime settings in force.
        pub fn config(&self) -> &$crate::config::SessionConfig {
            &self.policy.settings.config
        }

        /// Replaces the clock (Unix seconds), for tests that pin time.
        #[must_use]
        pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
            self.policy_mut().settings.clock = std::sync::Arc::new(clock);
            self
        }

        /// Replaces the response sent instead of the handler's when the session cannot be
        /// loaded or saved: a store outage (503 by default), a cookie too large with
        /// [`OversizePolicy::Error`](crate::config::OversizePolicy::Error) (500).
        #[must_use]
        pub fn on_error(mut self, responder: $crate::http::ErrorResponder) -> Self {
            self.on_error = responder;
            self
        }
    };
}
pub(crate) use shared_builder_methods;

/// `get_ref`, `get_mut` and `into_inner` for a middleware service whose wrapped service is
/// its `inner` field of type `$inner` (tower-http's accessors).
macro_rules! inner_service_accessors {
    ($inner:ty) => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &$inner {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut $inner {
            &mut self.inner
        }

        /// The wrapped service, unwrapped.
        pub fn into_inner(self) -> $inner {
            self.inner
        }
    };
}
pub(crate) use inner_service_accessors;
