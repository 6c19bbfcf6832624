//! The connections: the blocking pool's, which waits for locks, and the inline ones, which
//! never wait (a statement that meets a lock goes to the pool).

use std::path::Path;
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::checkpoint::LOG_PAGES;
use super::*;

/// Another connection holds the lock this statement needs: it did nothing, and may be
/// retried where waiting is allowed.
pub(super) fn is_lock_conflict(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// How long [`wait_briefly`] sleeps between two tries.
pub(super) const BUSY_STEP: Duration = Duration::from_micros(100);

/// A busy handler: try again after [`BUSY_STEP`], for up to [`BUSY_TIMEOUT`] in all.
pub(super) fn wait_briefly(tries: i32) -> bool {
    let waited = BUSY_STEP.saturating_mul(u32::try_from(tries).unwrap_or(u32::MAX));
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_STEP);
    true
}

pub(super) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Runs `work` on the blocking pool's connection.
    pub(super) async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = shared.pooled.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(StoreError::unavailable)?
    }

    /// Runs one autocommit statement inline if a connection is free and no lock is in the
    /// way, else on the blocking pool. `commits` says whether it writes.
    pub(super) async fn statement<T: Send + 'static>(
        &self,
        commits: bool,
        work: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.try_inline(commits, &work) {
            Some(Ok(value)) => return Ok(value),
            Some(Err(e)) if !is_lock_conflict(&e) => return Err(unavailable(e)),
            Some(Err(_)) | None => {}
        }
        self.with(move |conn| work(conn).map_err(unavailable)).await
    }

    /// Runs `work` on a free inline connection; `None` when none is free, or when `work`
    /// writes and the log is past its limit (a checkpoint is started, and the write waits
    /// for it on the blocking pool). A write that commits may start a checkpoint.
    pub(super) fn try_inline<T>(
        &self,
        writes: bool,
        work: &impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> Option<rusqlite::Result<T>> {
        if writes && self.log_is_long() {
            self.checkpoint_soon();
            return None;
        }
        let conn = self.shared.inline.iter().find_map(free_connection)?;
        LOG_PAGES.with(|cell| cell.set(None));
        let result = work(&conn);
        drop(conn);
        if writes && result.is_ok() {
            self.after_inline_commit();
        }
        Some(result)
    }
}

/// An inline connection nobody holds. One whose holder panicked is taken too, rolled back
/// if the panic left it inside a transaction: left poisoned it would count as busy forever.
pub(super) fn free_connection(
    mutex: &Mutex<Connection>,
) -> Option<std::sync::MutexGuard<'_, Connection>> {
    match mutex.try_lock() {
        Ok(conn) => Some(conn),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Poisoned(poisoned)) => {
            mutex.clear_poison();
            let conn = poisoned.into_inner();
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK").ok()?;
            }
            Some(conn)
        }
    }
}
