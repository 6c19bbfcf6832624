#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod codec;
pub mod keys;
pub mod value;

pub use codec::{CookieCodec, DecodeError};
pub use keys::{KeyMatch, KeyRing, SecretKey, WeakKey};
pub use value::{Map, Value};
