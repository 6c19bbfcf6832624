use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::http::common::{apply, decision_for_mode};
use crate::http::{ErrorResponder, RequestHead, SessionMode, UncaughtRejection};
use crate::policy::CookiePolicy;
use crate::session::Session;

pin_project! {
    /// The response future of [`SessionService`](super::SessionService): the inner
    /// response with the session written back, as Flask's
    /// `SecureCookieSessionInterface.save_session` does.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // The session, and the cookie it came from (to decide about an untouched one).
        session: Option<(Session, Option<Arc<str>>)>,
        policy: Arc<CookiePolicy>,
        on_error: ErrorResponder,
        // Kept only when the error responder wants to see the request.
        head: Option<RequestHead>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        session: Session,
        raw: Option<Arc<str>>,
        policy: Arc<CookiePolicy>,
        on_error: ErrorResponder,
        head: Option<RequestHead>,
    ) -> Self {
        ResponseFuture {
            inner,
            session: Some((session, raw)),
            policy,
            on_error,
            head,
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: From<String>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some((session, raw)) = this.session.take() {
            let mode = response.extensions().get::<SessionMode>().copied();
            if let Some(decision) = decision_for_mode(mode, &session) {
                apply(decision, response.headers_mut());
                return Poll::Ready(Ok(response));
            }
            match this.policy.decide(&session, raw.as_deref()) {
                Ok(decision) => apply(decision, response.headers_mut()),
                // The handler answered the registry's outage itself, or never asked for the
                // session: its answer stands, and nothing is written.
                Err(failed)
                    if failed.at_load
                        && response.extensions().get::<UncaughtRejection>().is_none() => {}
                Err(failed) => {
                    response = this
                        .on_error
                        .respond(&failed.failure, this.head.as_ref())
                        .map(ResBody::from);
                }
            }
        }
        Poll::Ready(Ok(response))
    }
}
