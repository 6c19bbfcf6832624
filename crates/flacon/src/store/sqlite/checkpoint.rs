//! Checkpoints: the inline connections never checkpoint (a checkpoint syncs the file); the
//! log's size, as SQLite's commit hook reports it, starts one on the blocking pool.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;

use super::*;

/// The log size that starts a checkpoint (the inline connections never checkpoint
/// themselves: a checkpoint syncs the database file, which must not happen on a worker).
/// Measured in bytes, not commits: a group commit of many rows may append one page or fifty.
pub(super) const CHECKPOINT_AT_BYTES: u64 = 2 << 20;

/// The log size past which writes stop going inline and queue behind the checkpoint
/// instead, so that a starved checkpoint cannot let the log grow without bound.
pub(super) const LOG_LIMIT_BYTES: u64 = 2 * CHECKPOINT_AT_BYTES;

thread_local! {
    /// Pages in the write-ahead log after the last commit on this thread, as SQLite's log
    /// hook reports them: the hook runs inside the commit, on the committing thread.
    pub(super) static LOG_PAGES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

pub(super) fn note_log_pages(
    _: &rusqlite::hooks::Wal,
    pages: std::ffi::c_int,
) -> rusqlite::Result<()> {
    LOG_PAGES.with(|cell| cell.set(u64::try_from(pages).ok()));
    Ok(())
}

/// A WAL frame: the page and its 24-byte header.
pub(super) const FRAME_HEADER_BYTES: u64 = 24;

impl SqliteStore {
    pub(super) fn log_is_long(&self) -> bool {
        self.shared.log_bytes.load(Ordering::Relaxed) >= LOG_LIMIT_BYTES
    }

    /// Notes the log's size as the commit's log hook reported it (no system call on the
    /// async worker) and starts a checkpoint when it is due.
    pub(super) fn after_inline_commit(&self) {
        let Some(pages) = LOG_PAGES.with(std::cell::Cell::take) else {
            return;
        };
        let bytes = pages.saturating_mul(self.shared.log_frame_bytes);
        self.shared.log_bytes.store(bytes, Ordering::Relaxed);
        if bytes >= CHECKPOINT_AT_BYTES {
            self.checkpoint_soon();
        }
    }

    /// Starts a checkpoint on the blocking pool unless one is running.
    pub(super) fn checkpoint_soon(&self) {
        if self.shared.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let conn = shared.pooled.lock().unwrap_or_else(PoisonError::into_inner);
            // TRUNCATE takes the write lock until the whole log is copied and emptied: a
            // PASSIVE checkpoint alone, racing a steady stream of commits, may never catch
            // up, and the log would grow without end. So a PASSIVE pass first copies the
            // log (and syncs the database) while writers carry on; the TRUNCATE that
            // follows has only what they appended meanwhile to copy, and holds writers up
            // for that long.
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(%error, "SQLite passive checkpoint failed");
            }
            match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            }) {
                // 0: not blocked, the whole log was copied.
                Ok(0) => shared.log_bytes.store(0, Ordering::Relaxed),
                Ok(_) => tracing::debug!("SQLite checkpoint was blocked; retrying later"),
                Err(error) => tracing::warn!(%error, "SQLite checkpoint failed"),
            }
            shared.checkpointing.store(false, Ordering::Release);
        });
    }
}
