#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod codec;
pub mod config;
pub mod cookie;
pub mod http;
pub mod keys;
pub mod session;
pub mod store;
pub mod typed;
pub mod value;

pub use codec::{CookieCodec, DecodeError};
pub use config::SessionConfig;
pub use http::{SessionLayer, StoreLayer};
pub use keys::{KeyMatch, KeyRing, SecretKey, WeakKey};
pub use session::Session;
pub use value::{Map, Value};
