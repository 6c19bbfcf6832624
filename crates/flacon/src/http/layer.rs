//! The tower middleware: [`SessionLayer`] wraps a service in [`SessionService`], whose
//! [`ResponseFuture`] writes the session back into the response as Flask's
//! `SecureCookieSessionInterface.save_session` does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::common::{add_vary_cookie, append_set_cookie, system_clock, Clock};
use super::rejections::{log_rejection, RejectionLog};
use super::response::{ErrorResponder, OversizedCookie, SessionFailure};
use crate::codec::{to_tagged_json, CookieCodec};
use crate::config::{OversizePolicy, SessionConfig};
use crate::cookie::{deletion_cookie, find_cookie, set_cookie, Expiry};
use crate::keys::{KeyMatch, KeyRing};
use crate::session::{is_permanent, Loaded, Pending, Session, PERMANENT_KEY};
use crate::value::{Map, Value};

/// Everything the middleware shares across requests.
#[derive(Clone)]
struct Engine {
    keys: KeyRing,
    codec: CookieCodec,
    config: SessionConfig,
    clock: Clock,
    on_error: ErrorResponder,
    rejections: Arc<RejectionLog>,
}

/// Adds a Flask-compatible cookie session to every request.
///
/// The cookie is verified when a handler first touches the session. A request that never
/// touches it costs nothing unless it carries a cookie and
/// [`refresh_each_request`](SessionConfig::refresh_each_request) is on (Flask's default):
/// a permanent session is re-sent on every response, so after the handler the cookie's
/// signature is checked and its payload looked at (not parsed) for `_permanent`; only a
/// session that may be permanent (or a cookie signed with a fallback key, or a bad one, to
/// be logged) is decoded, and an unchanged one is re-signed from its verified payload, not
/// re-serialized. Turn the setting off to make untouched requests free.
///
/// ```
/// use axum::{routing::get, Router};
/// use flacon::{KeyRing, SecretKey, Session, SessionLayer};
///
/// async fn count(session: Session) -> String {
///     let visits = session.modify("visits", |n: &mut u64| { *n += 1; *n }).unwrap();
///     format!("visit {visits}")
/// }
///
/// let key = SecretKey::from_text("a long random secret, from the environment");
/// let app: Router = Router::new()
///     .route("/", get(count))
///     .layer(SessionLayer::new(KeyRing::new(key)));
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.engine.config)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// Signed-cookie sessions with `keys` and Flask's default settings.
    pub fn new(keys: KeyRing) -> Self {
        SessionLayer {
            engine: Arc::new(Engine {
                codec: CookieCodec::flask(&keys),
                keys,
                config: SessionConfig::default(),
                clock: Arc::new(system_clock),
                on_error: ErrorResponder::default(),
                rejections: Arc::default(),
            }),
        }
    }

    fn engine_mut(&mut self) -> &mut Engine {
        Arc::make_mut(&mut self.engine)
    }

    /// Replaces the settings.
    #[must_use]
    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.engine_mut().config = config;
        self
    }

    /// The keys sessions are signed and verified with.
    pub fn keys(&self) -> &KeyRing {
        &self.engine.keys
    }

    /// The settings in force.
    pub fn config(&self) -> &SessionConfig {
        &self.engine.config
    }

    /// Replaces the clock (Unix seconds), for tests that pin time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.engine_mut().clock = Arc::new(clock);
        self
    }

    /// Replaces the response sent when the session cannot be saved (a cookie too large,
    /// with [`OversizePolicy::Error`]).
    #[must_use]
    pub fn on_error(mut self, responder: ErrorResponder) -> Self {
        self.engine_mut().on_error = responder;
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            engine: self.engine.clone(),
        }
    }
}

/// The middleware service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    engine: Arc<Engine>,
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
        let engine = &self.engine;
        let raw: Option<Arc<str>> = find_cookie(request.headers(), &engine.config.cookie_name)
            .filter(|v| !v.is_empty())
            .map(|v| Arc::from(&*v));
        let loader = raw.clone().map(|raw| {
            let engine = engine.clone();
            Pending::Sync(Box::new(move || engine.load(raw)))
        });
        let session = Session::lazy(
            loader,
            Map::new(),
            engine.config.rewrite_on_equal_assignment,
        );
        request.extensions_mut().insert(session.clone());
        ResponseFuture {
            inner: self.inner.call(request),
            session: Some((session, raw)),
            engine: engine.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`SessionService`]: the inner response with the session
    /// written back.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // The session, and the cookie it came from (to decide about an untouched one).
        session: Option<(Session, Option<Arc<str>>)>,
        engine: Arc<Engine>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: From<String>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some((session, raw)) = this.session.take() {
            if let Err(oversized) =
                this.engine
                    .save(&session, raw.as_deref(), response.headers_mut())
            {
                let failure = SessionFailure::CookieTooLarge(oversized);
                response = this.engine.on_error.respond(&failure).map(ResBody::from);
            }
        }
        Poll::Ready(Ok(response))
    }
}

impl Engine {
    fn max_age(&self) -> u64 {
        self.config.permanent_lifetime.as_secs()
    }

    /// Whether a session no handler touched must be loaded to answer as Flask would: when
    /// it may be permanent (re-sent every time), when a fallback key signed it (re-signed),
    /// and when the cookie is bad (logged). Only a current-key cookie whose payload cannot
    /// hold `_permanent` is left unopened: its signature is checked, its JSON is not parsed.
    fn untouched_needs_loading(&self, raw: &str) -> bool {
        let probe =
            self.codec
                .verify_and_probe(raw, Some(self.max_age()), (self.clock)(), PERMANENT_KEY);
        !matches!(probe, Ok((KeyMatch::Current, false)))
    }

    /// Verifies and decodes the request's cookie. A bad cookie is an empty session, logged
    /// with its kind, and left in the browser (Flask does not delete it either).
    fn load(&self, raw: Arc<str>) -> Loaded {
        match self
            .codec
            .decode(&raw, Some(self.max_age()), (self.clock)())
        {
            Ok(decoded) => match decoded.value {
                Value::Dict(data) => Loaded {
                    data,
                    signed_with: Some(decoded.key),
                    verified_cookie: Some(raw),
                    ..Loaded::default()
                },
                Value::Null => Loaded::default(),
                other => {
                    // Flask answers 500 on every request for such a cookie; an empty session
                    // lets the user carry on.
                    log_rejection!(
                        self.rejections,
                        (self.clock)(),
                        "bad-payload",
                        found = other.type_name(),
                        "rejected session cookie: payload is not a dict; using an empty session"
                    );
                    Loaded::default()
                }
            },
            Err(error) => {
                log_rejection!(
                    self.rejections,
                    (self.clock)(),
                    error.kind(),
                    %error,
                    "rejected session cookie; using an empty session"
                );
                Loaded::default()
            }
        }
    }

    /// Flask's `save_session`, plus the size check. Returns the oversize report when the
    /// policy turns it into an error response.
    fn save(
        &self,
        session: &Session,
        raw: Option<&str>,
        headers: &mut HeaderMap,
    ) -> Result<(), OversizedCookie> {
        let config = &self.config;
        // Permanent sessions are re-sent on every request, so an untouched cookie must be
        // opened when it may be permanent.
        let load_untouched = || {
            config.refresh_each_request && raw.is_some_and(|raw| self.untouched_needs_loading(raw))
        };
        let Some(outcome) = session.outcome(load_untouched) else {
            return Ok(());
        };
        if outcome.accessed {
            add_vary_cookie(headers);
        }
        if outcome.data.is_empty() {
            if outcome.modified {
                append_set_cookie(headers, &deletion_cookie(config));
                add_vary_cookie(headers);
            }
            return Ok(());
        }
        let permanent = is_permanent(&outcome.data);
        let resign = config.resign_fallback_cookies
            && matches!(outcome.signed_with, Some(KeyMatch::Fallback(_)));
        if !(outcome.modified || resign || (permanent && config.refresh_each_request)) {
            return Ok(());
        }
        let now = (self.clock)();
        let expiry = Expiry::of_session(permanent, now.saturating_add(self.max_age()));
        let data = Value::Dict(outcome.data);
        // An unchanged session is re-signed as it came: the same bytes Flask would write.
        let verified_payload = outcome
            .verified_cookie
            .as_deref()
            .filter(|_| !outcome.modified)
            .and_then(CookieCodec::payload_segment);
        let value = match verified_payload {
            Some(payload) => self.codec.resign(payload, now),
            None => self.codec.encode(&data, now),
        };
        let header = set_cookie(config, &value, expiry);
        if config.max_cookie_size > 0 && header.len() > config.max_cookie_size {
            let oversized = OversizedCookie {
                size: header.len(),
                limit: config.max_cookie_size,
                largest_keys: largest_keys(data.as_dict()),
            };
            match config.oversize_policy {
                OversizePolicy::Error => {
                    tracing::error!(
                        size = oversized.size,
                        limit = oversized.limit,
                        "{oversized}; the session was NOT saved"
                    );
                    return Err(oversized);
                }
                OversizePolicy::Warn => {
                    tracing::warn!(
                        size = oversized.size,
                        limit = oversized.limit,
                        "{oversized}; sent anyway, browsers may drop it"
                    );
                }
            }
        }
        append_set_cookie(headers, &header);
        add_vary_cookie(headers);
        Ok(())
    }
}

fn largest_keys(data: Option<&Map>) -> Vec<(String, usize)> {
    let mut sizes: Vec<(String, usize)> = data
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), k.len() + to_tagged_json(v).len()))
        .collect();
    sizes.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    sizes.truncate(3);
    sizes
}
