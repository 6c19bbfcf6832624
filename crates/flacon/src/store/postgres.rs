//! [`PostgresStore`]: sessions in PostgreSQL, in the table Flask-Session 0.8's SQLAlchemy
//! interface creates and uses, so that a Flask app with `SESSION_TYPE = "sqlalchemy"` on the
//! same database shares them:
//!
//! ```sql
//! CREATE TABLE sessions (
//!     id SERIAL PRIMARY KEY,
//!     session_id VARCHAR(255) UNIQUE,   -- key prefix + id: "session:<sid>"
//!     data BYTEA,                       -- msgpack (or JSON) of the session dict
//!     expiry TIMESTAMP WITHOUT TIME ZONE -- UTC
//! )
//! ```
//!
//! The driver is `tokio-postgres`: maintained, async, pure Rust, and it pipelines the
//! queries of concurrent requests over one connection (statements are prepared once per
//! connection). A lost connection is made again on the next query; a server that does not
//! answer within the timeout (2 s) is a [`StoreError::Unavailable`], which the layer answers
//! with its store-error response.
//!
//! Beside Flask-Session's table flacon keeps its per-user index in
//! `flacon_user_sessions`, and a signed-cookie revocation registry in `flacon_revoked_*`,
//! which Flask-Session never reads.

use std::sync::Arc;
use std::time::Duration;

use crate::revocation::{changes_from, RegistryVersion, RevocationChanges, UserRevocation};

use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use super::flask_session::{self, Serialization};
use super::{Record, SaveOutcome, ScanPage, SessionId, SessionStore, StoreError, Version};

/// Flask-Session's `SESSION_SQLALCHEMY_TABLE`.
const DEFAULT_TABLE: &str = "sessions";
/// Flask-Session's default key prefix.
const DEFAULT_PREFIX: &str = "session:";
/// Expired rows removed per [`SessionStore::delete_expired`] call.
const PURGE_BATCH: i64 = 1000;

/// A PostgreSQL session store in Flask-Session's SQLAlchemy layout.
///
/// ```no_run
/// # async fn demo() -> Result<(), flacon::store::StoreError> {
/// use flacon::store::postgres::PostgresStore;
/// let store = PostgresStore::connect("postgres://app@127.0.0.1/app").await?;
/// # let _ = store; Ok(()) }
/// ```
pub struct PostgresStore {
    url: String,
    table: String,
    prefix: String,
    serialization: Serialization,
    timeout: Duration,
    /// The connection, once made (a plain mutex: held only to clone or replace it).
    conn: std::sync::Mutex<Option<Arc<Connection>>>,
    /// Held while connecting, so that concurrent first requests make one connection.
    connecting: Mutex<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// One connection and its prepared statements.
struct Connection {
    client: Client,
    create: Statement,
    load: Statement,
    save: Statement,
    save_if: Statement,
    lock: Statement,
    unlock: Statement,
    touch: Statement,
    delete: Statement,
    change_id: Statement,
    purge: Statement,
    scan: Statement,
    index: Statement,
    indexed: Statement,
    unindex: Statement,
}

/// A Unix time as the `timestamp without time zone` (UTC) Flask-Session stores.
const AS_TIMESTAMP: &str = "(to_timestamp($T::float8) AT TIME ZONE 'UTC')";
/// A `timestamp without time zone` (UTC) as Unix seconds.
const AS_UNIX: &str = "floor(extract(epoch from expiry))::int8";

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::unavailable(error)
}

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and creates Flask-Session's
    /// table and flacon's index if they are missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_TABLE, DEFAULT_PREFIX).await
    }

    /// [`connect`](Self::connect) with Flask-Session's `SESSION_SQLALCHEMY_TABLE` and
    /// `SESSION_KEY_PREFIX`.
    pub async fn connect_with(url: &str, table: &str, prefix: &str) -> Result<Self, StoreError> {
        let valid_table = !table.is_empty()
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_table {
            return Err(StoreError::Corrupt(format!(
                "table name {table:?}: letters, digits and _ only"
            )));
        }
        let store = PostgresStore {
            url: url.to_owned(),
            table: table.to_owned(),
            prefix: prefix.to_owned(),
            serialization: Serialization::default(),
            timeout: Duration::from_secs(2),
            conn: std::sync::Mutex::new(None),
            connecting: Mutex::new(()),
        };
        store.connection().await?;
        Ok(store)
    }

    /// Writes records as `serialization` says (`SESSION_SERIALIZATION_FORMAT`); either is
    /// read.
    #[must_use]
    pub fn with_serialization(mut self, serialization: Serialization) -> Self {
        self.serialization = serialization;
        self
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.as_str())
    }

    /// The live connection, made (with the schema and statements) if there is none or the
    /// last one was lost.
    async fn connection(&self) -> Result<Arc<Connection>, StoreError> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _connecting = self.connecting.lock().await;
        // Another request may have connected while this one waited.
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let conn = tokio::time::timeout(self.timeout, self.open())
            .await
            .map_err(unavailable)??;
        let conn = Arc::new(conn);
        *self.slot() = Some(conn.clone());
        Ok(conn)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connection>>> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection, unless there is none or it was lost.
    fn live(&self) -> Option<Arc<Connection>> {
        self.slot().clone().filter(|c| !c.client.is_closed())
    }

    async fn open(&self) -> Result<Connection, StoreError> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(unavailable)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "PostgreSQL connection lost");
            }
        });
        let t = &self.table;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    id SERIAL NOT NULL,
                    session_id VARCHAR(255),
                    data BYTEA,
                    expiry TIMESTAMP WITHOUT TIME ZONE,
                    PRIMARY KEY (id),
                    UNIQUE (session_id)
                );
                CREATE TABLE IF NOT EXISTS flacon_user_sessions (
                    user_id TEXT NOT NULL,
                    session_id VARCHAR(255) NOT NULL,
                    created BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, session_id)
                );
                CREATE TABLE IF NOT EXISTS flacon_session_locks (
                    session_id VARCHAR(255) PRIMARY KEY,
                    token TEXT NOT NULL,
                    until_ms BIGINT NOT NULL
                );
                CREATE TABLE IF NOT EXISTS flacon_revoked_users (
                    user_id TEXT PRIMARY KEY, before_ms BIGINT NOT NULL);
                CREATE TABLE IF NOT EXISTS flacon_revoked_tokens (
                    token TEXT PRIMARY KEY, until BIGINT NOT NULL);
                CREATE TABLE IF NOT EXISTS flacon_revocation_version (
                    one INT PRIMARY KEY, version BIGINT NOT NULL);
                ALTER TABLE flacon_revoked_users
                    ADD COLUMN IF NOT EXISTS logouts BIGINT NOT NULL DEFAULT 0,
                    ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE flacon_revoked_tokens
                    ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE flacon_revocation_version
                    ADD COLUMN IF NOT EXISTS generation BIGINT NOT NULL DEFAULT 0;
                CREATE INDEX IF NOT EXISTS flacon_revoked_tokens_until
                    ON flacon_revoked_tokens (until);
                CREATE INDEX IF NOT EXISTS flacon_revoked_tokens_version
                    ON flacon_revoked_tokens (version);
                CREATE INDEX IF NOT EXISTS flacon_revoked_users_version
                    ON flacon_revoked_users (version);
                INSERT INTO flacon_revocation_version (one, version, generation)
                    VALUES (1, 0, {now_ms}) ON CONFLICT (one) DO NOTHING;
                -- A registry an earlier flacon made has all its data: its generation is the
                -- earliest time, so that upgrading voids no sign-in.
                UPDATE flacon_revocation_version SET generation = 1
                    WHERE one = 1 AND generation = 0;",
                now_ms = crate::policy::unix_millis()
            ))
            .await
            .map_err(unavailable)?;
        let at = |n: usize| AS_TIMESTAMP.replace("$T", &format!("${n}"));
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await.map_err(unavailable) }
        };
        Ok(Connection {
            create: prepare(format!(
                "INSERT INTO {t} (session_id, data, expiry) VALUES ($1, $2, {}) \
                 ON CONFLICT (session_id) DO NOTHING",
                at(3)
            ))
            .await?,
            load: prepare(format!(
                "SELECT data, {AS_UNIX} FROM {t} WHERE session_id = $1 AND expiry > {}",
                at(2)
            ))
            .await?,
            save: prepare(format!(
                "UPDATE {t} SET data = $2, expiry = {} WHERE session_id = $1 AND expiry > {}",
                at(3),
                at(4)
            ))
            .await?,
            // The stored bytes are the version: unchanged since the load, or no write.
            save_if: prepare(format!(
                "UPDATE {t} SET data = $2, expiry = {} WHERE session_id = $1 AND expiry > {} \
                 AND data = $5",
                at(3),
                at(4)
            ))
            .await?,
            lock: prepare(
                "INSERT INTO flacon_session_locks (session_id, token, until_ms) \
                 VALUES ($1, $2, $3) ON CONFLICT (session_id) DO UPDATE \
                 SET token = EXCLUDED.token, until_ms = EXCLUDED.until_ms \
                 WHERE flacon_session_locks.until_ms <= $4 \
                 OR flacon_session_locks.token = EXCLUDED.token"
                    .to_owned(),
            )
            .await?,
            unlock: prepare(
                "DELETE FROM flacon_session_locks WHERE session_id = $1 AND token = $2".to_owned(),
            )
            .await?,
            touch: prepare(format!(
                "UPDATE {t} SET expiry = {} WHERE session_id = $1 AND expiry > {}",
                at(2),
                at(3)
            ))
            .await?,
            delete: prepare(format!("DELETE FROM {t} WHERE session_id = $1")).await?,
            change_id: prepare(format!(
                "UPDATE {t} SET session_id = $2 WHERE session_id = $1 AND expiry > {}",
                at(3)
            ))
            .await?,
            purge: prepare(format!(
                "DELETE FROM {t} WHERE id IN \
                 (SELECT id FROM {t} WHERE expiry <= {} LIMIT $2)",
                at(1)
            ))
            .await?,
            scan: prepare(format!(
                "SELECT session_id FROM {t} WHERE left(session_id, length($1)) = $1 \
                 AND session_id > $2 ORDER BY session_id LIMIT $3"
            ))
            .await?,
            index: prepare(
                "INSERT INTO flacon_user_sessions (user_id, session_id, created, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, session_id) \
                 DO UPDATE SET expires_at = EXCLUDED.expires_at"
                    .to_owned(),
            )
            .await?,
            indexed: prepare(
                "SELECT session_id, created FROM flacon_user_sessions WHERE user_id = $1 \
                 ORDER BY created, session_id"
                    .to_owned(),
            )
            .await?,
            unindex: prepare(
                "DELETE FROM flacon_user_sessions WHERE user_id = $1 AND session_id = $2"
                    .to_owned(),
            )
            .await?,
            client,
        })
    }

    /// Runs `op` on the connection within the timeout; any error is the store's.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        self.run_answered(op).await?.map_err(unavailable)
    }

    /// [`run`](Self::run), with what PostgreSQL answered kept apart (an error a caller
    /// can read, such as a unique violation) from a connection that failed or a server
    /// that did not answer in time, which drops the connection so the next call makes one.
    async fn run_answered<T, F, Fut>(
        &self,
        op: F,
    ) -> Result<Result<T, tokio_postgres::Error>, StoreError>
    where
        F: FnOnce(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.timeout, op(conn)).await {
            Ok(answer) => Ok(answer),
            Err(elapsed) => {
                // A server that stopped answering: start afresh next time.
                *self.slot() = None;
                Err(unavailable(elapsed))
            }
        }
    }
}

impl SessionStore for PostgresStore {
    async fn create(&self, id: &SessionId, record: &Record, _now: u64) -> Result<bool, StoreError> {
        let (key, data) = (self.key(id), self.serialization.encode(&record.data));
        let expires = record.expires_at as f64;
        self.run(|c| async move { c.client.execute(&c.create, &[&key, &data, &expires]).await })
            .await
            .map(|rows| rows == 1)
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

    /// One `SELECT`: the stored expiry is extended by [`touch`](SessionStore::touch) when the
    /// layer's touch interval says so, not by every read (an `UPDATE` per request would cost
    /// PostgreSQL a WAL write each). The stored bytes are the version.
    async fn load_versioned(
        &self,
        id: &SessionId,
        _refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<(Record, Version)>, StoreError> {
        let key = self.key(id);
        let now = now as f64;
        let row = self
            .run(|c| async move { c.client.query_opt(&c.load, &[&key, &now]).await })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let bytes: Vec<u8> = row.try_get(0).map_err(unavailable)?;
        let expires_at: i64 = row.try_get(1).map_err(unavailable)?;
        let record = Record {
            data: flask_session::decode(&bytes)?,
            expires_at: u64::try_from(expires_at).unwrap_or(0),
        };
        Ok(Some((record, Version::new(bytes))))
    }

    /// One conditional `UPDATE`; only when it changes nothing, a `SELECT` tells a changed
    /// record from a gone one.
    async fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let (key, data) = (self.key(id), self.serialization.encode(&record.data));
        let (expires, now_secs) = (record.expires_at as f64, now as f64);
        let expected = expected.as_bytes().to_vec();
        let version = Version::new(data.clone());
        let rows = self
            .run(|c| async move {
                c.client
                    .execute(&c.save_if, &[&key, &data, &expires, &now_secs, &expected])
                    .await
            })
            .await?;
        if rows == 1 {
            return Ok(SaveOutcome::Saved(version));
        }
        Ok(match self.load_versioned(id, None, now).await? {
            Some(_) => SaveOutcome::Changed,
            None => SaveOutcome::Gone,
        })
    }

    async fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let (key, token) = (self.key(id), token.to_owned());
        let (until, now) = (i64_of(until_ms), i64_of(now_ms));
        self.run(|c| async move {
            c.client
                .execute(&c.lock, &[&key, &token, &until, &now])
                .await
        })
        .await
        .map(|rows| rows == 1)
    }

    async fn unlock(&self, id: &SessionId, token: &str) -> Result<(), StoreError> {
        let (key, token) = (self.key(id), token.to_owned());
        self.run(|c| async move { c.client.execute(&c.unlock, &[&key, &token]).await })
            .await
            .map(drop)
    }

    async fn save(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let (key, data) = (self.key(id), self.serialization.encode(&record.data));
        let (expires, now) = (record.expires_at as f64, now as f64);
        self.run(|c| async move {
            c.client
                .execute(&c.save, &[&key, &data, &expires, &now])
                .await
        })
        .await
        .map(|rows| rows == 1)
    }

    async fn touch(&self, id: &SessionId, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let key = self.key(id);
        let (expires, now) = (expires_at as f64, now as f64);
        self.run(|c| async move { c.client.execute(&c.touch, &[&key, &expires, &now]).await })
            .await
            .map(|rows| rows == 1)
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let key = self.key(id);
        self.run(|c| async move { c.client.execute(&c.delete, &[&key]).await })
            .await
            .map(drop)
    }

    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (old, new, now) = (self.key(old), self.key(new), now as f64);
        let answer = self
            .run_answered(
                |c| async move { c.client.execute(&c.change_id, &[&old, &new, &now]).await },
            )
            .await?;
        match answer {
            Ok(rows) => Ok(rows == 1),
            // The new id is taken.
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn delete_expired(&self, now: u64) -> Result<usize, StoreError> {
        let now = now as f64;
        self.run(|c| async move { c.client.execute(&c.purge, &[&now, &PURGE_BATCH]).await })
            .await
            .map(|rows| usize::try_from(rows).unwrap_or(usize::MAX))
    }

    async fn scan(&self, cursor: Option<String>, page_size: usize) -> Result<ScanPage, StoreError> {
        let prefix = self.prefix.clone();
        let after = format!("{prefix}{}", cursor.unwrap_or_default());
        let limit = i64::try_from(page_size.max(1)).unwrap_or(i64::MAX);
        let rows = self
            .run(|c| async move { c.client.query(&c.scan, &[&prefix, &after, &limit]).await })
            .await?;
        let ids: Vec<SessionId> = rows
            .iter()
            .filter_map(|row| row.try_get::<_, String>(0).ok())
            .filter_map(|key| SessionId::parse(key.strip_prefix(&self.prefix)?))
            .collect();
        let next = (rows.len() == page_size.max(1))
            .then(|| ids.last().map(|id| id.as_str().to_owned()))
            .flatten();
        Ok(ScanPage { ids, next })
    }

    async fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let (user, key) = (user.to_owned(), self.key(id));
        let (created, expires) = (i64_of(created), i64_of(expires_at));
        self.run(|c| async move {
            c.client
                .execute(&c.index, &[&user, &key, &created, &expires])
                .await
        })
        .await
        .map(drop)
    }

    async fn user_session_ids(&self, user: &str) -> Result<Vec<(SessionId, u64)>, StoreError> {
        let user = user.to_owned();
        let rows = self
            .run(|c| async move { c.client.query(&c.indexed, &[&user]).await })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let key: String = row.try_get(0).ok()?;
                let created: i64 = row.try_get(1).ok()?;
                let id = SessionId::parse(key.strip_prefix(&self.prefix)?)?;
                Some((id, u64::try_from(created).unwrap_or(0)))
            })
            .collect())
    }

    async fn unindex_user_session(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        let (user, key) = (user.to_owned(), self.key(id));
        self.run(|c| async move { c.client.execute(&c.unindex, &[&user, &key]).await })
            .await
            .map(drop)
    }
}

/// The revocation registry of signed cookies, in three small tables beside the sessions:
/// each change bumps `flacon_revocation_version` and stamps its row with the new version in
/// the same statement, so readers ask only for the rows past the version they know.
impl crate::revocation::RevocationBackend for PostgresStore {
    async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
        self.registry_change(
            "INSERT INTO flacon_revoked_users (user_id, before_ms, logouts, version) \
             SELECT $1, $2, 1, version FROM bump \
             ON CONFLICT (user_id) DO UPDATE \
             SET before_ms = GREATEST(flacon_revoked_users.before_ms, EXCLUDED.before_ms), \
                 logouts = flacon_revoked_users.logouts + 1, version = EXCLUDED.version",
            user,
            i64_of(before_ms),
        )
        .await
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.registry_change(
            "INSERT INTO flacon_revoked_tokens (token, until, version) \
             SELECT $1, $2, version FROM bump \
             ON CONFLICT (token) DO UPDATE SET until = EXCLUDED.until, version = EXCLUDED.version",
            token,
            i64_of(until),
        )
        .await
    }

    async fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        _now_ms: u64,
    ) -> Result<Option<RevocationChanges>, StoreError> {
        let now = i64_of(now);
        let read = self
            .run(|c| async move {
                let at = c
                    .client
                    .query_opt(
                        "SELECT version, generation FROM flacon_revocation_version WHERE one = 1",
                        &[],
                    )
                    .await?
                    .map_or_else(RegistryVersion::default, |row| RegistryVersion {
                        version: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                        generation: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                    });
                let Some(since) = changes_from(known, at) else {
                    return Ok(None);
                };
                let since = i64_of(since);
                // Separate statements for a whole read and a delta: the delta must use the
                // version indexes.
                let (users, tokens) = if since == 0 {
                    (
                        c.client
                            .query(
                                "SELECT user_id, before_ms, logouts FROM flacon_revoked_users",
                                &[],
                            )
                            .await?,
                        c.client
                            .query(
                                "SELECT token, until FROM flacon_revoked_tokens WHERE until > $1",
                                &[&now],
                            )
                            .await?,
                    )
                } else {
                    (
                        c.client
                            .query(
                                "SELECT user_id, before_ms, logouts FROM flacon_revoked_users \
                                 WHERE version > $1",
                                &[&since],
                            )
                            .await?,
                        c.client
                            .query(
                                "SELECT token, until FROM flacon_revoked_tokens \
                                 WHERE version > $1 AND until > $2",
                                &[&since, &now],
                            )
                            .await?,
                    )
                };
                Ok(Some((at, since == 0, users, tokens)))
            })
            .await?;
        let Some((at, complete, users, tokens)) = read else {
            return Ok(None);
        };
        let number = |row: &tokio_postgres::Row, i: usize| {
            row.try_get::<_, i64>(i)
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        Ok(Some(RevocationChanges {
            at,
            complete,
            users: users
                .iter()
                .filter_map(|row| {
                    let user: String = row.try_get(0).ok()?;
                    let revocation = UserRevocation {
                        before_ms: number(row, 1),
                        logouts: number(row, 2),
                    };
                    Some((user, revocation))
                })
                .collect(),
            tokens: tokens
                .iter()
                .filter_map(|row| Some((row.try_get::<_, String>(0).ok()?, number(row, 1))))
                .collect(),
        }))
    }

    async fn start_generation(&self, now_ms: u64) -> Result<(), StoreError> {
        let now_ms = i64_of(now_ms);
        self.run(|c| async move {
            c.client
                .execute(
                    "UPDATE flacon_revocation_version \
                     SET generation = GREATEST(generation, $1) WHERE one = 1",
                    &[&now_ms],
                )
                .await
        })
        .await
        .map(drop)
    }

    async fn purge_revocations(&self, now: u64) -> Result<usize, StoreError> {
        let batch = u64::try_from(crate::revocation::PURGE_BATCH).unwrap_or(u64::MAX);
        let (now, batch) = (i64_of(now), i64_of(batch));
        self.run(|c| async move {
            c.client
                .execute(
                    "DELETE FROM flacon_revoked_tokens WHERE token IN \
                     (SELECT token FROM flacon_revoked_tokens WHERE until <= $1 LIMIT $2)",
                    &[&now, &batch],
                )
                .await
        })
        .await
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl PostgresStore {
    /// One registry change: `insert` (of `$1`, `$2`, reading the new version from `bump`)
    /// with the version bumped in the same statement.
    async fn registry_change(&self, insert: &str, key: &str, value: i64) -> Result<(), StoreError> {
        let (sql, key) = (
            format!("WITH bump AS ({BUMP_VERSION}) {insert}"),
            key.to_owned(),
        );
        self.run(|c| async move { c.client.execute(&sql, &[&key, &value]).await })
            .await
            .map(drop)
    }
}

/// Bumps the registry's version (a CTE in each change, so the two cannot part).
const BUMP_VERSION: &str = "INSERT INTO flacon_revocation_version (one, version) VALUES (1, 1) \
    ON CONFLICT (one) DO UPDATE SET version = flacon_revocation_version.version + 1 \
    RETURNING version";
