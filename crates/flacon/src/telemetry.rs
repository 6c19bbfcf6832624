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
//! | `flacon_session_conflicts_total` | counter | | keys two overlapping requests of one session changed differently (the later save's value is kept, and logged) |
//! | `flacon_store_operation_seconds` | histogram | `op` (`load`, `create`, `save`, `touch`, `delete`, `change_id`) | store latency |

use std::future::Future;
use std::time::Instant;

use crate::store::StoreError;

// Labels written as literals let the macros build each key once, statically: a label from a
// variable costs a key (an allocation) on every call, recorder or not.

/// Which layer a count is for.
#[derive(Clone, Copy)]
pub(crate) enum Layer {
    Cookie,
    Store,
}

pub(crate) fn session_loaded(layer: Layer) {
    match layer {
        Layer::Cookie => ::metrics::counter!("flacon_sessions_loaded_total", "layer" => "cookie"),
        Layer::Store => ::metrics::counter!("flacon_sessions_loaded_total", "layer" => "store"),
    }
    .increment(1);
}

pub(crate) fn session_created(layer: Layer) {
    match layer {
        Layer::Cookie => ::metrics::counter!("flacon_sessions_created_total", "layer" => "cookie"),
        Layer::Store => ::metrics::counter!("flacon_sessions_created_total", "layer" => "store"),
    }
    .increment(1);
}

pub(crate) fn session_conflict() {
    ::metrics::counter!("flacon_session_conflicts_total").increment(1);
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

/// A store operation, as the metrics name it.
#[derive(Clone, Copy)]
pub(crate) enum StoreOp {
    Load,
    Create,
    Save,
    Touch,
    Delete,
    ChangeId,
}

macro_rules! per_op {
    ($op:expr, $macro:ident, $name:literal) => {
        match $op {
            StoreOp::Load => ::metrics::$macro!($name, "op" => "load"),
            StoreOp::Create => ::metrics::$macro!($name, "op" => "create"),
            StoreOp::Save => ::metrics::$macro!($name, "op" => "save"),
            StoreOp::Touch => ::metrics::$macro!($name, "op" => "touch"),
            StoreOp::Delete => ::metrics::$macro!($name, "op" => "delete"),
            StoreOp::ChangeId => ::metrics::$macro!($name, "op" => "change_id"),
        }
    };
}

/// Runs one store operation, timing it and counting its failure.
pub(crate) async fn store_op<T>(
    op: StoreOp,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = operation.await;
    per_op!(op, histogram, "flacon_store_operation_seconds")
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        per_op!(op, counter, "flacon_store_errors_total").increment(1);
    }
    result
}
