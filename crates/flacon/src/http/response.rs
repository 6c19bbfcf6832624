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

/// Builds the response sent when the session cannot be written. The default answers
/// `500 Internal Server Error` with a short plain-text body that reveals nothing internal.
///
/// ```
/// use flacon::http::ErrorResponder;
/// use http::{Response, StatusCode};
/// let responder = ErrorResponder::new(|_oversized| {
///     Response::builder()
///         .status(StatusCode::PAYLOAD_TOO_LARGE)
///         .body("your cart is too big".to_owned())
///         .unwrap()
/// });
/// # let _ = responder;
/// ```
#[derive(Clone)]
pub struct ErrorResponder(Arc<RespondFn>);

type RespondFn = dyn Fn(&OversizedCookie) -> Response<String> + Send + Sync;

impl ErrorResponder {
    /// A responder from a function.
    pub fn new(f: impl Fn(&OversizedCookie) -> Response<String> + Send + Sync + 'static) -> Self {
        ErrorResponder(Arc::new(f))
    }

    pub(crate) fn respond(&self, oversized: &OversizedCookie) -> Response<String> {
        (self.0)(oversized)
    }
}

impl Default for ErrorResponder {
    fn default() -> Self {
        ErrorResponder::new(|_| {
            plain_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session is too large to store.\n",
            )
        })
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
