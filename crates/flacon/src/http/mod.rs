//! Sessions over HTTP: a tower [`SessionLayer`] for any tower/hyper stack, the axum
//! extractor, and the minijinja glue.

mod common;
mod layer;
mod rejections;
mod response;
mod store_layer;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "minijinja")]
pub mod template;

pub use crate::cookie::find_cookie;
#[cfg(feature = "axum")]
pub use extract::SessionRejection;
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use response::{ErrorResponder, OversizedCookie, SessionFailure};
pub use store_layer::{ServerSideConfig, StoreLayer, StoreResponseFuture, StoreService};
