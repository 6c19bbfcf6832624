#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod codec;
pub mod config;
mod cookie;
pub mod http;
mod keys;
mod policy;
mod session;
pub mod store;
mod telemetry;
mod typed;
pub mod value;

pub use codec::{CookieCodec, DecodeError};
pub use config::SessionConfig;
pub use http::{SessionLayer, StoreLayer};
pub use keys::{KeyError, KeyMatch, KeyRing, SecretKey, WeakKey};
pub use session::{Session, SessionUnavailable, PERMANENT_KEY};
pub use typed::ValueError;
pub use value::{Map, Value};
