//! Sessions over HTTP: a tower [`SessionLayer`] for any tower/hyper stack, the axum
//! extractor, and the minijinja glue.

mod layer;
mod response;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "minijinja")]
pub mod template;

#[cfg(feature = "axum")]
pub use extract::SessionMissing;
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use response::{ErrorResponder, OversizedCookie};
