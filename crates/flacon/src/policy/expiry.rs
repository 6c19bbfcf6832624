//! One expiry policy for both layers: Flask's permanent lifetime, an idle timeout
//! (inactivity) and an absolute timeout (since the session began, never extended). The
//! tightest limit wins.
//!
//! Where each limit is read from:
//! - the lifetime, and a cookie's idle time: the cookie's signing timestamp (a cookie is
//!   re-signed on every request while an idle timeout is on, so its age is its idle time);
//! - a server-side session's idle time: `_flacon_seen` in its record, written (at most once
//!   a second) only while an idle timeout is on (and once a minute for a signed-in session,
//!   whose devices page shows it);
//! - the start: `_flacon_created` in the session, written only while an absolute timeout is
//!   on. Defaults add neither key, so default cookies and records stay Flask's bytes.

use crate::config::SessionConfig;
use crate::session::{login_time_of, user_of};
use crate::value::{Map, Value};

/// Where the session's start is kept while an absolute timeout is on (Unix seconds).
pub(crate) const CREATED_KEY: &str = "_flacon_created";
/// Where a server-side session's last use is kept while an idle timeout is on.
pub(crate) const SEEN_KEY: &str = "_flacon_seen";

/// How often a signed-in server-side session's last use is written without an idle timeout.
const SEEN_EVERY_SIGNED_IN: u64 = 60;

/// Which limit ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the absolute timeout.
    Absolute,
}

impl Expired {
    /// The kind in the log and the rejection metric.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Expired::Idle => "expired-idle",
            Expired::Absolute => "expired-absolute",
        }
    }
}

/// The three limits, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    lifetime: u64,
    idle: Option<u64>,
    absolute: Option<u64>,
}

impl Limits {
    pub(crate) fn of(config: &SessionConfig) -> Self {
        Limits {
            lifetime: config.permanent_lifetime.as_secs(),
            idle: config.idle_timeout.map(|t| t.as_secs()),
            absolute: config.absolute_timeout.map(|t| t.as_secs()),
        }
    }

    /// Whether an idle or absolute timeout is on: every request then loads its session.
    pub(crate) fn any_timeout(&self) -> bool {
        self.idle.is_some() || self.absolute.is_some()
    }

    /// Whether the idle timeout is on: every request that loads a session then re-sends it.
    pub(crate) fn idle(&self) -> bool {
        self.idle.is_some()
    }

    /// The age a cookie's signature may reach: the lifetime, or the idle timeout if tighter.
    pub(crate) fn cookie_max_age(&self) -> u64 {
        self.idle
            .map_or(self.lifetime, |idle| idle.min(self.lifetime))
    }

    /// The kind of a cookie whose signature is `age` seconds old and past
    /// [`cookie_max_age`](Self::cookie_max_age): idle when the idle timeout is what it broke.
    pub(crate) fn cookie_age_kind(&self, age: i128) -> &'static str {
        match self.idle {
            Some(idle) if idle < self.lifetime && age > i128::from(idle) => Expired::Idle.kind(),
            _ => "expired",
        }
    }

    /// The limit `data` broke at `now`, if any: its start (both layers) and, for a server-side
    /// session (`seen` set), its last use. A limit exactly reached still holds, as Flask's age
    /// check does.
    /// `signed_at` is when a cookie session's cookie was signed (see [`start_of`]).
    pub(crate) fn check(
        &self,
        data: &Map,
        now: u64,
        seen: bool,
        signed_at: Option<u64>,
    ) -> Result<(), Expired> {
        let past = |at: Option<u64>, limit: Option<u64>| match (limit, at) {
            (Some(limit), Some(at)) => now.saturating_sub(at) > limit,
            _ => false,
        };
        if past(start_of(data, signed_at), self.absolute) {
            return Err(Expired::Absolute);
        }
        if seen && past(stamp_of(data, SEEN_KEY), self.idle) {
            return Err(Expired::Idle);
        }
        Ok(())
    }

    /// Writes the start (when missing: see [`start_of`]) and, for a server-side session
    /// (`seen` set), the last use into `data`; whether that changed it.
    pub(crate) fn stamp(
        &self,
        data: &mut Map,
        now: u64,
        seen: bool,
        signed_at: Option<u64>,
    ) -> bool {
        let mut changed = false;
        if self.absolute.is_some() && stamp_of(data, CREATED_KEY).is_none() {
            let start = start_of(data, signed_at).map_or(now, |start| start.min(now));
            data.insert(CREATED_KEY.to_owned(), unix(start));
            changed = true;
        }
        // While an idle timeout is on, the last use to the second; for a signed-in session
        // (listed on its user's devices page), to the minute.
        let every = if self.idle.is_some() {
            Some(1)
        } else {
            user_of(data).map(|_| SEEN_EVERY_SIGNED_IN)
        };
        if let (true, Some(every)) = (seen, every) {
            let due = stamp_of(data, SEEN_KEY).is_none_or(|at| now.saturating_sub(at) >= every);
            if due {
                data.insert(SEEN_KEY.to_owned(), unix(now));
                changed = true;
            }
        }
        changed
    }

    /// Restarts the absolute timeout (a login begins a new session).
    pub(crate) fn restart(&self, data: &mut Map, now: u64) {
        if self.absolute.is_some() {
            data.insert(CREATED_KEY.to_owned(), unix(now));
        }
    }

    /// When a session used at `now` ends: the earliest of its three limits.
    pub(crate) fn deadline(&self, data: &Map, now: u64) -> u64 {
        let mut end = now.saturating_add(self.cookie_max_age());
        if let (Some(absolute), Some(created)) = (self.absolute, stamp_of(data, CREATED_KEY)) {
            end = end.min(created.saturating_add(absolute));
        }
        end
    }
}

/// When a session began: its start stamp or, for one without (written before the absolute
/// timeout was turned on, or by the Flask app), the earliest time it is known to have
/// existed: its sign-in, or the signing of the cookie that carries it (`signed_at`). Never
/// now: a replayed cookie would start afresh on every request and outlive the timeout.
fn start_of(data: &Map, signed_at: Option<u64>) -> Option<u64> {
    stamp_of(data, CREATED_KEY).or_else(|| {
        let signed_in = login_time_of(data).map(|ms| ms / 1000);
        signed_in.into_iter().chain(signed_at).min()
    })
}

fn unix(at: u64) -> Value {
    Value::Int(i64::try_from(at).unwrap_or(i64::MAX))
}

fn stamp_of(data: &Map, key: &str) -> Option<u64> {
    match data.get(key)? {
        Value::Int(at) => u64::try_from(*at).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000;

    fn limits(idle: Option<u64>, absolute: Option<u64>) -> Limits {
        Limits::of(
            &SessionConfig::builder()
                .idle_timeout(idle.map(Duration::from_secs))
                .absolute_timeout(absolute.map(Duration::from_secs))
                .build()
                .unwrap_or_default(),
        )
    }

    #[test]
    fn defaults_add_nothing_and_check_nothing() {
        let limits = limits(None, None);
        let mut data = Map::default();
        assert!(!limits.stamp(&mut data, NOW, true, None));
        assert!(data.is_empty());
        assert_eq!(limits.cookie_max_age(), 31 * 24 * 3600);
        assert_eq!(limits.deadline(&data, NOW), NOW + 31 * 24 * 3600);
    }

    #[test]
    fn the_absolute_limit_holds_to_its_last_second_and_is_never_extended() {
        let limits = limits(Some(100), Some(1000));
        let mut data = Map::default();
        assert!(limits.stamp(&mut data, NOW, true, None));
        // Used again and again: the start stays.
        assert!(limits.stamp(&mut data, NOW + 50, true, None));
        assert_eq!(stamp_of(&data, CREATED_KEY), Some(NOW));
        assert_eq!(limits.deadline(&data, NOW + 950), NOW + 1000);
        let mut fresh_use = data.clone();
        fresh_use.insert(SEEN_KEY.into(), unix(NOW + 999));
        assert_eq!(limits.check(&fresh_use, NOW + 1000, true, None), Ok(()));
        assert_eq!(
            limits.check(&fresh_use, NOW + 1001, true, None),
            Err(Expired::Absolute)
        );
    }

    #[test]
    fn the_idle_limit_counts_from_the_last_use() {
        let limits = limits(Some(100), None);
        let mut data = Map::default();
        limits.stamp(&mut data, NOW, true, None);
        assert_eq!(limits.check(&data, NOW + 100, true, None), Ok(()));
        assert_eq!(
            limits.check(&data, NOW + 101, true, None),
            Err(Expired::Idle)
        );
        assert!(
            !limits.stamp(&mut data, NOW, true, None),
            "same second, no write"
        );
        assert_eq!(limits.cookie_max_age(), 100);
        assert_eq!(limits.cookie_age_kind(101), "expired-idle");
    }
}
