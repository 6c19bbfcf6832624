#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod codec;
pub mod config;
mod cookie;
pub mod csrf;
pub mod flask_login;
/// Guides, task by task.
pub mod guide {
    #![doc = include_str!("../docs/guide/mod.md")]

    /// Cookie sessions.
    pub mod cookie_sessions {
        #![doc = include_str!("../docs/guide/cookie_sessions.md")]
    }

    /// Server-side sessions.
    pub mod server_side_sessions {
        #![doc = include_str!("../docs/guide/server_side_sessions.md")]
    }

    /// Key rotation.
    pub mod key_rotation {
        #![doc = include_str!("../docs/guide/key_rotation.md")]
    }

    /// Combining cookie and server-side sessions.
    pub mod combining {
        #![doc = include_str!("../docs/guide/combining.md")]
    }

    /// Timeouts, sign-in and revocation. (Its examples need the `axum` and `tokio`
    /// features; the page is in every build of the docs.)
    #[cfg(any(doc, all(feature = "axum", feature = "tokio")))]
    pub mod lifecycle {
        #![doc = include_str!("../docs/guide/lifecycle.md")]
    }

    /// When the store is down.
    pub mod outages {
        #![doc = include_str!("../docs/guide/outages.md")]
    }

    /// Testing handlers that use sessions.
    pub mod testing_handlers {
        #![doc = include_str!("../docs/guide/testing_handlers.md")]
    }
}
pub mod http;
mod keys;
mod policy;
#[cfg(feature = "tokio")]
pub mod revocation;
mod session;
pub mod store;
mod telemetry;
mod typed;
pub mod value;
mod weak_keys;

pub use codec::{CookieCodec, DecodeError};
pub use config::SessionConfig;
pub use http::{SessionLayer, StoreLayer};
pub use keys::{KeyError, KeyMatch, KeyRing, SecretKey, WeakKey, WeakRingKey};
pub use session::{
    Flash, Session, SessionUnavailable, FLASHES_KEY, FRESH_KEY, PERMANENT_KEY, USER_KEY,
};
pub use typed::ValueError;
pub use value::{Map, Value};

/// The crates whose types appear in flacon's API, re-exported so that an application uses
/// the very versions flacon was built with.
pub mod reexports {
    #[cfg(feature = "actix")]
    pub use ::actix_web;
    pub use ::http;
    #[cfg(feature = "minijinja")]
    pub use ::minijinja;
}
