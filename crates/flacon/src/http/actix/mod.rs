//! flacon on actix-web (feature `actix`): the same sessions as on axum, from the same layers.
//!
//! [`SessionLayer`](crate::SessionLayer), [`StoreLayer`](crate::StoreLayer) and
//! [`SessionModeLayer`](crate::http::SessionModeLayer) are actix-web middleware as they are
//! tower layers: `App::wrap` takes them as they are, with the same settings and the same
//! policy core deciding every response (Flask's save rules, `Vary: Cookie`, the oversize
//! policy, re-signing fallback-key cookies, update-only store writes, 503 on an outage).
//! [`Session`](crate::Session), [`CookieSession`](crate::http::CookieSession),
//! [`ServerSession`](crate::http::ServerSession) and, with `minijinja`,
//! [`Templates`](crate::http::template::Templates) are extractors.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use flacon::{KeyRing, SecretKey, Session, SessionLayer};
//!
//! async fn count(session: Session) -> HttpResponse {
//!     let visits = session.modify("visits", |n: &mut u64| { *n += 1; *n }).unwrap();
//!     HttpResponse::Ok().body(format!("visit {visits}"))
//! }
//!
//! let layer = SessionLayer::new(KeyRing::new(SecretKey::from_text(
//!     "a long random secret, from the environment",
//! )));
//! // In `HttpServer::new(move || ...)`: one App per worker, each with a clone of the layer.
//! let app = App::new()
//!     .wrap(layer.clone())
//!     .route("/", web::get().to(count));
//! # let _ = app;
//! ```
//!
//! actix-web runs each worker on one thread and its handlers need not be `Send`; a
//! [`Session`](crate::Session) is still the same shared handle, so two extractors in one
//! handler see one session and one store load.

mod extract;
mod middleware;
mod translate;

pub use middleware::{
    CookieSessionMiddleware, SessionModeMiddleware, SessionResponse, StoreSessionMiddleware,
};
