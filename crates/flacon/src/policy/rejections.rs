//! Rejected cookies are attacker input, and so is the volume of their log lines: each kind is
//! logged once per interval, with one sample, and the line carries how many of that kind
//! went unlogged since the last one and the exact total.

use std::sync::{Mutex, PoisonError};

/// How often one kind of rejection is logged at the most, in seconds.
pub(crate) const LOG_INTERVAL_SECS: u64 = 10;

/// The rejections of one layer, by kind.
#[derive(Debug, Default)]
pub(crate) struct RejectionLog {
    kinds: Mutex<Vec<(&'static str, Window)>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the last logged rejection of this kind happened (Unix seconds).
    logged_at: u64,
    /// Rejections since then that were not logged.
    unlogged: u64,
    /// Every rejection of this kind so far.
    total: u64,
}

/// What to say in a logged line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogLine {
    /// Rejections of the kind since the last logged one, not logged themselves.
    pub(crate) unlogged: u64,
    /// Every rejection of the kind so far, this one included.
    pub(crate) total: u64,
}

impl RejectionLog {
    /// Counts a rejection of `kind` at `now`; `Some` when it is to be logged.
    pub(crate) fn note(&self, kind: &'static str, now: u64) -> Option<LogLine> {
        crate::telemetry::cookie_rejected(kind);
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, window)) = kinds.iter_mut().find(|(k, _)| *k == kind) else {
            kinds.push((
                kind,
                Window {
                    logged_at: now,
                    unlogged: 0,
                    total: 1,
                },
            ));
            return Some(LogLine {
                unlogged: 0,
                total: 1,
            });
        };
        window.total += 1;
        if now < window.logged_at.saturating_add(LOG_INTERVAL_SECS) {
            window.unlogged += 1;
            return None;
        }
        let line = LogLine {
            unlogged: window.unlogged,
            total: window.total,
        };
        window.logged_at = now;
        window.unlogged = 0;
        Some(line)
    }
}

/// Logs a rejected session cookie (or session id) of `kind`, throttled by `log`.
macro_rules! log_rejection {
    ($log:expr, $now:expr, $kind:expr, $($field:tt)*) => {{
        let kind: &'static str = $kind;
        match $log.note(kind, $now) {
            Some(line) => tracing::warn!(
                kind,
                unlogged_since_last = line.unlogged,
                total = line.total,
                $($field)*
            ),
            None => tracing::debug!(kind, $($field)*),
        }
    }};
}
pub(crate) use log_rejection;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_and_interval_with_exact_counts() {
        let log = RejectionLog::default();
        assert_eq!(
            log.note("expired", 100),
            Some(LogLine {
                unlogged: 0,
                total: 1
            })
        );
        for _ in 0..999 {
            assert_eq!(log.note("expired", 105), None);
        }
        // Another kind has its own window.
        assert_eq!(
            log.note("bad-signature", 105),
            Some(LogLine {
                unlogged: 0,
                total: 1
            })
        );
        assert_eq!(log.note("expired", 109), None);
        assert_eq!(
            log.note("expired", 110),
            Some(LogLine {
                unlogged: 1000,
                total: 1002
            })
        );
        assert_eq!(log.note("expired", 111), None);
        assert_eq!(
            log.note("expired", 125),
            Some(LogLine {
                unlogged: 1,
                total: 1004
            })
        );
    }
}
