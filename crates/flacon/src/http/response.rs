//! Error responses the layer may send instead of the handler's, and how to customise them.

use std::sync::Arc;

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::store::StoreError;

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
    StoreUnavailable {
        /// What the store said, when it said something (a session used before it was
        /// loaded has no store error).
        cause: Option<Arc<StoreError>>,
    },
}

impl SessionFailure {
    /// The store's error behind the failure, if any, for logs and error pages.
    pub fn cause(&self) -> Option<&StoreError> {
        match self {
            SessionFailure::StoreUnavailable { cause } => cause.as_deref(),
            SessionFailure::CookieTooLarge(_) => None,
        }
    }
}

/// What the request that failed asked for: enough for an error page to answer in the
/// client's terms (JSON for an API, by path or `Accept`) and to name a request id.
#[derive(Debug, Clone)]
pub struct RequestHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl RequestHead {
    pub(crate) fn of<B>(request: &http::Request<B>) -> Self {
        RequestHead {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
        }
    }

    /// A head from its parts, for an adapter whose framework has its own request type.
    #[cfg(feature = "actix")]
    pub(crate) fn from_parts(method: Method, uri: Uri, headers: HeaderMap) -> Self {
        RequestHead {
            method,
            uri,
            headers,
        }
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's URI (its path: `uri().path()`).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request's headers (`Accept`, a request id).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

/// Marks the response of a [`SessionRejection::Unavailable`](super::SessionRejection) the
/// handler did not catch: the layer replaces it with its error response. A handler that
/// matched the rejection and answered itself sends no such mark, and keeps its answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UncaughtRejection;

/// Builds the response sent when the session cannot be loaded or saved. The defaults are
/// short plain-text bodies that reveal nothing internal: `500 Internal Server Error` for a
/// cookie too large, `503 Service Unavailable` for a store outage (with `Retry-After: 5`)
/// or a session busy with overlapping requests (`Retry-After: 1`).
///
/// ```
/// use flacon::http::{ErrorResponder, SessionFailure};
/// use http::{Response, StatusCode};
/// let responder = ErrorResponder::new(|failure| match failure {
///     SessionFailure::StoreUnavailable { .. } => Response::builder()
///         .status(StatusCode::SERVICE_UNAVAILABLE)
///         .body("<h1>Back in a moment</h1>".to_owned())
///         .unwrap(),
///     _ => ErrorResponder::default_response(failure),
/// });
/// # let _ = responder;
/// ```
#[derive(Clone)]
pub struct ErrorResponder(Respond);

type FailureFn = dyn Fn(&SessionFailure) -> Response<String> + Send + Sync;
type WithRequestFn = dyn Fn(&SessionFailure, &RequestHead) -> Response<String> + Send + Sync;

#[derive(Clone)]
enum Respond {
    Failure(Arc<FailureFn>),
    WithRequest(Arc<WithRequestFn>),
}

impl ErrorResponder {
    /// A responder from a function of the failure.
    pub fn new(f: impl Fn(&SessionFailure) -> Response<String> + Send + Sync + 'static) -> Self {
        ErrorResponder(Respond::Failure(Arc::new(f)))
    }

    /// A responder that also sees what the request asked for (its method, URI and
    /// headers are kept for it, at the cost of a copy per request).
    ///
    /// ```
    /// use flacon::http::{ErrorResponder, SessionFailure};
    /// use http::{header, Response, StatusCode};
    /// let json_for_apis = ErrorResponder::with_request(|failure, request| {
    ///     let wants_json = request.uri().path().starts_with("/api/")
    ///         || request.headers().get(header::ACCEPT).is_some_and(|a| a == "application/json");
    ///     if !wants_json {
    ///         return ErrorResponder::default_response(failure);
    ///     }
    ///     let mut response = Response::new(r#"{"error":"session storage unavailable"}"#.to_owned());
    ///     *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    ///     response
    /// });
    /// # let _ = json_for_apis;
    /// ```
    pub fn with_request(
        f: impl Fn(&SessionFailure, &RequestHead) -> Response<String> + Send + Sync + 'static,
    ) -> Self {
        ErrorResponder(Respond::WithRequest(Arc::new(f)))
    }

    /// What [`respond`](Self::respond) needs kept of `request`: its head, for a responder
    /// made [`with_request`](Self::with_request), else nothing (no copy per request).
    pub(crate) fn head_of<B>(&self, request: &http::Request<B>) -> Option<RequestHead> {
        self.wants_request().then(|| RequestHead::of(request))
    }

    /// Whether [`respond`](Self::respond) looks at the request's head.
    pub(crate) fn wants_request(&self) -> bool {
        matches!(self.0, Respond::WithRequest(_))
    }

    /// flacon's default response for `failure`.
    pub fn default_response(failure: &SessionFailure) -> Response<String> {
        match failure {
            SessionFailure::CookieTooLarge(_) => plain_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session is too large to store.\n",
            ),
            SessionFailure::StoreUnavailable { .. } => {
                let mut response = plain_text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Session storage is temporarily unavailable. Please retry.\n",
                );
                // A session busy with another request frees up in moments; an outage may not.
                let busy = matches!(failure.cause(), Some(StoreError::Busy(_)));
                let retry_after = if busy { "1" } else { "5" };
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
                response
            }
        }
    }

    pub(crate) fn respond(
        &self,
        failure: &SessionFailure,
        request: Option<&RequestHead>,
    ) -> Response<String> {
        match (&self.0, request) {
            (Respond::Failure(f), _) => f(failure),
            (Respond::WithRequest(f), Some(request)) => f(failure, request),
            (Respond::WithRequest(_), None) => Self::default_response(failure),
        }
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
