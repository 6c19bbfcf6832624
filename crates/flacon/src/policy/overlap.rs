//! Requests of one session that overlap (two tabs, a page firing a few `fetch` calls, a double
//! click): every server-side save is a compare-and-set against the record as the request
//! loaded it, and a save that finds the record changed merges by key
//! ([`merge`](super::merge)) and tries again, so that no request erases what another wrote.
//! A route that reads a value and writes one computed from it (a counter, a balance) is
//! serialised instead, by the per-session lock of [`SessionMode::Exclusive`].
//!
//! [`SessionMode::Exclusive`]: crate::http::SessionMode::Exclusive

use std::time::{Duration, Instant};

use super::expiry::{CREATED_KEY, SEEN_KEY};
use super::merge::merge;
use super::server_side::StorePolicy;
use crate::session::{Exclusive, Lease, LoadedAs, LOGIN_KEY};
use crate::store::{Record, SaveOutcome, SessionId, SessionStore, StoreError, Version};
use crate::telemetry::{self, StoreOp};

/// How many times a save merges and tries again before it answers the store-error response.
/// A failed try means another save landed, so N overlapping writers need at most N tries (a
/// SQLite group commit lands one of them per commit); the bound only stops a livelock.
const MAX_MERGES: usize = 100;

/// The stamps flacon keeps in the session: two overlapping requests both set them to about
/// now, which is no conflict worth reporting (this request's, the later, is kept).
const STAMPS: [&str; 3] = [SEEN_KEY, CREATED_KEY, LOGIN_KEY];

/// What a save over an existing record came to.
pub(crate) enum Landed {
    /// Written: the record as stored (merged with what overlapping requests wrote), and the
    /// version a later save of this request compares against, when the store has one.
    Saved(Record, Option<Version>),
    /// The record is gone (a logout, a clear, a revocation, a new id): nothing was written,
    /// and nothing is brought back.
    Gone,
}

impl<S: SessionStore> StorePolicy<S> {
    /// Writes `record` over the stored one: compare-and-set against `loaded` (the record as
    /// this request loaded it), merging with what another request wrote meanwhile.
    pub(crate) async fn save_over(
        &self,
        id: &SessionId,
        mut record: Record,
        loaded: Option<LoadedAs>,
        now: u64,
    ) -> Result<Landed, StoreError> {
        let Some(mut base) = loaded else {
            // A record this request created: no other request knows its id yet.
            let saved =
                telemetry::store_op(StoreOp::Save, self.store.save(id, &record, now)).await?;
            return Ok(if saved {
                Landed::Saved(record, None)
            } else {
                Landed::Gone
            });
        };
        for tries in 0..MAX_MERGES {
            let attempt = self.store.save_if(id, &record, &base.version, now);
            match telemetry::store_op(StoreOp::Save, attempt).await? {
                SaveOutcome::Saved(version) => return Ok(Landed::Saved(record, Some(version))),
                SaveOutcome::Gone => return Ok(Landed::Gone),
                SaveOutcome::Changed => {}
            }
            if tries > 0 {
                // A request that keeps losing to fresh ones steps out of their rhythm for a
                // random moment before it reads again (a SQLite group commit lands one save
                // of a session per commit, in queue order: without this, one request can
                // lose every time).
                sleep(jitter(tries)).await;
            }
            let reread = self.store.load_versioned(id, None, now);
            let Some((theirs, version)) = telemetry::store_op(StoreOp::Load, reread).await? else {
                return Ok(Landed::Gone);
            };
            let merged = merge(&base.data, &record.data, &theirs.data);
            report_conflicts(&merged.conflicts, now);
            record.expires_at = self.settings.limits().deadline(&merged.data, now);
            record.data = merged.data;
            base = LoadedAs {
                data: theirs.data,
                version,
            };
        }
        tracing::error!(
            tries = MAX_MERGES,
            "the session kept changing under its save; answering with the store-error response"
        );
        Err(StoreError::Busy("its record kept changing under the save"))
    }

    /// Takes the per-session lock of `id`, waiting up to `exclusive.wait` for another
    /// request to release it (or for its hold to run out).
    pub(crate) async fn lock(
        &self,
        id: &SessionId,
        exclusive: Exclusive,
    ) -> Result<Lease, StoreError> {
        let token = SessionId::generate_of(16)?.as_str().to_owned();
        let hold = u64::try_from(exclusive.hold.as_millis()).unwrap_or(u64::MAX);
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let now_ms = super::unix_millis();
            let until = now_ms.saturating_add(hold);
            if self.store.try_lock(id, &token, until, now_ms).await? {
                return Ok(Lease {
                    id: id.clone(),
                    token,
                });
            }
            let waited = started.elapsed();
            if waited >= exclusive.wait {
                tracing::warn!(
                    waited_ms = waited.as_millis(),
                    "another request held the session's lock past this one's wait; answering with the store-error response"
                );
                return Err(StoreError::Busy("another request holds its lock"));
            }
            sleep(pause.min(exclusive.wait - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// Releases a lock this request holds; one that cannot be released runs out at its hold.
    pub(crate) async fn unlock(&self, lease: Lease) {
        if let Err(error) = self.store.unlock(&lease.id, &lease.token).await {
            tracing::warn!(%error, "could not release the session's lock; it runs out at its hold");
        }
    }
}

/// A random pause below a cap that doubles with each try, from 0.5 ms up to 16 ms.
fn jitter(tries: usize) -> Duration {
    let cap = Duration::from_micros(250 << tries.min(6));
    let mut random = [0_u8; 4];
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    };
    cap.mul_f64(fraction)
}

/// Counts the keys both requests changed differently (this request's value won), and logs
/// them: at most one line per interval, with how many conflicts went unlogged since the last,
/// so that a client hammering one key cannot flood the log.
fn report_conflicts(conflicts: &[String], now: u64) {
    use std::sync::{Mutex, PoisonError};
    /// When a conflict was last logged (Unix seconds), and how many were not logged since.
    static LOGGED: Mutex<(u64, u64)> = Mutex::new((0, 0));
    let reported: Vec<&str> = conflicts
        .iter()
        .map(String::as_str)
        .filter(|key| !STAMPS.contains(key))
        .collect();
    if reported.is_empty() {
        return;
    }
    for _ in &reported {
        telemetry::session_conflict();
    }
    let unlogged = {
        let mut logged = LOGGED.lock().unwrap_or_else(PoisonError::into_inner);
        if now
            < logged
                .0
                .saturating_add(super::rejections::LOG_INTERVAL_SECS)
            && logged.0 != 0
        {
            logged.1 += 1;
            return;
        }
        let unlogged = logged.1;
        *logged = (now, 0);
        unlogged
    };
    tracing::warn!(
        keys = ?reported,
        unlogged,
        "overlapping requests changed the same session keys differently; the later save's values are kept"
    );
}

#[cfg(feature = "tokio")]
async fn sleep(pause: Duration) {
    tokio::time::sleep(pause).await;
}

#[cfg(not(feature = "tokio"))]
use crate::store::sleep_anywhere as sleep;
