//! The axum extractor for [`Session`].

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use super::{CookieSession, ServerSession, UncaughtRejection};
use crate::session::Session;

/// Why a [`Session`] could not be extracted.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No [`SessionLayer`](crate::SessionLayer) or [`StoreLayer`](crate::StoreLayer) is
    /// installed on this route: a server bug, answered with 500.
    #[error("no session layer is installed on this route")]
    Missing,
    /// The session store is unreachable. The layer replaces this response with its
    /// store-error response (503 by default).
    #[error("the session store is unavailable")]
    Unavailable,
    /// Both [`SessionLayer`](crate::SessionLayer) and [`StoreLayer`](crate::StoreLayer) are
    /// on this route, so a plain `Session` could be either: a server bug, answered with 500.
    #[error(
        "both SessionLayer and StoreLayer are on this route: extract CookieSession or \
         ServerSession to say which session the handler means"
    )]
    Ambiguous,
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::Missing | SessionRejection::Ambiguous => {
                tracing::error!("{self}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Session unavailable.\n").into_response()
            }
            SessionRejection::Unavailable => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Session storage is temporarily unavailable.\n",
                )
                    .into_response();
                response.extensions_mut().insert(UncaughtRejection);
                response
            }
        }
    }
}

/// Loads `session` for the handler: a server-side session from its store (one round trip),
/// a cookie session later, on first use.
async fn loaded(session: Option<Session>) -> Result<Session, SessionRejection> {
    let session = session.ok_or(SessionRejection::Missing)?;
    session
        .load()
        .await
        .map_err(|_| SessionRejection::Unavailable)?;
    Ok(session)
}

/// Extracting a `Session` loads it: a cookie session lazily on first use, a server-side
/// session from its store right here (one round trip), so the handler never waits on it.
/// On a route with both layers, name the one meant: [`CookieSession`] or [`ServerSession`].
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let cookie = parts.extensions.get::<CookieSession>();
        let server = parts.extensions.get::<ServerSession>();
        let session = match (cookie, server) {
            (Some(_), Some(_)) => return Err(SessionRejection::Ambiguous),
            (Some(CookieSession(session)), None) | (None, Some(ServerSession(session))) => {
                Some(session.clone())
            }
            (None, None) => None,
        };
        loaded(session).await
    }
}

/// The signed-cookie session, on a route that may also have a [`StoreLayer`](crate::StoreLayer).
impl<S: Send + Sync> FromRequestParts<S> for CookieSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<CookieSession>().map(|s| s.0.clone());
        loaded(session).await.map(CookieSession)
    }
}

/// The server-side session, on a route that may also have a [`SessionLayer`](crate::SessionLayer).
impl<S: Send + Sync> FromRequestParts<S> for ServerSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<ServerSession>().map(|s| s.0.clone());
        loaded(session).await.map(ServerSession)
    }
}
