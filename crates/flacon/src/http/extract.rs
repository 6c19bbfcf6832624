//! The axum extractor for [`Session`].

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::rejection::{loaded, loaded_as, plain_session};
use super::{CookieSession, ServerSession, SessionRejection, UncaughtRejection};
use crate::session::Session;

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let mut response = self.answer().into_response();
        if matches!(self, SessionRejection::Unavailable) {
            response.extensions_mut().insert(UncaughtRejection);
        }
        response
    }
}

/// Extracting a `Session` loads it: a cookie session lazily on first use, a server-side
/// session from its store right here (one round trip), so the handler never waits on it.
/// On a route with both layers, name the one meant: [`CookieSession`] or [`ServerSession`].
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = plain_session(
            parts.extensions.get::<CookieSession>(),
            parts.extensions.get::<ServerSession>(),
        );
        loaded(session).await
    }
}

/// The signed-cookie session, on a route that may also have a [`StoreLayer`](crate::StoreLayer).
impl<S: Send + Sync> FromRequestParts<S> for CookieSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<CookieSession>().map(|s| s.0.clone());
        loaded_as(session, CookieSession).await
    }
}

/// The server-side session, on a route that may also have a [`SessionLayer`](crate::SessionLayer).
impl<S: Send + Sync> FromRequestParts<S> for ServerSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<ServerSession>().map(|s| s.0.clone());
        loaded_as(session, ServerSession).await
    }
}
