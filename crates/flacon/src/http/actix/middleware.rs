//! The middleware: [`SessionLayer`], [`StoreLayer`] and [`SessionModeLayer`] are also
//! actix-web `Transform`s, so one configured layer wraps an axum router or an actix-web `App`.
//! Each request runs as in the tower layers: the session is filed in the request's
//! extensions before the handler, and after it the policy core decides; these services only
//! translate what goes in and out.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage as _};

use super::translate::{request_head, session_cookie, to_actix};
use crate::http::common::{apply, decision_for_mode, settle, Settled};
use crate::http::{
    CookieSession, ErrorResponder, RequestHead, ServerSession, SessionLayer, SessionMode,
    SessionModeLayer, SessionRejection, StoreLayer,
};
use crate::policy::{CookiePolicy, Decision, Failure, StorePolicy};
use crate::session::Session;
use crate::store::SessionStore;

/// The response of a session middleware: the handler's body, or the error responder's.
pub type SessionResponse<B> = ServiceResponse<EitherBody<B>>;

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The service [`SessionLayer`] makes around an actix-web service.
pub struct CookieSessionMiddleware<S> {
    service: S,
    policy: Arc<CookiePolicy>,
    on_error: ErrorResponder,
}

/// The service [`StoreLayer`] makes around an actix-web service.
pub struct StoreSessionMiddleware<St, S> {
    service: S,
    policy: Arc<StorePolicy<St>>,
    on_error: ErrorResponder,
}

/// The service [`SessionModeLayer`] makes around an actix-web service (wrap a resource or
/// scope with the layer, as `route_layer` does in axum).
pub struct SessionModeMiddleware<S> {
    service: S,
    mode: SessionMode,
}

impl<S, B> Transform<S, ServiceRequest> for SessionLayer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = SessionResponse<B>;
    type Error = Error;
    type Transform = CookieSessionMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CookieSessionMiddleware {
            service,
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
        }))
    }
}

impl<St, S, B> Transform<S, ServiceRequest> for StoreLayer<St>
where
    St: SessionStore,
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = SessionResponse<B>;
    type Error = Error;
    type Transform = StoreSessionMiddleware<St, S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(StoreSessionMiddleware {
            service,
            policy: self.policy.clone(),
            on_error: self.on_error.clone(),
        }))
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionModeLayer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SessionModeMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionModeMiddleware {
            service,
            mode: self.0,
        }))
    }
}

impl<S, B> Service<ServiceRequest> for CookieSessionMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = SessionResponse<B>;
    type Error = Error;
    type Future = LocalFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        call_with(&self.service, &self.policy, &self.on_error, request)
    }
}

impl<St, S, B> Service<ServiceRequest> for StoreSessionMiddleware<St, S>
where
    St: SessionStore,
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = SessionResponse<B>;
    type Error = Error;
    type Future = LocalFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        call_with(&self.service, &self.policy, &self.on_error, request)
    }
}

/// What differs between the two kinds of session, for the middleware: how a request's
/// session begins (and is filed in its extensions), and how its response is decided.
trait Policy: 'static {
    /// What the decision needs besides the session.
    type Carried: 'static;

    fn begin(self: &Arc<Self>, request: &ServiceRequest) -> (Session, Self::Carried);

    fn decide(
        self: Arc<Self>,
        session: Session,
        carried: Self::Carried,
    ) -> LocalFuture<Result<Decision, Failure>>;
}

impl Policy for CookiePolicy {
    /// The cookie the session came from, to decide about an untouched one.
    type Carried = Option<Arc<str>>;

    fn begin(self: &Arc<Self>, request: &ServiceRequest) -> (Session, Self::Carried) {
        let raw: Option<Arc<str>> = session_cookie(request, &self.settings.config.cookie_name)
            .filter(|v| !v.is_empty())
            .map(|v| Arc::from(&*v));
        let session = self.session_for(raw.clone());
        request
            .extensions_mut()
            .insert(CookieSession(session.clone()));
        (session, raw)
    }

    fn decide(
        self: Arc<Self>,
        session: Session,
        raw: Self::Carried,
    ) -> LocalFuture<Result<Decision, Failure>> {
        Box::pin(std::future::ready(CookiePolicy::decide(
            &self,
            &session,
            raw.as_deref(),
        )))
    }
}

impl<St: SessionStore> Policy for StorePolicy<St> {
    type Carried = ();

    fn begin(self: &Arc<Self>, request: &ServiceRequest) -> (Session, Self::Carried) {
        let id = session_cookie(request, &self.settings.config.cookie_name)
            .and_then(|raw| self.parse_id(&raw));
        let session = self.session_for(id);
        request
            .extensions_mut()
            .insert(ServerSession(session.clone()));
        (session, ())
    }

    fn decide(self: Arc<Self>, session: Session, (): ()) -> LocalFuture<Result<Decision, Failure>> {
        Box::pin(async move { StorePolicy::decide(&self, &session).await })
    }
}

/// One request through a session middleware, as the tower layers run it: the session filed
/// before the handler, the policy's decision settled into the response after it.
fn call_with<P, S, B>(
    service: &S,
    policy: &Arc<P>,
    on_error: &ErrorResponder,
    request: ServiceRequest,
) -> LocalFuture<Result<SessionResponse<B>, Error>>
where
    P: Policy,
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let (session, carried) = policy.begin(&request);
    let head = on_error.wants_request().then(|| request_head(&request));
    let (policy, on_error) = (policy.clone(), on_error.clone());
    let response = service.call(request);
    Box::pin(async move {
        let response = response.await?;
        let decided = match mode_decision(&response, &session) {
            Some(decision) => Ok(decision),
            None => policy.decide(session, carried).await,
        };
        Ok(finish(response, decided, &on_error, head.as_ref()))
    })
}

impl<S, B> Service<ServiceRequest> for SessionModeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let mode = self.mode;
        {
            let extensions = request.extensions();
            crate::http::common::begin_mode(
                mode,
                extensions.get::<ServerSession>().map(|s| &s.0),
                extensions.get::<CookieSession>().is_some(),
            );
        }
        let response = self.service.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            response.response_mut().extensions_mut().insert(mode);
            Ok(response)
        })
    }
}

/// What a route's [`SessionMode`] decides, if it set one (through [`SessionModeLayer`] or
/// in its response's extensions).
fn mode_decision<B>(response: &ServiceResponse<B>, session: &Session) -> Option<Decision> {
    let mode = response
        .response()
        .extensions()
        .get::<SessionMode>()
        .copied();
    decision_for_mode(mode, session)
}

/// Writes the decision into `response`, or replaces it, as the policy core settles it.
fn finish<B>(
    mut response: ServiceResponse<B>,
    decided: Result<Decision, Failure>,
    on_error: &ErrorResponder,
    head: Option<&RequestHead>,
) -> SessionResponse<B> {
    // A handler's own answer to a rejection carries no error; an extractor's does.
    let uncaught = response
        .response()
        .error()
        .and_then(|error| error.as_error::<SessionRejection>())
        .is_some_and(|rejection| matches!(rejection, SessionRejection::Unavailable));
    match settle(decided, uncaught, on_error, head) {
        Settled::Write(decision) => {
            apply(decision, response.headers_mut());
            response.map_into_left_body()
        }
        Settled::Leave => response.map_into_left_body(),
        Settled::Replace(replacement) => {
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, to_actix(replacement)).map_into_right_body()
        }
    }
}
