use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::http::common::{apply, decision_for_mode, settle, Settled};
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
            let decided = match decision_for_mode(mode, &session) {
                Some(decision) => Ok(decision),
                None => this.policy.decide(&session, raw.as_deref()),
            };
            let uncaught = response.extensions().get::<UncaughtRejection>().is_some();
            match settle(decided, uncaught, this.on_error, this.head.as_ref()) {
                Settled::Write(decision) => apply(decision, response.headers_mut()),
                Settled::Leave => {}
                Settled::Replace(replacement) => response = replacement.map(ResBody::from),
            }
        }
        Poll::Ready(Ok(response))
    }
}
