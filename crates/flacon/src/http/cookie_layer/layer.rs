use std::sync::Arc;

use tower_layer::Layer;

use super::SessionService;
use crate::http::common::shared_builder_methods;
use crate::http::ErrorResponder;
use crate::keys::KeyRing;
use crate::policy::CookiePolicy;

/// Adds a Flask-compatible cookie session to every request.
///
/// The cookie is verified when a handler first touches the session. A request that never
/// touches it costs nothing unless it carries a cookie and
/// [`refresh_each_request`](crate::SessionConfig::refresh_each_request) is on (Flask's
/// default): a permanent session is re-sent on every response, so after the handler the
/// cookie's signature is checked and its payload looked at (not parsed) for `_permanent`;
/// only a session that may be permanent (or a cookie signed with a fallback key, or a bad
/// one, to be logged) is decoded, and an unchanged one is re-signed from its verified
/// payload, not re-serialized. Turn the setting off to make untouched requests free.
///
/// ```
/// use axum::{routing::get, Router};
/// use flacon::{KeyRing, SecretKey, Session, SessionLayer};
///
/// async fn count(session: Session) -> String {
///     let visits = session.modify("visits", |n: &mut u64| { *n += 1; *n }).unwrap();
///     format!("visit {visits}")
/// }
///
/// let key = SecretKey::from_text("a long random secret, from the environment");
/// let app: Router = Router::new()
///     .route("/", get(count))
///     .layer(SessionLayer::new(KeyRing::new(key)));
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    pub(crate) policy: Arc<CookiePolicy>,
    pub(crate) on_error: ErrorResponder,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// Signed-cookie sessions with `keys` and Flask's default settings.
    pub fn new(keys: KeyRing) -> Self {
        SessionLayer {
            policy: Arc::new(CookiePolicy::new(keys)),
            on_error: ErrorResponder::default(),
        }
    }

    shared_builder_methods!(CookiePolicy);

    /// Checks every signed-in cookie against `registry`: a cookie whose user was logged out
    /// everywhere, or which logged out itself ([`Session::logout`](crate::Session::logout)
    /// records it there), opens an empty session, in every process sharing the registry's
    /// store within its staleness bound. See [`crate::revocation`].
    #[cfg(feature = "tokio")]
    #[must_use]
    pub fn with_revocations(
        mut self,
        registry: Arc<crate::revocation::RevocationRegistry>,
    ) -> Self {
        self.policy_mut().revocations = Some(registry);
        self
    }

    /// The keys sessions are signed and verified with.
    pub fn keys(&self) -> &KeyRing {
        &self.policy.keys
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
        }
    }
}
