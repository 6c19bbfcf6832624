//! What flacon counts and times, through the [`metrics`] facade: nothing is recorded until
//! the application installs a recorder (`flacon serve --metrics` installs Prometheus's).
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `flacon_sessions_loaded_total` | counter | `layer` (`cookie`, `store`) | sessions that came with valid data |
//! | `flacon_sessions_created_total` | counter | `layer` | new sessions sent to a browser for the first time |
//! | `flacon_rejected_cookies_total` | counter | `kind` (`bad-signature`, `expired`, `bad-payload`, `too-large`, `bad-record`) | every rejection, logged or not |
//! | `flacon_fallback_key_hits_total` | counter | | cookies that verified with a fallback key: zero for a while means the fallback can go |
//! | `flacon_oversized_cookies_total` | counter | `policy` (`error`, `warn`) | cookies over `max_cookie_size` |
//! | `flacon_store_errors_total` | counter | `op` | store operations that failed |
//! | `flacon_store_operation_seconds` | histogram | `op` (`load`, `create`, `save`, `touch`, `delete`, `change_id`) | store latency |

use std::future::Future;
use std::time::Instant;

use crate::store::StoreError;

pub(crate) fn session_loaded(layer: &'static str) {
    ::metrics::counter!("flacon_sessions_loaded_total", "layer" => layer).increment(1);
}

pub(crate) fn session_created(layer: &'static str) {
    ::metrics::counter!("flacon_sessions_created_total", "layer" => layer).increment(1);
}

pub(crate) fn cookie_rejected(kind: &'static str) {
    ::metrics::counter!("flacon_rejected_cookies_total", "kind" => kind).increment(1);
}

pub(crate) fn fallback_key_hit() {
    ::metrics::counter!("flacon_fallback_key_hits_total").increment(1);
}

pub(crate) fn cookie_oversized(policy: &'static str) {
    ::metrics::counter!("flacon_oversized_cookies_total", "policy" => policy).increment(1);
}

/// Runs one store operation, timing it and counting its failure.
pub(crate) async fn store_op<T>(
    op: &'static str,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = operation.await;
    ::metrics::histogram!("flacon_store_operation_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        ::metrics::counter!("flacon_store_errors_total", "op" => op).increment(1);
    }
    result
}
