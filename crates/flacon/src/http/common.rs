//! Pieces both session layers use.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

/// Unix seconds, replaceable in tests.
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub(crate) fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn append_set_cookie(headers: &mut HeaderMap, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            headers.append(SET_COOKIE, value);
        }
        Err(_) => {
            tracing::error!(
                "session cookie attributes are not a valid header; check SessionConfig"
            );
        }
    }
}

/// Adds `Cookie` to `Vary` unless it is already listed (Werkzeug's `vary.add`).
pub(crate) fn add_vary_cookie(headers: &mut HeaderMap) {
    let listed = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !listed {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}
