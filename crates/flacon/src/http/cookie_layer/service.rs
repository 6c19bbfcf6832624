use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use crate::cookie::find_cookie;
use crate::http::common::inner_service_accessors;
use crate::http::{CookieSession, ErrorResponder};
use crate::policy::CookiePolicy;

/// The middleware service made by [`SessionLayer`](super::SessionLayer).
#[derive(Clone)]
pub struct SessionService<S> {
    pub(super) inner: S,
    pub(super) policy: Arc<CookiePolicy>,
    pub(super) on_error: ErrorResponder,
}

impl<S> SessionService<S> {
    inner_service_accessors!(S);
}

impl<S: std::fmt::Debug> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let policy = &self.policy;
        let raw: Option<Arc<str>> =
            find_cookie(request.headers(), &policy.settings.config.cookie_name)
                .filter(|v| !v.is_empty())
                .map(|v| Arc::from(&*v));
        let session = policy.session_for(raw.clone());
        let head = self.on_error.head_of(&request);
        request
            .extensions_mut()
            .insert(CookieSession(session.clone()));
        ResponseFuture::new(
            self.inner.call(request),
            session,
            raw,
            policy.clone(),
            self.on_error.clone(),
            head,
        )
    }
}
