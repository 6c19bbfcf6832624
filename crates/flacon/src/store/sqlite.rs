//! [`SqliteStore`]: sessions in an embedded SQLite database (WAL), persistent across restarts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};
use tokio::sync::oneshot;

use super::{flask_session, Record, ScanPage, SessionId, SessionStore, StoreError};

/// How many expired rows one purge statement removes before letting other work in.
const PURGE_BATCH: usize = 1000;

/// How long a statement on the blocking pool waits for another writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The log size that starts a checkpoint (the inline connections never checkpoint
/// themselves: a checkpoint syncs the database file, which must not happen on a worker).
/// Measured in bytes, not commits: a group commit of many rows may append one page or fifty.
const CHECKPOINT_AT_BYTES: u64 = 2 << 20;

/// The log size past which writes stop going inline and queue behind the checkpoint
/// instead, so that a starved checkpoint cannot let the log grow without bound.
const LOG_LIMIT_BYTES: u64 = 2 * CHECKPOINT_AT_BYTES;

/// Sessions in a SQLite file: the default when one machine needs server-side state that
/// survives a restart. Records are stored in Flask-Session's msgpack format.
///
/// One-row statements (load, create, save, touch, delete) run inline on the async worker
/// when they cannot wait: on a free connection (never waiting for its mutex), with a busy
/// timeout of zero (a lock held by another writer sends the statement to the blocking pool
/// instead of waiting), and without checkpoints (which sync the file; they run on the
/// blocking pool every few hundred commits). What is left inline is the work of a
/// point lookup or a one-row write into the page cache, a few microseconds; handing it to
/// another thread costs more than doing it. Everything else (id changes, purges, scans, and
/// any statement that met a lock) runs on tokio's blocking pool.
/// [`SqliteStore::open_blocking_only`] opens a store that never runs SQLite on a worker.
///
/// Writes are committed in groups: the one-row writes of all requests ready at the same
/// time share one transaction (a commit's file locks and log append cost more than the
/// write itself). Each caller still gets its own answer, and only after the commit that
/// holds its write; should a statement of a group fail, the group is rolled back and each
/// write runs again alone, so one bad write never fails another.
///
/// ```no_run
/// # async fn demo() -> Result<(), flacon::store::StoreError> {
/// let store = flacon::store::sqlite::SqliteStore::open("sessions.db").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The blocking pool's connection (waits for locks, checkpoints).
    pooled: Mutex<Connection>,
    /// Connections for inline statements, one per worker thread; empty when disabled.
    inline: Vec<Mutex<Connection>>,
    /// Bytes a page takes in the write-ahead log (the page and its frame header).
    log_frame_bytes: u64,
    /// The log's size after the last inline commit, whose size decides checkpoints.
    log_bytes: AtomicU64,
    /// A checkpoint is running.
    checkpointing: AtomicBool,
    /// Writes waiting for the next group commit.
    queue: Mutex<Vec<QueuedWrite>>,
    /// A task is committing the queue.
    committing: AtomicBool,
}

/// A one-row write: whether it changed its row.
type Write = Box<dyn Fn(&Connection) -> rusqlite::Result<bool> + Send>;

struct QueuedWrite {
    write: Write,
    done: oneshot::Sender<Result<bool, StoreError>>,
}

impl std::fmt::Debug for QueuedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedWrite").finish_non_exhaustive()
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable(e)
}

/// Another connection holds the lock this statement needs: it did nothing, and may be
/// retried where waiting is allowed.
fn is_lock_conflict(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

thread_local! {
    /// Pages in the write-ahead log after the last commit on this thread, as SQLite's log
    /// hook reports them: the hook runs inside the commit, on the committing thread.
    static LOG_PAGES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

fn note_log_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    LOG_PAGES.with(|cell| cell.set(u64::try_from(pages).ok()));
    Ok(())
}

/// A WAL frame: the page and its 24-byte header.
const FRAME_HEADER_BYTES: u64 = 24;

/// How long [`wait_briefly`] sleeps between two tries.
const BUSY_STEP: Duration = Duration::from_micros(100);

/// A busy handler: try again after [`BUSY_STEP`], for up to [`BUSY_TIMEOUT`] in all.
fn wait_briefly(tries: i32) -> bool {
    let waited = BUSY_STEP.saturating_mul(u32::try_from(tries).unwrap_or(u32::MAX));
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_STEP);
    true
}

fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        Self::open_with_inline(path.as_ref().to_owned(), workers).await
    }

    /// Opens (or creates) the database at `path`, running every statement on tokio's
    /// blocking pool (none inline on the async workers).
    pub async fn open_blocking_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_inline(path.as_ref().to_owned(), 0).await
    }

    async fn open_with_inline(path: PathBuf, inline: usize) -> Result<Self, StoreError> {
        let shared = tokio::task::spawn_blocking(move || -> Result<Shared, rusqlite::Error> {
            let pooled = connect(&path, Duration::ZERO)?;
            // Waits up to BUSY_TIMEOUT for a lock, in short even steps: SQLite's own busy
            // handler sleeps 1, 2, 5, 10 … 100 ms between tries, and a checkpoint waiting that
            // way for a reader to move on holds the write lock, and every writer, that long.
            pooled.busy_handler(Some(wait_briefly))?;
            pooled.execute_batch(
                "CREATE TABLE IF NOT EXISTS flacon_sessions (
                     id TEXT PRIMARY KEY NOT NULL,
                     data BLOB NOT NULL,
                     expires_at INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 -- An expiry index costs every save a second page write (the expiry moves
                 -- on each one); purges walk the table by id instead.
                 DROP INDEX IF EXISTS flacon_sessions_expiry;",
            )?;
            let inline = (0..inline)
                .map(|_| {
                    let conn = connect(&path, Duration::ZERO)?;
                    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                    // After the pragma, which installs a log hook of its own.
                    conn.wal_hook(Some(note_log_pages));
                    Ok(Mutex::new(conn))
                })
                .collect::<Result<_, rusqlite::Error>>()?;
            let page_size: u64 = pooled.query_row("PRAGMA page_size", [], |row| row.get(0))?;
            Ok(Shared {
                pooled: Mutex::new(pooled),
                inline,
                log_frame_bytes: page_size + FRAME_HEADER_BYTES,
                log_bytes: AtomicU64::new(0),
                checkpointing: AtomicBool::new(false),
                queue: Mutex::new(Vec::new()),
                committing: AtomicBool::new(false),
            })
        })
        .await
        .map_err(StoreError::unavailable)?
        .map_err(unavailable)?;
        Ok(SqliteStore {
            shared: Arc::new(shared),
        })
    }

    /// Runs `work` on the blocking pool's connection.
    async fn with<T: Send + 'static>(
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
    async fn statement<T: Send + 'static>(
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

    /// Runs a one-row write in the next group commit.
    async fn write(
        &self,
        write: impl Fn(&Connection) -> rusqlite::Result<bool> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        lock(&self.shared.queue).push(QueuedWrite {
            write: Box::new(write),
            done,
        });
        if !self.shared.committing.swap(true, Ordering::AcqRel) {
            // A task of its own: a request dropped mid-commit must not strand the others.
            tokio::spawn(self.clone().commit_queue());
        }
        answer
            .await
            .map_err(|_| StoreError::unavailable(GroupCommitAborted))?
    }

    /// Commits queued writes until the queue stays empty.
    async fn commit_queue(self) {
        let mut committer = Committer {
            store: self,
            finished: false,
        };
        let store = &committer.store;
        loop {
            // Requests that are ready to run queue their writes first and join this group.
            tokio::task::yield_now().await;
            let group = std::mem::take(&mut *lock(&store.shared.queue));
            if group.is_empty() {
                store.shared.committing.store(false, Ordering::Release);
                // A write queued after the take saw a committer at work and left it to us.
                if lock(&store.shared.queue).is_empty()
                    || store.shared.committing.swap(true, Ordering::AcqRel)
                {
                    committer.finished = true;
                    return;
                }
                continue;
            }
            store.commit_group(group).await;
        }
    }

    /// One transaction for `group`, inline when a connection is free and no lock is in the
    /// way, else on the blocking pool; each write alone if the transaction fails.
    async fn commit_group(&self, group: Vec<QueuedWrite>) {
        let (writes, answers): (Vec<Write>, Vec<_>) =
            group.into_iter().map(|q| (q.write, q.done)).unzip();
        let inline = self.try_inline(true, &|conn: &Connection| in_one_transaction(conn, &writes));
        let (writes, outcome) = match inline {
            Some(Ok(changed)) => (writes, Ok(changed)),
            Some(Err(e)) if !is_lock_conflict(&e) => (writes, Err(None)),
            Some(Err(_)) | None => self
                .with(move |conn| {
                    let outcome = in_one_transaction(conn, &writes).map_err(|e| {
                        // Still locked after the busy timeout: no write of the group would
                        // fare better alone.
                        is_lock_conflict(&e).then_some(e)
                    });
                    Ok((writes, outcome))
                })
                .await
                .unwrap_or_else(|_| (Vec::new(), Err(None))),
        };
        match outcome {
            Ok(changed) => {
                for (answer, changed) in answers.into_iter().zip(changed) {
                    let _ = answer.send(Ok(changed));
                }
            }
            Err(Some(locked)) => {
                for answer in answers {
                    let _ = answer.send(Err(unavailable(same_error(&locked))));
                }
            }
            Err(None) => {
                for (answer, write) in answers.into_iter().zip(writes) {
                    let _ = answer.send(self.statement(true, write).await);
                }
            }
        }
    }

    /// Runs `work` on a free inline connection; `None` when none is free, or when `work`
    /// writes and the log is past its limit (a checkpoint is started, and the write waits
    /// for it on the blocking pool). A write that commits may start a checkpoint.
    fn try_inline<T>(
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

    fn log_is_long(&self) -> bool {
        self.shared.log_bytes.load(Ordering::Relaxed) >= LOG_LIMIT_BYTES
    }

    /// Notes the log's size as the commit's log hook reported it (no system call on the
    /// async worker) and starts a checkpoint when it is due.
    fn after_inline_commit(&self) {
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
    fn checkpoint_soon(&self) {
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

/// The task committing the queue. Should it end early (a write panicked, the runtime is
/// shutting down), it hands the queue on: a committer left marked busy would keep every
/// later write waiting forever.
struct Committer {
    store: SqliteStore,
    finished: bool,
}

impl Drop for Committer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let shared = &self.store.shared;
        shared.committing.store(false, Ordering::Release);
        if lock(&shared.queue).is_empty() || shared.committing.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(self.store.clone().commit_queue())),
            Err(_) => shared.committing.store(false, Ordering::Release),
        }
    }
}

/// Why a write got no answer: the task committing it ended first (the runtime shut down).
#[derive(Debug, thiserror::Error)]
#[error("the group commit holding this write ended before it answered")]
struct GroupCommitAborted;

/// A copy of a lock-conflict error, one for each write of a group that could not commit.
fn same_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some(other.to_string()),
        ),
    }
}

/// An inline connection nobody holds. One whose holder panicked is taken too, rolled back
/// if the panic left it inside a transaction: left poisoned it would count as busy forever.
fn free_connection(mutex: &Mutex<Connection>) -> Option<std::sync::MutexGuard<'_, Connection>> {
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `writes` in one transaction: what each changed, or the error that rolled it all
/// back (a lock conflict at the start means nothing ran).
fn in_one_transaction(conn: &Connection, writes: &[Write]) -> rusqlite::Result<Vec<bool>> {
    if let [write] = writes {
        return write(conn).map(|changed| vec![changed]);
    }
    // Rolled back when dropped uncommitted: on an error, and on a panic in a write, which
    // must not leave the connection inside a transaction holding the write lock.
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let changed = writes
        .iter()
        .map(|write| write(&transaction))
        .collect::<rusqlite::Result<Vec<bool>>>()?;
    transaction.commit()?;
    Ok(changed)
}

/// Runs a statement that changes at most one row; whether it did.
fn changed_one(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<bool> {
    // Cached statements: preparing costs more than running these one-row statements.
    c.prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map(|n| n == 1)
}

fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// The column values of a record: id, Flask-Session msgpack bytes, expiry.
fn row(id: &SessionId, record: &Record) -> (String, Vec<u8>, i64) {
    (
        id.as_str().to_owned(),
        flask_session::encode(&record.data),
        secs(record.expires_at),
    )
}

impl SessionStore for SqliteStore {
    async fn create(&self, id: &SessionId, record: &Record, _now: u64) -> Result<bool, StoreError> {
        let (id, bytes, expires) = row(id, record);
        self.write(move |c| {
            changed_one(
                c,
                "INSERT OR IGNORE INTO flacon_sessions (id, data, expires_at) VALUES (?1, ?2, ?3)",
                params![id, bytes, expires],
            )
        })
        .await
    }

    async fn load(
        &self,
        id: &SessionId,
        _refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<Record>, StoreError> {
        let id = id.as_str().to_owned();
        let row = self
            .statement(false, move |c| {
                c.prepare_cached(
                    "SELECT data, expires_at FROM flacon_sessions WHERE id = ?1 AND expires_at > ?2",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id, secs(now)], |row| {
                            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
                        })
                        .optional()
                })
            })
            .await?;
        row.map(|(bytes, expires)| {
            Ok(Record {
                data: flask_session::decode(&bytes)?,
                expires_at: u64::try_from(expires).unwrap_or(0),
            })
        })
        .transpose()
    }

    async fn save(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let (id, bytes, expires) = row(id, record);
        self.write(move |c| {
            changed_one(
                c,
                "UPDATE flacon_sessions SET data = ?2, expires_at = ?3 WHERE id = ?1 AND expires_at > ?4",
                params![id, bytes, expires, secs(now)],
            )
        })
        .await
    }

    async fn touch(&self, id: &SessionId, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.write(move |c| {
            changed_one(
                c,
                "UPDATE flacon_sessions SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?3",
                params![id, secs(expires_at), secs(now)],
            )
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let id = id.as_str().to_owned();
        self.write(move |c| {
            changed_one(c, "DELETE FROM flacon_sessions WHERE id = ?1", params![id])
        })
        .await
        .map(drop)
    }

    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (old, new) = (old.as_str().to_owned(), new.as_str().to_owned());
        self.with(move |c| {
            // IMMEDIATE: a deferred transaction reads first and asks for the write lock
            // later, and a commit by another connection in between fails it at once
            // (SQLITE_BUSY_SNAPSHOT, which no busy handler waits out).
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let taken: bool = tx
                .query_row(
                    "SELECT 1 FROM flacon_sessions WHERE id = ?1",
                    params![new],
                    |_| Ok(true),
                )
                .optional()
                .map_err(unavailable)?
                .is_some();
            if taken {
                return Ok(false);
            }
            let moved = tx
                .execute(
                    "UPDATE flacon_sessions SET id = ?2 WHERE id = ?1 AND expires_at > ?3",
                    params![old, new, secs(now)],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(moved == 1)
        })
        .await
    }

    async fn delete_expired(&self, now: u64) -> Result<usize, StoreError> {
        // A walk over the primary key, one bounded batch per statement, so that a purge
        // reads each row once and never holds the write lock for long.
        let mut total = 0;
        let mut after = String::new();
        loop {
            let (removed, last) = self
                .with(move |c| {
                    // IMMEDIATE: a deferred transaction reads first and asks for the write lock
                    // later, and a commit by another connection in between fails it at once
                    // (SQLITE_BUSY_SNAPSHOT, which no busy handler waits out).
                    let tx = c
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(unavailable)?;
                    let last: Option<String> = tx
                        .query_row(
                            "SELECT max(id) FROM (SELECT id FROM flacon_sessions WHERE id > ?1
                               ORDER BY id LIMIT ?2)",
                            params![after, PURGE_BATCH as i64],
                            |row| row.get(0),
                        )
                        .map_err(unavailable)?;
                    let Some(last) = last else {
                        return Ok((0, None));
                    };
                    let removed = tx
                        .execute(
                            "DELETE FROM flacon_sessions
                               WHERE id > ?1 AND id <= ?2 AND expires_at <= ?3",
                            params![after, last, secs(now)],
                        )
                        .map_err(unavailable)?;
                    tx.commit().map_err(unavailable)?;
                    Ok((removed, Some(last)))
                })
                .await?;
            total += removed;
            match last {
                Some(last) => after = last,
                None => return Ok(total),
            }
        }
    }

    async fn scan(&self, cursor: Option<String>, page_size: usize) -> Result<ScanPage, StoreError> {
        let limit = page_size.max(1);
        self.with(move |c| {
            let mut stmt = c
                .prepare("SELECT id FROM flacon_sessions WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(unavailable)?;
            let ids: Vec<SessionId> = stmt
                .query_map(params![cursor.unwrap_or_default(), limit as i64], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(unavailable)?
                .filter_map(|r| r.ok().and_then(|s| SessionId::parse(&s)))
                .collect();
            Ok(ScanPage::ordered(ids, limit))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::value::{Map, Value};

    #[test]
    fn a_connection_whose_holder_panicked_is_free_again_and_rolled_back() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let mutex = Mutex::new(conn);
        let panicked = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let conn = mutex.lock().unwrap();
                    conn.execute_batch("BEGIN; INSERT INTO t VALUES (1)")
                        .unwrap();
                    panic!("a write panics inside its transaction");
                })
                .join()
        });
        assert!(panicked.is_err() && mutex.is_poisoned());
        let conn = free_connection(&mutex).expect("a poisoned connection is taken, not busy");
        assert!(conn.is_autocommit(), "left inside the panicked transaction");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        drop(conn);
        assert!(!mutex.is_poisoned());
        assert!(free_connection(&mutex).is_some());
    }

    #[tokio::test]
    async fn the_log_size_comes_from_the_commit_hook() {
        let dir = std::env::temp_dir().join(format!("flacon-log-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.shared.log_bytes.load(Ordering::Relaxed), 0);
        for _ in 0..20 {
            let id = SessionId::generate().unwrap();
            assert!(store.create(&id, &record(1), 0).await.unwrap());
        }
        let noted = store.shared.log_bytes.load(Ordering::Relaxed);
        let on_disk = std::fs::metadata(dir.join("s.db-wal")).unwrap().len();
        // The hook counts frames; the file adds its 32-byte header.
        assert_eq!(noted + 32, on_disk);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn record(n: i64) -> Record {
        let mut data = Map::new();
        data.insert("n".into(), Value::Int(n));
        Record {
            data,
            expires_at: u64::MAX >> 2,
        }
    }

    /// The pool's busy handler keeps the busy timeout: it waits in short steps, then gives
    /// up once the steps add up to it.
    #[test]
    fn the_busy_handler_gives_up_after_the_busy_timeout() {
        let steps = (BUSY_TIMEOUT.as_micros() / BUSY_STEP.as_micros()) as i32;
        assert!(wait_briefly(0));
        assert!(wait_briefly(steps - 1));
        assert!(!wait_briefly(steps));
        assert!(!wait_briefly(i32::MAX));
    }

    /// A write that panics takes its group down with it (those callers get an error, and
    /// nothing of the group is written), but not the store: the transaction is rolled
    /// back and later writes commit.
    #[tokio::test]
    async fn a_panicking_write_does_not_wedge_the_store() {
        let path = std::env::temp_dir().join(format!("flacon-panic-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let id = SessionId::generate().unwrap();
        assert!(store.create(&id, &record(0), 0).await.unwrap());

        let (a, b) = (store.clone(), store.clone());
        let id_a = id.clone();
        let saved = tokio::spawn(async move { a.save(&id_a, &record(1), 0).await });
        let panicked = tokio::spawn(async move { b.write(|_| panic!("a bug in a write")).await });
        assert!(
            panicked.await.unwrap().is_err(),
            "the panicking write fails"
        );
        assert!(saved.await.unwrap().is_err(), "its group failed with it");
        let seen = store.load(&id, None, 0).await.unwrap().unwrap();
        assert_eq!(
            seen.data.get("n"),
            Some(&Value::Int(0)),
            "the group was rolled back"
        );

        let two = record(2);
        let later = tokio::time::timeout(Duration::from_secs(10), store.save(&id, &two, 0)).await;
        assert!(later.expect("later writes are not stuck").unwrap());
        let seen = store.load(&id, None, 0).await.unwrap().unwrap();
        assert_eq!(
            seen.data.get("n"),
            Some(&Value::Int(2)),
            "later writes commit"
        );
    }
}
