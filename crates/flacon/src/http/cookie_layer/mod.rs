//! [`SessionLayer`]: signed-cookie sessions as tower middleware, in tower-http's shape: the
//! layer, the service it makes, and the service's response future, each in its own file.
//! The rules themselves are [`crate::policy::CookiePolicy`]'s.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::SessionLayer;
pub use service::SessionService;
