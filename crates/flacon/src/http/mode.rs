//! Routes that want no session, or a session they only read: [`SessionModeLayer`] (or a
//! [`SessionMode`] in the response's extensions) tells the session layers what to leave out.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::common::inner_service_accessors;

/// What a route lets the session layers do with its response.
///
/// ```
/// use axum::{routing::get, Router};
/// use flacon::http::SessionModeLayer;
/// use flacon::{KeyRing, SecretKey, SessionLayer};
///
/// let app: Router = Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .route_layer(SessionModeLayer::skip())
///     .route("/", get(|| async { "home" }))
///     .layer(SessionLayer::new(KeyRing::new(SecretKey::from_text("a long random key, from the environment"))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionMode {
    /// No session here: no `Set-Cookie`, no `Vary: Cookie`, nothing stored, even with
    /// `refresh_each_request` (a health check, a static file).
    Skip,
    /// The session may be read (`Vary: Cookie` is sent) but nothing is written: no cookie
    /// refresh, no store write; a change made anyway is dropped and logged.
    ReadOnly,
    /// A server-side session is loaded under a per-session lock, held until its save, so
    /// that overlapping requests of the session run this route one at a time: for a
    /// handler that writes a value computed from one it read (a counter, a balance, a
    /// one-time token), where merging overlapping writes cannot be right. Set it with
    /// [`SessionModeLayer::exclusive`], which runs before the session is loaded (as a
    /// response extension it comes too late and changes nothing). Signed-cookie sessions
    /// cannot be locked: the browser keeps whichever cookie arrives last.
    Exclusive {
        /// How long a request waits for the lock before it gets the store-error response
        /// (`503` with `Retry-After`).
        wait: Duration,
        /// How long a lock is held at most: the lock of a request that died runs out then.
        /// Longer than the route's slowest response.
        hold: Duration,
    },
}

/// Puts a [`SessionMode`] into every response of the services it wraps (use it with
/// `route_layer`).
#[derive(Debug, Clone, Copy)]
pub struct SessionModeLayer(pub(crate) SessionMode);

impl SessionModeLayer {
    /// [`SessionMode::Skip`].
    pub fn skip() -> Self {
        SessionModeLayer(SessionMode::Skip)
    }

    /// [`SessionMode::ReadOnly`].
    pub fn read_only() -> Self {
        SessionModeLayer(SessionMode::ReadOnly)
    }

    /// [`SessionMode::Exclusive`]: a request waits up to 5 s for the session's lock, and
    /// holds it 30 s at most. Put it on the routes that need it (`route_layer`), under the
    /// store layer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::{routing::post, Router};
    /// use flacon::http::SessionModeLayer;
    /// use flacon::store::MemoryStore;
    /// use flacon::{KeyRing, SecretKey, Session, StoreLayer};
    ///
    /// async fn increment(session: Session) -> String {
    ///     let count = session.get::<i64>("count").unwrap_or(0) + 1;
    ///     session.insert("count", &count).unwrap();
    ///     count.to_string()
    /// }
    ///
    /// let key = KeyRing::new(SecretKey::from_text("a long random key, from the environment"));
    /// let app: Router = Router::new()
    ///     .route("/count", post(increment))
    ///     .route_layer(SessionModeLayer::exclusive().with_lock_wait(Duration::from_secs(2)))
    ///     .layer(StoreLayer::new(MemoryStore::default(), key));
    /// ```
    pub fn exclusive() -> Self {
        SessionModeLayer(SessionMode::Exclusive {
            wait: Duration::from_secs(5),
            hold: Duration::from_secs(30),
        })
    }

    /// How long an [`exclusive`](Self::exclusive) route waits for the lock.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        if let SessionMode::Exclusive {
            wait: ref mut w, ..
        } = self.0
        {
            *w = wait;
        }
        self
    }

    /// How long an [`exclusive`](Self::exclusive) route holds the lock at most.
    pub fn with_lock_hold(mut self, hold: Duration) -> Self {
        if let SessionMode::Exclusive {
            hold: ref mut h, ..
        } = self.0
        {
            *h = hold;
        }
        self
    }
}

impl<S> Layer<S> for SessionModeLayer {
    type Service = SessionModeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionModeService {
            inner,
            mode: self.0,
        }
    }
}

/// The service made by [`SessionModeLayer`].
#[derive(Debug, Clone)]
pub struct SessionModeService<S> {
    inner: S,
    mode: SessionMode,
}

impl<S> SessionModeService<S> {
    inner_service_accessors!(S);
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionModeService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionModeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let extensions = request.extensions();
        super::common::begin_mode(
            self.mode,
            extensions.get::<super::ServerSession>().map(|s| &s.0),
            extensions.get::<super::CookieSession>().is_some(),
        );
        SessionModeFuture {
            inner: self.inner.call(request),
            mode: self.mode,
        }
    }
}

pin_project! {
    /// The response future of [`SessionModeService`].
    pub struct SessionModeFuture<F> {
        #[pin]
        inner: F,
        mode: SessionMode,
    }
}

impl<F, ResBody, E> Future for SessionModeFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        response.extensions_mut().insert(*this.mode);
        Poll::Ready(Ok(response))
    }
}
