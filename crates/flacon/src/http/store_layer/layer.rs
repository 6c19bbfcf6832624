use std::sync::Arc;

use tower_layer::Layer;

use super::StoreService;
use crate::config::ServerSideConfig;
use crate::http::common::shared_builder_methods;
use crate::http::ErrorResponder;
use crate::keys::KeyRing;
use crate::policy::StorePolicy;
use crate::store::SessionStore;

/// Adds a server-side session to every request: only a random id in the cookie, the data
/// in a [`SessionStore`].
///
/// ```
/// use axum::{routing::get, Router};
/// use flacon::store::MemoryStore;
/// use flacon::{KeyRing, SecretKey, Session, StoreLayer};
///
/// async fn login(session: Session) -> &'static str {
///     session.insert("user_id", &42).unwrap();
///     session.cycle_id(); // a new id at login, against fixation
///     "welcome"
/// }
///
/// let keys = KeyRing::new(SecretKey::from_text("only used when use_signer is on"));
/// let app: Router = Router::new()
///     .route("/login", get(login))
///     .layer(StoreLayer::new(MemoryStore::new(10_000), keys));
/// ```
pub struct StoreLayer<S> {
    pub(crate) policy: Arc<StorePolicy<S>>,
    pub(crate) on_error: ErrorResponder,
}

impl<S> Clone for StoreLayer<S> {
    fn clone(&self) -> Self {
        StoreLayer {
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
        }
    }
}

impl<S> std::fmt::Debug for StoreLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLayer")
            .field("config", &self.policy.settings.config)
            .field("server", &self.policy.server)
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore> StoreLayer<S> {
    /// Sessions in `store`; `keys` sign the id only when [`ServerSideConfig::use_signer`]
    /// is on.
    pub fn new(store: S, keys: KeyRing) -> Self {
        StoreLayer {
            policy: Arc::new(StorePolicy::new(store, keys)),
            on_error: ErrorResponder::default(),
        }
    }

    shared_builder_methods!(StorePolicy<S>);

    /// Replaces the server-side settings (Flask-Session's `SESSION_PERMANENT`,
    /// `SESSION_USE_SIGNER`, ...).
    #[must_use]
    pub fn with_server_config(mut self, server: ServerSideConfig) -> Self {
        self.policy_mut().server = server;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.policy.store
    }

    /// The keys that sign session ids (with [`ServerSideConfig::use_signer`]).
    pub fn keys(&self) -> &KeyRing {
        &self.policy.keys
    }
}

impl<S, I> Layer<I> for StoreLayer<S> {
    type Service = StoreService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        StoreService {
            inner,
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
        }
    }
}
