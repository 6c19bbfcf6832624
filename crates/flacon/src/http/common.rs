//! Pieces every adapter uses: settling the response once the policy has decided, writing a
//! [`Decision`] into the response's headers, and the builder methods the layers share.

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, Response};

use super::{ErrorResponder, RequestHead, SessionMode};
use crate::policy::{Decision, Failure};
use crate::session::Session;

/// What a response whose route set a [`SessionMode`] carries, decided without the policy:
/// `None` when the route set no mode and the policy decides.
pub(crate) fn decision_for_mode(mode: Option<SessionMode>, session: &Session) -> Option<Decision> {
    let mode = mode.filter(|mode| !matches!(mode, SessionMode::Exclusive { .. }))?;
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
        SessionMode::Exclusive { .. } => return None,
    })
}

/// What a route's mode does before its handler runs: an exclusive route's server-side
/// session is marked to load under its lock (every adapter calls this as the request comes
/// in, before any extractor loads the session).
pub(crate) fn begin_mode(mode: SessionMode, server: Option<&Session>, cookie: bool) {
    let SessionMode::Exclusive { wait, hold } = mode else {
        return;
    };
    match server {
        Some(session) if !session.make_exclusive(crate::session::Exclusive { wait, hold }) => {
            tracing::warn!(
                "an exclusive route's session was loaded before the route's layer ran; it is not locked"
            );
        }
        Some(_) => {}
        None if cookie => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "an exclusive route uses signed-cookie sessions, which cannot be locked (use a server-side store)"
                );
            });
        }
        None => {}
    }
}

/// What becomes of the handler's response once the session is decided: the one rule every
/// adapter (the tower layers, actix-web's middleware) follows, so they cannot drift.
pub(crate) enum Settled {
    /// Send the response with what the policy decided.
    Write(Decision),
    /// The handler answered the load's failure itself: its answer stands, nothing is written.
    Leave,
    /// Send the error responder's answer instead of the handler's.
    Replace(Response<String>),
}

/// Settles the response of a request whose session `decided` as it did. A load failure the
/// handler caught (it extracted a `Result` and answered) leaves its answer; any other failure
/// is the error responder's.
pub(crate) fn settle(
    decided: Result<Decision, Failure>,
    uncaught_rejection: bool,
    on_error: &ErrorResponder,
    head: Option<&RequestHead>,
) -> Settled {
    match decided {
        Ok(decision) => Settled::Write(decision),
        Err(failed) if failed.at_load && !uncaught_rejection => {
            tracing::info!("the handler answered the session's load failure itself");
            Settled::Leave
        }
        Err(failed) => Settled::Replace(on_error.respond(&failed.failure, head)),
    }
}

/// The few header operations writing a [`Decision`] needs, on whichever header map the
/// framework has (`http` 1's, or actix-web's).
pub(crate) trait SessionHeaders {
    /// The `Vary` values, as bytes.
    fn vary_values(&self) -> impl Iterator<Item = &[u8]>;
    /// Appends `Vary: Cookie`.
    fn append_vary_cookie(&mut self);
    /// Appends a `Set-Cookie` header; `false` when `cookie` is not a valid header value.
    fn append_set_cookie(&mut self, cookie: &str) -> bool;
}

impl SessionHeaders for HeaderMap {
    fn vary_values(&self) -> impl Iterator<Item = &[u8]> {
        self.get_all(VARY).iter().map(HeaderValue::as_bytes)
    }

    fn append_vary_cookie(&mut self) {
        self.append(VARY, HeaderValue::from_static("Cookie"));
    }

    fn append_set_cookie(&mut self, cookie: &str) -> bool {
        HeaderValue::from_str(cookie).is_ok_and(|value| {
            self.append(SET_COOKIE, value);
            true
        })
    }
}

/// Writes what the policy decided into `headers`.
pub(crate) fn apply(decision: Decision, headers: &mut impl SessionHeaders) {
    // Werkzeug's `vary.add`: `Cookie` once, and not beside `*`.
    if decision.vary_cookie && !lists_cookie(headers.vary_values()) {
        headers.append_vary_cookie();
    }
    if let Some(cookie) = decision.set_cookie {
        if !headers.append_set_cookie(&cookie) {
            tracing::error!(
                "session cookie attributes are not a valid header; check SessionConfig"
            );
        }
    }
}

fn lists_cookie<'a>(vary: impl Iterator<Item = &'a [u8]>) -> bool {
    vary.filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*")
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
