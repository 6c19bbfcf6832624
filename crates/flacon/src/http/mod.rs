//! Sessions over HTTP: tower layers for any tower/hyper stack ([`SessionLayer`] for signed
//! cookies, [`StoreLayer`] for server-side sessions), the axum extractor, the same layers as
//! actix-web middleware (feature `actix`), and the minijinja glue. The layers are adapters:
//! the rules they apply live in the framework-free policy core, so every adapter decides
//! alike.

#[cfg(feature = "actix")]
pub mod actix;
pub(crate) mod common;
mod cookie_layer;
mod mode;
mod named;
pub(crate) mod rejection;
mod response;
mod store_layer;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "minijinja")]
pub mod template;

pub use crate::config::ServerSideConfig;
pub use crate::cookie::find_cookie;
pub use cookie_layer::{ResponseFuture, SessionLayer, SessionService};
pub use mode::{SessionMode, SessionModeFuture, SessionModeLayer, SessionModeService};
pub use named::{CookieSession, ServerSession};
pub use rejection::SessionRejection;
pub(crate) use response::UncaughtRejection;
pub use response::{ErrorResponder, OversizedCookie, RequestHead, SessionFailure};
pub use store_layer::{StoreLayer, StoreResponseFuture, StoreService};
