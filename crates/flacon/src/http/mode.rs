//! Routes that want no session, or a session they only read: [`SessionModeLayer`] (or a
//! [`SessionMode`] in the response's extensions) tells the session layers what to leave out.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

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
