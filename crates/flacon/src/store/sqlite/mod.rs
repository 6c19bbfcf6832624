//! [`SqliteStore`]: sessions in an embedded SQLite database (WAL), persistent across restarts.

mod checkpoint;
mod connection;
mod group_commit;
mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    flask_session, Record, SaveOutcome, ScanPage, SessionId, SessionStore, StoreError, Version,
};

use checkpoint::{note_log_pages, FRAME_HEADER_BYTES};
use connection::{connect, wait_briefly};
use group_commit::QueuedWrite;

/// How many expired rows one purge statement removes before letting other work in.
const PURGE_BATCH: usize = 1000;

/// How long a statement on the blocking pool waits for another writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable(e)
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
                 DROP INDEX IF EXISTS flacon_sessions_expiry;
                 -- The per-session locks of exclusive routes: who holds one, and until when
                 -- (Unix ms), so that the lock of a holder that died runs out.
                 CREATE TABLE IF NOT EXISTS flacon_session_locks (
                     id TEXT PRIMARY KEY NOT NULL,
                     token TEXT NOT NULL,
                     until_ms INTEGER NOT NULL
                 ) WITHOUT ROWID;",
            )?;
            pooled.execute_batch(users::SCHEMA)?;
            users::migrate(&pooled, crate::policy::unix_millis())?;
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
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self
            .load_versioned(id, refresh_to, now)
            .await?
            .map(|(record, _)| record))
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

    /// The stored bytes are the version: [`save_if`](SessionStore::save_if) compares them in
    /// its `UPDATE`.
    async fn load_versioned(
        &self,
        id: &SessionId,
        _refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<(Record, Version)>, StoreError> {
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
            let record = Record {
                data: flask_session::decode(&bytes)?,
                expires_at: u64::try_from(expires).unwrap_or(0),
            };
            Ok((record, Version::new(bytes)))
        })
        .transpose()
    }

    /// One conditional `UPDATE` (the stored bytes still those loaded); when it changes
    /// nothing, the same transaction tells a changed record from a gone one.
    async fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let (id, bytes, expires) = row(id, record);
        // Shared, not copied, between the write and its answer.
        let (version, expected) = (Version::new(bytes), expected.clone());
        let written = version.clone();
        let exists = Arc::new(AtomicBool::new(false));
        let seen = exists.clone();
        let saved = self
            .write(move |c| {
                if changed_one(
                    c,
                    "UPDATE flacon_sessions SET data = ?2, expires_at = ?3 \
                     WHERE id = ?1 AND expires_at > ?4 AND data = ?5",
                    params![
                        id,
                        written.as_bytes(),
                        expires,
                        secs(now),
                        expected.as_bytes()
                    ],
                )? {
                    return Ok(true);
                }
                let live = c
                    .prepare_cached(
                        "SELECT 1 FROM flacon_sessions WHERE id = ?1 AND expires_at > ?2",
                    )?
                    .exists(params![id, secs(now)])?;
                seen.store(live, Ordering::Release);
                Ok(false)
            })
            .await?;
        Ok(match (saved, exists.load(Ordering::Acquire)) {
            (true, _) => SaveOutcome::Saved(version),
            (false, true) => SaveOutcome::Changed,
            (false, false) => SaveOutcome::Gone,
        })
    }

    async fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let (id, token) = (id.as_str().to_owned(), token.to_owned());
        self.write(move |c| {
            changed_one(
                c,
                "INSERT INTO flacon_session_locks (id, token, until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET token = excluded.token, until_ms = excluded.until_ms \
                 WHERE flacon_session_locks.until_ms <= ?4 OR flacon_session_locks.token = excluded.token",
                params![id, token, secs(until_ms), secs(now_ms)],
            )
        })
        .await
    }

    async fn unlock(&self, id: &SessionId, token: &str) -> Result<(), StoreError> {
        let (id, token) = (id.as_str().to_owned(), token.to_owned());
        self.write(move |c| {
            changed_one(
                c,
                "DELETE FROM flacon_session_locks WHERE id = ?1 AND token = ?2",
                params![id, token],
            )
        })
        .await
        .map(drop)
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
                None => {
                    self.purge_index().await?;
                    return Ok(total);
                }
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

    async fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        _expires_at: u64,
    ) -> Result<(), StoreError> {
        self.index_user(user, id, created).await
    }

    async fn user_session_ids(&self, user: &str) -> Result<Vec<(SessionId, u64)>, StoreError> {
        self.ids_of_user(user).await
    }

    async fn unindex_user_session(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        self.unindex_user(user, id).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::connection::{free_connection, BUSY_STEP};
    use super::*;
    use crate::value::{Map, Value};
    use std::sync::atomic::Ordering;

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
        let mut data = Map::default();
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
