//! Error responses the layer may send instead of the handler's, and how to customise them.

use std::sync::Arc;

use http::{header, HeaderValue, Response, StatusCode};

/// A session cookie that would not fit in the browser's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedCookie {
    /// The length of `name=value; attributes`.
    pub size: usize,
    /// The configured limit ([`SessionConfig::max_cookie_size`](crate::config::SessionConfig::max_cookie_size)).
    pub limit: usize,
    /// The largest session keys with their encoded sizes, largest first (at most three).
    pub largest_keys: Vec<(String, usize)>,
}

impl std::fmt::Display for OversizedCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "session cookie is {} bytes, over the {}-byte limit; largest keys:",
            self.size, self.limit
        )?;
        for (key, size) in &self.largest_keys {
            write!(f, " {key:?} ({size} bytes)")?;
        }
        Ok(())
    }
}

/// Why the session layer replaced the handler's response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionFailure {
    /// The session cookie would exceed the browser limit.
    CookieTooLarge(OversizedCookie),
    /// The session store could not be reached to load or save the session.
    StoreUnavailable,
}

/// Builds the response sent when the session cannot be loaded or saved. The defaults are
/// short plain-text bodies that reveal nothing internal: `500 Internal Server Error` for a
/// cookie too large, `503 Service Unavailable` (with `Retry-After: 5`) for a store outage.
///
/// ```
/// use flacon::http::{ErrorResponder, SessionFailure};
/// use http::{Response, StatusCode};
/// let responder = ErrorResponder::new(|failure| match failure {
///     SessionFailure::StoreUnavailable => Response::builder()
///         .status(StatusCode::SERVICE_UNAVAILABLE)
///         .body("<h1>Back in a moment</h1>".to_owned())
///         .unwrap(),
///     _ => ErrorResponder::default_response(failure),
/// });
/// # let _ = responder;
/// ```
#[derive(Clone)]
pub struct ErrorResponder(Arc<RespondFn>);

type RespondFn = dyn Fn(&SessionFailure) -> Response<String> + Send + Sync;

impl ErrorResponder {
    /// A responder from a function.
    pub fn new(f: impl Fn(&SessionFailure) -> Response<String> + Send + Sync + 'static) -> Self {
        ErrorResponder(Arc::new(f))
    }

    /// flacon's default response for `failure`.
    pub fn default_response(failure: &SessionFailure) -> Response<String> {
        match failure {
            SessionFailure::CookieTooLarge(_) => plain_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session is too large to store.\n",
            ),
            SessionFailure::StoreUnavailable => {
                let mut response = plain_text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Session storage is temporarily unavailable. Please retry.\n",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
        }
    }

    pub(crate) fn respond(&self, failure: &SessionFailure) -> Response<String> {
        (self.0)(failure)
    }
}

impl Default for ErrorResponder {
    fn default() -> Self {
        ErrorResponder::new(Self::default_response)
    }
}

impl std::fmt::Debug for ErrorResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrorResponder(..)")
    }
}

/// A plain-text response.
pub(crate) fn plain_text(status: StatusCode, body: &str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
