//! The axum extractor for [`Session`].

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

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
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::Missing => {
                tracing::error!("{self}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Session unavailable.\n").into_response()
            }
            SessionRejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Session storage is temporarily unavailable.\n",
            )
                .into_response(),
        }
    }
}

/// Extracting a `Session` loads it: a cookie session lazily on first use, a server-side
/// session from its store right here (one round trip), so the handler never waits on it.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(SessionRejection::Missing)?;
        session
            .load()
            .await
            .map_err(|_| SessionRejection::Unavailable)?;
        Ok(session)
    }
}
