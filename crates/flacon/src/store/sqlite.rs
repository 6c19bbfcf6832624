//! [`SqliteStore`]: sessions in an embedded SQLite database (WAL), persistent across restarts.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use super::{flask_session, Record, ScanPage, SessionId, SessionStore, StoreError};

/// How many expired rows one purge statement removes before letting other work in.
const PURGE_BATCH: usize = 1000;

/// Sessions in a SQLite file: the default when one machine needs server-side state that
/// survives a restart. Records are stored in Flask-Session's msgpack format. All SQLite work
/// runs on tokio's blocking pool, never on the async workers.
///
/// ```no_run
/// # async fn demo() -> Result<(), flacon::store::StoreError> {
/// let store = flacon::store::sqlite::SqliteStore::open("sessions.db").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable(e)
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS flacon_sessions (
                     id TEXT PRIMARY KEY NOT NULL,
                     data BLOB NOT NULL,
                     expires_at INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS flacon_sessions_expiry ON flacon_sessions (expires_at);",
            )?;
            Ok(conn)
        })
        .await
        .map_err(StoreError::unavailable)?
        .map_err(unavailable)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(StoreError::unavailable)?
    }
}

/// Runs a statement that changes at most one row; whether it did.
fn changed_one(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<bool, StoreError> {
    // Cached statements: preparing costs more than running these one-row statements.
    c.prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map(|n| n == 1)
        .map_err(unavailable)
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
        self.with(move |c| {
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
            .with(move |c| {
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
                .map_err(unavailable)
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
        self.with(move |c| {
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
        self.with(move |c| {
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
        self.with(move |c| {
            changed_one(c, "DELETE FROM flacon_sessions WHERE id = ?1", params![id]).map(drop)
        })
        .await
    }

    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (old, new) = (old.as_str().to_owned(), new.as_str().to_owned());
        self.with(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
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
        let mut total = 0;
        loop {
            let removed = self
                .with(move |c| {
                    c.execute(
                        "DELETE FROM flacon_sessions WHERE id IN
                           (SELECT id FROM flacon_sessions WHERE expires_at <= ?1 LIMIT ?2)",
                        params![secs(now), PURGE_BATCH as i64],
                    )
                    .map_err(unavailable)
                })
                .await?;
            total += removed;
            if removed < PURGE_BATCH {
                return Ok(total);
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
