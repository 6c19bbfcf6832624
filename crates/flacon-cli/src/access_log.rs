//! The request log of `flacon serve`: one compact line per request (`GET /get_email 200
//! 0.12ms`), an event on the `flacon::access` target, written by the non-blocking log
//! writer `main` installs. A tower layer, so it costs one `Instant` and one event per
//! request (tower-http's `TraceLayer` adds a span per request besides).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Logs each request's method, path, status and duration at `info`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessLog<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = request.method().clone();
        // The path only: a query string may carry what should not be in a log.
        let path = request.uri().path().to_owned();
        AccessLogFuture {
            inner: self.inner.call(request),
            method,
            path,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The inner response, logged when it is ready.
    pub(crate) struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        method: Method,
        path: String,
        started: Instant,
    }
}

impl<F, ResBody, E> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let millis = this.started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(response) => tracing::info!(
                target: "flacon::access",
                "{} {} {} {millis:.2}ms",
                this.method,
                this.path,
                response.status().as_u16()
            ),
            Err(_) => tracing::info!(
                target: "flacon::access",
                "{} {} failed {millis:.2}ms",
                this.method,
                this.path
            ),
        }
        Poll::Ready(result)
    }
}
