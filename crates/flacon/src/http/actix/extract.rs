//! The extractors: [`Session`], [`CookieSession`] and [`ServerSession`] in an actix-web
//! handler, loaded as the axum extractor loads them.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};

use super::translate::to_actix_status;
use crate::http::rejection::{loaded, loaded_as, plain_session};
use crate::http::{CookieSession, ServerSession, SessionRejection};
use crate::session::Session;

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, SessionRejection>>>>;

/// The middleware replaces an uncaught `Unavailable` with its store-error response; the
/// others are server bugs, answered 500 without detail.
impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        to_actix_status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        let (status, body) = self.answer();
        HttpResponse::build(to_actix_status(status))
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ))
            .body(body)
    }
}

/// Extracting a `Session` loads it: a cookie session lazily on first use, a server-side
/// session from its store right here (one round trip). Two extractors of one handler share
/// one session and one load. On a route with both middlewares, name the one meant:
/// [`CookieSession`] or [`ServerSession`].
impl FromRequest for Session {
    type Error = SessionRejection;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = {
            let extensions = request.extensions();
            plain_session(extensions.get(), extensions.get())
        };
        Box::pin(loaded(session))
    }
}

/// The signed-cookie session, on a route that may also have a [`StoreLayer`](crate::StoreLayer).
impl FromRequest for CookieSession {
    type Error = SessionRejection;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request
            .extensions()
            .get::<CookieSession>()
            .map(|s| s.0.clone());
        Box::pin(loaded_as(session, CookieSession))
    }
}

/// The server-side session, on a route that may also have a [`SessionLayer`](crate::SessionLayer).
impl FromRequest for ServerSession {
    type Error = SessionRejection;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request
            .extensions()
            .get::<ServerSession>()
            .map(|s| s.0.clone());
        Box::pin(loaded_as(session, ServerSession))
    }
}

/// The application's templates with the request's session, as in axum: the environment is
/// the app's `web::Data<minijinja::Environment<'static>>`.
#[cfg(feature = "minijinja")]
impl FromRequest for crate::http::template::Templates {
    type Error = SessionRejection;
    type Future = Extracted<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let env = request
            .app_data::<actix_web::web::Data<minijinja::Environment<'static>>>()
            .map(|data| data.clone().into_inner());
        let session = Session::from_request(request, payload);
        Box::pin(async move {
            let Some(env) = env else {
                tracing::error!("no web::Data<minijinja::Environment> is registered with this app");
                return Err(SessionRejection::Missing);
            };
            Ok(Self::new(env, session.await?))
        })
    }
}
