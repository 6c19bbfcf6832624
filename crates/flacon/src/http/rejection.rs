//! Why a handler could not be given its [`Session`](crate::Session), the same for every
//! framework's extractor.

#[cfg(any(feature = "axum", feature = "actix"))]
use http::StatusCode;

#[cfg(any(feature = "axum", feature = "actix"))]
use super::{CookieSession, ServerSession};
#[cfg(any(feature = "axum", feature = "actix"))]
use crate::session::Session;

/// Why a [`Session`](crate::Session) could not be extracted.
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

#[cfg(any(feature = "axum", feature = "actix"))]
impl SessionRejection {
    /// The status this rejection answers with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            SessionRejection::Missing | SessionRejection::Ambiguous => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            SessionRejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The status and plain-text body this rejection answers with; a server bug is logged.
    pub(crate) fn answer(self) -> (StatusCode, &'static str) {
        let body = match self {
            SessionRejection::Missing | SessionRejection::Ambiguous => {
                tracing::error!("{self}");
                "Session unavailable.\n"
            }
            SessionRejection::Unavailable => "Session storage is temporarily unavailable.\n",
        };
        (self.status(), body)
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
/// The session a plain `Session` extractor means, from what the layers filed in the request.
pub(crate) fn plain_session(
    cookie: Option<&CookieSession>,
    server: Option<&ServerSession>,
) -> Result<Session, SessionRejection> {
    match (cookie, server) {
        (Some(_), Some(_)) => Err(SessionRejection::Ambiguous),
        (Some(CookieSession(session)), None) | (None, Some(ServerSession(session))) => {
            Ok(session.clone())
        }
        (None, None) => Err(SessionRejection::Missing),
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
/// Loads the session a named extractor (`CookieSession`, `ServerSession`) found, as `wrap`.
pub(crate) async fn loaded_as<N>(
    found: Option<Session>,
    wrap: fn(Session) -> N,
) -> Result<N, SessionRejection> {
    loaded(found.ok_or(SessionRejection::Missing))
        .await
        .map(wrap)
}

#[cfg(any(feature = "axum", feature = "actix"))]
/// Loads `session` for the handler: a server-side session from its store (one round trip),
/// a cookie session later, on first use.
pub(crate) async fn loaded(
    session: Result<Session, SessionRejection>,
) -> Result<Session, SessionRejection> {
    let session = session?;
    session
        .load()
        .await
        .map_err(|_| SessionRejection::Unavailable)?;
    Ok(session)
}
