use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The response future of [`StoreService`](super::StoreService): the inner response with
/// the session saved and written back. Saving waits on the store, whose future type is the
/// store's own, so it is boxed.
pub struct StoreResponseFuture<R, E> {
    inner: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> StoreResponseFuture<R, E> {
    pub(super) fn new(inner: impl Future<Output = Result<R, E>> + Send + 'static) -> Self {
        StoreResponseFuture {
            inner: Box::pin(inner),
        }
    }
}

impl<R, E> Future for StoreResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<R, E> std::fmt::Debug for StoreResponseFuture<R, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreResponseFuture")
            .finish_non_exhaustive()
    }
}
