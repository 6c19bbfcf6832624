//! Server-side sessions over HTTP: [`StoreLayer`] keeps only a session id in the cookie and
//! the data in a [`SessionStore`], following Flask-Session 0.8's request flow where it is
//! sound and improving on it where it loses data.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::common::{add_vary_cookie, append_set_cookie, system_clock, Clock};
use super::rejections::{log_rejection, RejectionLog};
use super::response::{ErrorResponder, SessionFailure};
use crate::codec::{KeyDerivation, Signer};
use crate::config::SessionConfig;
use crate::cookie::{bare_deletion_cookie, find_cookie, set_cookie, Expiry};
use crate::keys::KeyRing;
use crate::session::{is_permanent, Loaded, Outcome, Pending, Session, PERMANENT_KEY};
use crate::store::{flask_session, Record, SessionId, SessionStore, StoreError};
use crate::value::{Map, Value};

/// Settings of server-side sessions beyond the cookie ones in [`SessionConfig`].
///
/// ```
/// use flacon::http::ServerSideConfig;
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

struct Engine<S> {
    /// Shared, so that a builder call on a cloned layer copies the settings, not the store.
    store: Arc<S>,
    keys: KeyRing,
    config: SessionConfig,
    server: ServerSideConfig,
    signer: Signer,
    clock: Clock,
    on_error: ErrorResponder,
    rejections: Arc<RejectionLog>,
}

impl<S> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Engine {
            store: self.store.clone(),
            keys: self.keys.clone(),
            config: self.config.clone(),
            server: self.server.clone(),
            signer: self.signer.clone(),
            clock: self.clock.clone(),
            on_error: self.on_error.clone(),
            rejections: self.rejections.clone(),
        }
    }
}

/// Adds a server-side session to every request.
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
    engine: Arc<Engine<S>>,
}

impl<S> Clone for StoreLayer<S> {
    fn clone(&self) -> Self {
        StoreLayer {
            engine: self.engine.clone(),
        }
    }
}

impl<S> std::fmt::Debug for StoreLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLayer")
            .field("config", &self.engine.config)
            .field("server", &self.engine.server)
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore> StoreLayer<S> {
    /// Sessions in `store`; `keys` sign the id only when [`ServerSideConfig::use_signer`]
    /// is on.
    pub fn new(store: S, keys: KeyRing) -> Self {
        let signer = Signer::new(
            &KeyRing::new(keys.current().clone()),
            b"flask-session",
            KeyDerivation::Hmac,
        );
        StoreLayer {
            engine: Arc::new(Engine {
                store: Arc::new(store),
                keys,
                config: SessionConfig::default(),
                server: ServerSideConfig::default(),
                signer,
                clock: Arc::new(system_clock),
                on_error: ErrorResponder::default(),
                rejections: Arc::default(),
            }),
        }
    }

    fn engine_mut(&mut self) -> &mut Engine<S> {
        Arc::make_mut(&mut self.engine)
    }

    /// Replaces the cookie and lifetime settings.
    #[must_use]
    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.engine_mut().config = config;
        self
    }

    /// Replaces the server-side settings.
    #[must_use]
    pub fn with_server_config(mut self, server: ServerSideConfig) -> Self {
        self.engine_mut().server = server;
        self
    }

    /// Replaces the clock (Unix seconds), for tests that pin time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.engine_mut().clock = Arc::new(clock);
        self
    }

    /// Replaces the response sent when the store is unreachable (503 by default).
    #[must_use]
    pub fn on_error(mut self, responder: ErrorResponder) -> Self {
        self.engine_mut().on_error = responder;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.engine.store
    }

    /// The keys that sign session ids (with [`ServerSideConfig::use_signer`]).
    pub fn keys(&self) -> &KeyRing {
        &self.engine.keys
    }
}

impl<S, I> Layer<I> for StoreLayer<S> {
    type Service = StoreService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        StoreService {
            inner,
            engine: self.engine.clone(),
        }
    }
}

/// The middleware service made by [`StoreLayer`].
pub struct StoreService<S, I> {
    inner: I,
    engine: Arc<Engine<S>>,
}

impl<S, I: Clone> Clone for StoreService<S, I> {
    fn clone(&self) -> Self {
        StoreService {
            inner: self.inner.clone(),
            engine: self.engine.clone(),
        }
    }
}

impl<S, I: std::fmt::Debug> std::fmt::Debug for StoreService<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The response future of [`StoreService`]: saving may wait on the store, so it is boxed.
pub type StoreResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, I, ReqBody, ResBody> Service<Request<ReqBody>> for StoreService<S, I>
where
    S: SessionStore,
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    I::Future: Send + 'static,
    I::Error: 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = StoreResponseFuture<Response<ResBody>, I::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let engine = self.engine.clone();
        let id = find_cookie(request.headers(), &engine.config.cookie_name)
            .and_then(|raw| engine.parse_id(&raw));
        let pending = id.clone().map(|id| {
            let engine = engine.clone();
            Pending::Async(Box::new(move || {
                Box::pin(async move { engine.load(&id).await })
            }))
        });
        // With an id, the loader supplies the data; only a new visitor starts from scratch.
        let initial = if pending.is_some() {
            Map::new()
        } else {
            engine.fresh_data()
        };
        let session = Session::lazy(pending, initial, engine.config.rewrite_on_equal_assignment);
        request.extensions_mut().insert(session.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if let Err(failure) = engine.save(&session, id, response.headers_mut()).await {
                response = engine.on_error.respond(&failure).map(ResBody::from);
            }
            Ok(response)
        })
    }
}

impl<S: SessionStore> Engine<S> {
    fn lifetime(&self) -> u64 {
        self.config.permanent_lifetime.as_secs()
    }

    /// What a session without a stored record starts as: `{"_permanent": true}` when
    /// sessions are permanent by default, as in Flask-Session.
    fn fresh_data(&self) -> Map {
        let mut data = Map::new();
        if self.server.permanent_by_default {
            data.insert(PERMANENT_KEY.to_owned(), Value::Bool(true));
        }
        data
    }

    fn fresh_loaded(&self) -> Loaded {
        Loaded {
            data: self.fresh_data(),
            ..Loaded::default()
        }
    }

    fn parse_id(&self, raw: &str) -> Option<SessionId> {
        if !self.server.use_signer {
            return SessionId::parse(raw);
        }
        match self.signer.unsign(raw) {
            Ok((id, _)) => SessionId::parse(id),
            Err(_) => {
                log_rejection!(
                    self.rejections,
                    (self.clock)(),
                    "bad-signature",
                    "rejected session id cookie; starting a new session"
                );
                None
            }
        }
    }

    fn cookie_value(&self, id: &SessionId) -> String {
        if self.server.use_signer {
            self.signer.sign(id.as_str())
        } else {
            id.as_str().to_owned()
        }
    }

    /// One store round trip: the record, its expiry refreshed where the store can do both.
    async fn load(&self, id: &SessionId) -> Result<Loaded, ()> {
        let now = (self.clock)();
        match self
            .store
            .load(id, Some(now.saturating_add(self.lifetime())), now)
            .await
        {
            Ok(Some(record)) => Ok(Loaded {
                data: record.data,
                signed_with: None,
                stored_until: Some(record.expires_at),
                verified_cookie: None,
            }),
            // Unknown, expired or unreadable: never adopted; a new id is issued when
            // something is saved.
            Ok(None) => Ok(self.fresh_loaded()),
            Err(StoreError::Corrupt(why)) => {
                log_rejection!(
                    self.rejections,
                    (self.clock)(),
                    "bad-record",
                    %why,
                    "unreadable session record treated as missing"
                );
                Ok(self.fresh_loaded())
            }
            Err(error) => {
                tracing::error!(%error, "cannot load the session; answering with the store-error response");
                Err(())
            }
        }
    }

    async fn save(
        &self,
        session: &Session,
        id: Option<SessionId>,
        headers: &mut HeaderMap,
    ) -> Result<(), SessionFailure> {
        let Some(outcome) = session.outcome(|| false) else {
            return Ok(());
        };
        if outcome.failed {
            return Err(SessionFailure::StoreUnavailable);
        }
        self.write_back(outcome, id, headers).await.map_err(|error| {
            tracing::error!(%error, "cannot save the session; answering with the store-error response");
            SessionFailure::StoreUnavailable
        })
    }

    /// Flask-Session's `save_session`, update-only and with throttled expiry refresh. `id`
    /// is the request's session id; it names a record only if the load found one.
    async fn write_back(
        &self,
        outcome: Outcome,
        id: Option<SessionId>,
        headers: &mut HeaderMap,
    ) -> Result<(), StoreError> {
        let config = &self.config;
        let stored_until = outcome.stored_until;
        let mut id = id.filter(|_| stored_until.is_some());
        if outcome.accessed {
            add_vary_cookie(headers);
        }
        if flask_session::is_empty(&outcome.data) {
            if outcome.modified {
                if let Some(id) = &id {
                    self.store.delete(id).await?;
                }
                append_set_cookie(headers, &bare_deletion_cookie(config));
                add_vary_cookie(headers);
            }
            return Ok(());
        }
        let now = (self.clock)();
        let expires_at = now.saturating_add(self.lifetime());
        let permanent = is_permanent(&outcome.data);
        let record = Record {
            data: outcome.data,
            expires_at,
        };
        let mut new_id = false;
        if let (true, Some(old)) = (outcome.cycle_id, &id) {
            let fresh = SessionId::generate()?;
            if self.store.change_id(old, &fresh, now).await? {
                id = Some(fresh);
                new_id = true;
            }
        }
        if outcome.modified {
            match &id {
                Some(existing) => {
                    if !self.store.save(existing, &record, now).await? {
                        // Deleted meanwhile (a logout racing this request): stay deleted.
                        tracing::info!(
                            "session was deleted during this request; its update is dropped"
                        );
                        return Ok(());
                    }
                }
                None => {
                    id = Some(self.create(&record, now).await?);
                    new_id = true;
                }
            }
        } else if let (Some(existing), Some(until)) = (&id, stored_until) {
            let refresh_due =
                until.saturating_add(self.server.touch_interval.as_secs()) < expires_at;
            if refresh_due {
                self.store.touch(existing, expires_at, now).await?;
            }
        }
        let Some(id) = id else { return Ok(()) };
        if outcome.modified || new_id || (permanent && config.refresh_each_request) {
            let expiry = Expiry::of_session(permanent, expires_at);
            append_set_cookie(
                headers,
                &set_cookie(config, &self.cookie_value(&id), expiry),
            );
            add_vary_cookie(headers);
        }
        Ok(())
    }

    /// Stores a new session under a fresh random id, retrying on the (astronomically
    /// unlikely) collision.
    async fn create(&self, record: &Record, now: u64) -> Result<SessionId, StoreError> {
        for _ in 0..4 {
            let id = SessionId::generate()?;
            if self.store.create(&id, record, now).await? {
                return Ok(id);
            }
        }
        Err(StoreError::Corrupt(
            "four random session ids collided".to_owned(),
        ))
    }
}
