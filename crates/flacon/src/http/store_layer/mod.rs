//! [`StoreLayer`]: server-side sessions as tower middleware, in tower-http's shape: the
//! layer, the service it makes, and the service's response future, each in its own file.
//! The rules themselves are [`crate::policy::StorePolicy`]'s.

mod future;
mod layer;
mod service;

pub use future::StoreResponseFuture;
pub use layer::StoreLayer;
pub use service::StoreService;
