//! The demo's sign-in routes (design.md, "Lifecycle and security"): `POST /login`,
//! `GET /whoami`, `POST /logout`, `POST /logout-everywhere`, `GET /devices`,
//! `POST /devices/revoke`, over whichever place revokes sessions: the store's per-user index
//! (server-side sessions) or the revocation registry (signed cookies).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use flacon::csrf::Csrf;
use flacon::flask_login::{client_identifier, FlaskLogin, Protected, Remember, TrustedProxies};
use flacon::http::{find_cookie, SessionRejection};
use flacon::revocation::RevocationRegistry;
use flacon::store::{users, SessionId, SessionStore, StoreError, UserSession};
use flacon::value::DateTime;
use flacon::Session;
use serde::Deserialize;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store's per-user index, behind a pointer (the demo serves any store).
pub(crate) trait Devices: Send + Sync {
    fn list<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>>;
    fn revoke<'a>(
        &'a self,
        user: &'a str,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke_all<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<usize, StoreError>>;
    /// What session `id` holds, if it is live.
    fn data<'a>(
        &'a self,
        id: &'a SessionId,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<flacon::Map>, StoreError>>;
}

impl<S: SessionStore> Devices for Arc<S> {
    fn list<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<UserSession>, StoreError>> {
        Box::pin(users::sessions_of(&**self, user, now))
    }
    fn revoke<'a>(
        &'a self,
        user: &'a str,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(users::revoke(&**self, user, id))
    }
    fn revoke_all<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(users::revoke_all(&**self, user, None))
    }
    fn data<'a>(
        &'a self,
        id: &'a SessionId,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<flacon::Map>, StoreError>> {
        Box::pin(async move { Ok(self.load(id, None, now).await?.map(|record| record.data)) })
    }
}

/// Where the demo revokes sessions.
#[derive(Clone)]
pub(crate) enum Revoker {
    /// Signed cookies without a registry: a logout clears the cookie, nothing more.
    Nothing,
    /// Signed cookies with a revocation registry.
    Registry(Arc<RevocationRegistry>),
    /// Server-side sessions: the store's per-user index.
    Store(Arc<dyn Devices>),
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
    /// Flask-Login's "remember me": a checkbox, present when ticked.
    remember: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    id: String,
    #[serde(default)]
    csrf_token: String,
}

/// A form that carries nothing but its CSRF token (logout buttons).
#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

/// What the sign-in routes share: Flask-Login's rules and the proxies whose
/// `X-Forwarded-For` is believed.
pub(crate) struct SignIn {
    pub(crate) flask_login: FlaskLogin,
    pub(crate) proxies: TrustedProxies,
    /// What `/devices` names sessions by: a handle, never the id (the cookie's value when
    /// ids are not signed).
    pub(crate) handle_key: flacon::SecretKey,
    /// Flask-WTF's tokens, which every state-changing form of these routes carries.
    pub(crate) csrf: Csrf,
}

impl SignIn {
    /// A token for the forms of a page about to be shown; `None` (logged) when the system
    /// has no randomness for the session's secret.
    fn token(&self, session: &Session) -> Option<String> {
        self.csrf
            .generate(session, crate::demo::now())
            .map_err(|error| tracing::error!(%error, "cannot make a CSRF secret"))
            .ok()
    }

    /// The refusal of a state-changing post, if it must be refused: one another site sent
    /// (its `Sec-Fetch-Site` or `Origin` says so), or one without this session's Flask-WTF
    /// token (a client too old to send either header is still held to the token).
    fn refusal(&self, session: &Session, client: &Client, token: &str) -> Option<Response> {
        if let Some(site) = cross_site(&client.headers) {
            tracing::info!(site, "cross-site form post refused");
            return Some(
                (
                    StatusCode::FORBIDDEN,
                    "Forbidden: this form can only be posted from this site.\n",
                )
                    .into_response(),
            );
        }
        let refused = self
            .csrf
            .validate(session, token, crate::demo::now())
            .err()?;
        tracing::info!(%refused, "form post without a valid CSRF token refused");
        Some((StatusCode::BAD_REQUEST, format!("Bad Request: {refused}\n")).into_response())
    }
}

/// Where a cross-site post came from, by the headers browsers add: `Sec-Fetch-Site` other
/// than `same-origin` or `none` (a typed URL), or an `Origin` whose host is not the
/// request's `Host`.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = String::from_utf8_lossy(site.as_bytes()).to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Some(site);
        }
    }
    let origin = headers.get(axum::http::header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    let host = headers
        .get(axum::http::header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).to_ascii_lowercase());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/').to_ascii_lowercase());
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host == host => None,
        _ => Some(origin),
    }
}

pub(crate) fn routes(revoker: Revoker, sign_in: SignIn) -> Result<Router, minijinja::Error> {
    let pages = Pages::new()?;
    let everywhere = revoker.clone();
    let listing = revoker.clone();
    let whoami_pages = pages.clone();
    let form_pages = pages.clone();
    let flask_login = Arc::new(sign_in);
    let revoking_login = flask_login.clone();
    let form_login = flask_login.clone();
    let (signing_in, restoring, signing_out, everywhere_login, listing_login) = (
        flask_login.clone(),
        flask_login.clone(),
        flask_login.clone(),
        flask_login.clone(),
        flask_login,
    );
    Ok(Router::new()
        .route(
            "/login",
            get(move |session: Session| {
                login_form(session, form_login.clone(), form_pages.clone())
            })
            .post(
                move |session: Session, client: Client, form: Form<LoginForm>| {
                    login(session, client, signing_in.clone(), form.0)
                },
            ),
        )
        .route(
            "/whoami",
            get(move |session: Session, client: Client| {
                whoami(session, client, restoring.clone(), whoami_pages.clone())
            }),
        )
        .route(
            "/logout",
            post(
                move |session: Session, client: Client, form: Form<TokenForm>| {
                    logout(session, client, signing_out.clone(), form.0)
                },
            ),
        )
        .route(
            "/logout-everywhere",
            post(
                move |session: Session, client: Client, form: Form<TokenForm>| {
                    logout_everywhere(
                        session,
                        client,
                        everywhere.clone(),
                        everywhere_login.clone(),
                        form.0,
                    )
                },
            ),
        )
        .route(
            "/devices",
            get(move |session: Session, client: Client| {
                devices(
                    session,
                    client,
                    listing.clone(),
                    listing_login.clone(),
                    pages.clone(),
                )
            }),
        )
        .route(
            "/devices/revoke",
            post(
                move |session: Session, client: Client, form: Form<RevokeForm>| {
                    revoke_device(
                        session,
                        client,
                        revoker.clone(),
                        revoking_login.clone(),
                        form.0,
                    )
                },
            ),
        )
        // Pages that show who is signed in, and where, are never kept by a cache.
        .layer(axum::middleware::map_response(no_store)))
}

async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// The store or registry failed: the layer's store-error response (503 by default).
fn unavailable(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "cannot revoke sessions");
    SessionRejection::Unavailable.into_response()
}

/// A form for `POST /login` (a browser needs one; the contract is the POST).
async fn login_form(session: Session, sign_in: Arc<SignIn>, pages: Pages) -> Response {
    match sign_in.token(&session) {
        Some(csrf_token) => pages.render("login.html", minijinja::context! { csrf_token }),
        None => crate::demo::internal_error(),
    }
}

const LOGIN_FORM: &str = "<!doctype html>\n<html lang=en>\n<title>Sign in</title>\n\
    <form method=post action=/login>\n<label for=user>User:</label>\n\
    <input id=user name=user required>\n\
    <label><input type=checkbox name=remember> Remember me</label>\n\
    <input type=hidden name=csrf_token value=\"{{ csrf_token }}\">\n\
    <button type=submit>Sign in</button>\n</form>\n";

/// What Flask-Login reads off a request: the client's address (`X-Forwarded-For` first),
/// its `User-Agent`, and the remember-me cookie.
struct Client {
    headers: HeaderMap,
    peer: Option<std::net::SocketAddr>,
}

impl Client {
    fn identifier(&self, proxies: &TrustedProxies) -> String {
        client_identifier(&self.headers, self.peer, proxies)
    }

    fn remember_cookie(&self, flask_login: &FlaskLogin) -> Option<String> {
        find_cookie(&self.headers, flask_login.cookie_name()).map(|c| c.into_owned())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0);
        Ok(Client {
            headers: parts.headers.clone(),
            peer,
        })
    }
}

/// `response` with `Set-Cookie: cookie` added.
fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

async fn login(
    session: Session,
    client: Client,
    sign_in: Arc<SignIn>,
    form: LoginForm,
) -> Response {
    if let Some(refused) = sign_in.refusal(&session, &client, &form.csrf_token) {
        return refused;
    }
    let user = form.user.trim().to_owned();
    if user.is_empty() {
        return (StatusCode::BAD_REQUEST, "a user name is needed\n").into_response();
    }
    let remember = if form.remember.is_some() {
        Remember::Default
    } else {
        Remember::No
    };
    let identifier = client.identifier(&sign_in.proxies);
    let cookie = sign_in
        .flask_login
        .login(&session, &user, &identifier, remember);
    with_cookie(crate::demo::redirect("/whoami"), cookie)
}

/// Flask-Login's `_load_user`: session protection first, then the session's user, else
/// the remember-me cookie's (a new sign-in). With strong protection a session used from
/// another client loses its user, and its remember-me cookie is cleared.
fn current_user(
    session: &Session,
    client: &Client,
    sign_in: &SignIn,
) -> (Option<String>, Option<String>) {
    let identifier = client.identifier(&sign_in.proxies);
    let flask_login = &sign_in.flask_login;
    if flask_login.protect(session, &identifier) == Protected::SignedOut {
        let clear = client
            .remember_cookie(flask_login)
            .map(|_| flask_login.clear_cookie());
        return (None, clear);
    }
    let remember = client.remember_cookie(flask_login);
    (
        flask_login.restore(session, remember.as_deref(), &identifier),
        None,
    )
}

async fn whoami(session: Session, client: Client, sign_in: Arc<SignIn>, pages: Pages) -> Response {
    let (user, clear) = current_user(&session, &client, &sign_in);
    with_cookie(
        pages.render("whoami.html", minijinja::context! { user }),
        clear,
    )
}

async fn logout(
    session: Session,
    client: Client,
    sign_in: Arc<SignIn>,
    form: TokenForm,
) -> Response {
    if let Some(refused) = sign_in.refusal(&session, &client, &form.csrf_token) {
        return refused;
    }
    let flask_login = &sign_in.flask_login;
    // The sign-in's remember-me cookie dies with it: a copy replayed later restores nothing.
    if let Err(error) = flask_login.forget(&session).await {
        return unavailable(&error);
    }
    match session.logout().await {
        // As Flask-Login, the remember-me cookie goes too when the request had one.
        Ok(()) => {
            let clear = client
                .remember_cookie(flask_login)
                .map(|_| flask_login.clear_cookie());
            with_cookie(crate::demo::redirect("/whoami"), clear)
        }
        Err(_) => SessionRejection::Unavailable.into_response(),
    }
}

async fn logout_everywhere(
    session: Session,
    client: Client,
    revoker: Revoker,
    sign_in: Arc<SignIn>,
    form: TokenForm,
) -> Response {
    if let Some(refused) = sign_in.refusal(&session, &client, &form.csrf_token) {
        return refused;
    }
    if let Some(user) = session.user() {
        let revoked = match &revoker {
            Revoker::Nothing => Ok(()),
            Revoker::Registry(registry) => registry.revoke_user(&user).await,
            Revoker::Store(store) => match store.revoke_all(&user).await {
                // The remember-me cookies issued until now, in the store's registry.
                Ok(_) => sign_in.flask_login.forget_everywhere(&user).await,
                Err(error) => Err(error),
            },
        };
        if let Err(error) = revoked {
            return unavailable(&error);
        }
        if session.logout().await.is_err() {
            return SessionRejection::Unavailable.into_response();
        }
    }
    crate::demo::redirect("/whoami")
}

async fn revoke_device(
    session: Session,
    client: Client,
    revoker: Revoker,
    sign_in: Arc<SignIn>,
    form: RevokeForm,
) -> Response {
    if let Some(refused) = sign_in.refusal(&session, &client, &form.csrf_token) {
        return refused;
    }
    let (Some(user), Revoker::Store(store)) = (session.user(), &revoker) else {
        return crate::demo::redirect("/devices");
    };
    // The form names a session by its handle: find the one of this user it stands for.
    let listed = match store.list(&user, crate::demo::now()).await {
        Ok(listed) => listed,
        Err(error) => return unavailable(&error),
    };
    let Some(device) = listed
        .into_iter()
        .find(|s| s.id.handle(&sign_in.handle_key) == form.id)
    else {
        return crate::demo::redirect("/devices");
    };
    // The device's remember-me cookie ends with it.
    let revoked = async {
        let data = store.data(&device.id, crate::demo::now()).await?;
        store.revoke(&user, &device.id).await?;
        match data {
            Some(data) => sign_in.flask_login.forget_sign_in(&data).await,
            None => Ok(()),
        }
    };
    match revoked.await {
        Ok(()) => crate::demo::redirect("/devices"),
        Err(error) => unavailable(&error),
    }
}

async fn devices(
    session: Session,
    client: Client,
    revoker: Revoker,
    sign_in: Arc<SignIn>,
    pages: Pages,
) -> Response {
    let Some(user) = current_user(&session, &client, &sign_in).0 else {
        return pages.render(
            "whoami.html",
            minijinja::context! { user => None::<String> },
        );
    };
    let current = session.id();
    let listed = match &revoker {
        Revoker::Store(store) => match store.list(&user, crate::demo::now()).await {
            Ok(sessions) => Some(
                sessions
                    .iter()
                    .map(|s| {
                        let handle = s.id.handle(&sign_in.handle_key);
                        minijinja::context! {
                            short => handle.chars().take(8).collect::<String>(),
                            handle,
                            created => DateTime::from_unix(unix(s.created)).to_http_date(),
                            last_seen => DateTime::from_unix(unix(s.last_seen)).to_http_date(),
                            current => current.as_ref() == Some(&s.id),
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            Err(error) => return unavailable(&error),
        },
        Revoker::Registry(_) | Revoker::Nothing => None,
    };
    let Some(csrf_token) = sign_in.token(&session) else {
        return crate::demo::internal_error();
    };
    pages.render(
        "devices.html",
        minijinja::context! { user, sessions => listed, csrf_token },
    )
}

fn unix(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

const WHOAMI: &str =
    "{% if user %}<h1>Signed in as {{ user }}</h1>{% else %}<h1>Not signed in</h1>{% endif %}";

const DEVICES: &str = r#"<!doctype html>
<html lang=en>
<title>Your devices</title>
<style>
body { font-family: sans-serif; margin: 2em }
table { border-collapse: collapse; margin-bottom: 1em }
td, th { border: 1px solid #ccc; padding: .4em .8em; text-align: left }
.current { background: #eef6ee }
</style>
<h1>Sessions of {{ user }}</h1>
<table>
<tr><th>Session</th><th>Signed in</th><th>Last seen</th><th></th></tr>
{% if sessions is none %}<tr><td colspan=4>This browser. Signed cookies are not listed: use <em>Log out everywhere</em> to end them all.</td></tr>
{% else %}{% for s in sessions %}<tr{% if s.current %} class=current{% endif %}><td>{{ s.short }}…{% if s.current %} (this device){% endif %}</td><td>{{ s.created }}</td><td>{{ s.last_seen }}</td><td><form method=post action=/devices/revoke><input type=hidden name=id value="{{ s.handle }}"><input type=hidden name=csrf_token value="{{ csrf_token }}"><button>Revoke</button></form></td></tr>
{% endfor %}{% endif %}</table>
<form method=post action=/logout-everywhere><input type=hidden name=csrf_token value="{{ csrf_token }}"><button>Log out everywhere</button></form>
<form method=post action=/logout><input type=hidden name=csrf_token value="{{ csrf_token }}"><button>Log out</button></form>
"#;

/// The account pages' templates, escaped as Jinja escapes.
#[derive(Clone)]
struct Pages(Arc<minijinja::Environment<'static>>);

impl Pages {
    fn new() -> Result<Self, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        flacon::http::template::escape_like_jinja(&mut env);
        env.add_template("whoami.html", WHOAMI)?;
        env.add_template("devices.html", DEVICES)?;
        env.add_template("login.html", LOGIN_FORM)?;
        Ok(Pages(Arc::new(env)))
    }

    fn render(&self, name: &str, context: minijinja::Value) -> Response {
        crate::demo::render(&self.0, name, context)
    }
}
