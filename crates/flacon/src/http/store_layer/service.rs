use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::StoreResponseFuture;
use crate::cookie::find_cookie;
use crate::http::common::{apply, decision_for_mode, inner_service_accessors, settle, Settled};
use crate::http::{ErrorResponder, ServerSession, SessionMode, UncaughtRejection};
use crate::policy::StorePolicy;
use crate::store::SessionStore;

/// The middleware service made by [`StoreLayer`](super::StoreLayer).
pub struct StoreService<S, I> {
    pub(super) inner: I,
    pub(super) policy: Arc<StorePolicy<S>>,
    pub(super) on_error: ErrorResponder,
}

impl<S, I> StoreService<S, I> {
    inner_service_accessors!(I);
}

impl<S, I: Clone> Clone for StoreService<S, I> {
    fn clone(&self) -> Self {
        StoreService {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
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
        let policy = self.policy.clone();
        let id = find_cookie(request.headers(), &policy.settings.config.cookie_name)
            .and_then(|raw| policy.parse_id(&raw));
        let session = policy.session_for(id);
        let head = self.on_error.head_of(&request);
        request
            .extensions_mut()
            .insert(ServerSession(session.clone()));
        let response = self.inner.call(request);
        let on_error = self.on_error.clone();
        StoreResponseFuture::new(async move {
            let mut response = response.await?;
            let mode = response.extensions().get::<SessionMode>().copied();
            let decided = match decision_for_mode(mode, &session) {
                Some(decision) => Ok(decision),
                None => policy.decide(&session).await,
            };
            let uncaught = response.extensions().get::<UncaughtRejection>().is_some();
            match settle(decided, uncaught, &on_error, head.as_ref()) {
                Settled::Write(decision) => apply(decision, response.headers_mut()),
                Settled::Leave => {}
                Settled::Replace(replacement) => response = replacement.map(ResBody::from),
            }
            Ok(response)
        })
    }
}
