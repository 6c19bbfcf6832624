//! Which session, when a route has both layers: a cart in a signed cookie and the login
//! server-side is a common mix. Each layer also files its session under its own type, so a
//! handler names the one it means; a plain [`Session`] is refused on such a route rather
//! than silently handing over whichever layer ran last.
//!
//! Without axum, a tower service finds the session in the request's extensions under these
//! types: `request.extensions().get::<CookieSession>()`.

use std::ops::Deref;

use crate::session::Session;

/// The signed-cookie session of [`SessionLayer`](super::SessionLayer), by name.
///
/// ```
/// use flacon::http::CookieSession;
/// async fn cart(cart: CookieSession) -> String {
///     format!("{} item(s)", cart.get::<Vec<String>>("cart").unwrap_or_default().len())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CookieSession(pub Session);

/// The server-side session of [`StoreLayer`](super::StoreLayer), by name.
///
/// ```
/// use flacon::http::ServerSession;
/// async fn whoami(login: ServerSession) -> String {
///     login.get::<String>("user").unwrap_or_default()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ServerSession(pub Session);

impl Deref for CookieSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}

impl Deref for ServerSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}
