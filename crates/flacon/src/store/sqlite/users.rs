//! The per-user index and the cookie revocation registry in the same SQLite file as the
//! sessions: `flacon_user_sessions` (user, id, sign-in time; keyed by user so a user's
//! sessions are one range) and `flacon_revoked_users` / `flacon_revoked_tokens`, whose
//! changes bump `flacon_revocation_version` so that readers reload only after a change.

use rusqlite::{params, OptionalExtension};

use super::{secs, unavailable, SqliteStore};
#[cfg(feature = "tokio")]
use crate::revocation::{
    changes_from, RegistryVersion, RevocationChanges, UserRevocation, PURGE_BATCH,
};
use crate::store::{SessionId, StoreError};

/// The tables, created with the sessions table. Every registry change takes the next
/// version and stamps its row with it, so a reader asks for the rows past the version it
/// knows (an index on `version`); expired denials are purged by an index on `until`.
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS flacon_user_sessions (
        user TEXT NOT NULL,
        id TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (user, id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revoked_users (
        user TEXT PRIMARY KEY NOT NULL,
        before_ms INTEGER NOT NULL,
        logouts INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revoked_tokens (
        token TEXT PRIMARY KEY NOT NULL,
        until INTEGER NOT NULL,
        version INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revocation_version (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        version INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0
    );
    INSERT OR IGNORE INTO flacon_revocation_version (one, version) VALUES (1, 0);";

/// The columns a registry made by an earlier flacon lacks.
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    (
        "flacon_revoked_users",
        "logouts",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "flacon_revoked_users",
        "version",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "flacon_revoked_tokens",
        "version",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "flacon_revocation_version",
        "generation",
        "INTEGER NOT NULL DEFAULT 0",
    ),
];

/// Brings a registry made by an earlier flacon up to [`SCHEMA`] (its rows keep version 0:
/// a reader that knows nothing reads them whole), adds the indexes, and starts the
/// registry's generation if it has none: now for a new registry, and the earliest time
/// (1 ms) for one an earlier flacon made, whose data is all there, so that upgrading voids
/// no sign-in.
pub(super) fn migrate(conn: &rusqlite::Connection, now_ms: u64) -> rusqlite::Result<()> {
    let mut upgraded = false;
    for (table, column, declaration) in ADDED_COLUMNS {
        let present: bool = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))?
            .exists([column])?;
        if !present {
            upgraded = true;
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
        }
    }
    let generation = if upgraded { 1 } else { now_ms };
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS flacon_revoked_tokens_until ON flacon_revoked_tokens (until);
         CREATE INDEX IF NOT EXISTS flacon_revoked_tokens_version ON flacon_revoked_tokens (version);
         CREATE INDEX IF NOT EXISTS flacon_revoked_users_version ON flacon_revoked_users (version);",
    )?;
    conn.execute(
        "UPDATE flacon_revocation_version SET generation = ?1 WHERE one = 1 AND generation = 0",
        params![secs(generation)],
    )?;
    Ok(())
}

impl SqliteStore {
    pub(super) async fn index_user(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
    ) -> Result<(), StoreError> {
        let (user, id) = (user.to_owned(), id.as_str().to_owned());
        self.statement(true, move |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO flacon_user_sessions (user, id, created) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![user, id, secs(created)])
            .map(drop)
        })
        .await
    }

    pub(super) async fn ids_of_user(
        &self,
        user: &str,
    ) -> Result<Vec<(SessionId, u64)>, StoreError> {
        let user = user.to_owned();
        self.statement(false, move |c| {
            let mut statement = c.prepare_cached(
                "SELECT id, created FROM flacon_user_sessions WHERE user = ?1 ORDER BY created, id",
            )?;
            let rows = statement.query_map(params![user], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut ids = Vec::new();
            for row in rows {
                let (id, created) = row?;
                if let Some(id) = SessionId::parse(&id) {
                    ids.push((id, u64::try_from(created).unwrap_or(0)));
                }
            }
            Ok(ids)
        })
        .await
    }

    pub(super) async fn unindex_user(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        let (user, id) = (user.to_owned(), id.as_str().to_owned());
        self.statement(true, move |c| {
            c.prepare_cached("DELETE FROM flacon_user_sessions WHERE user = ?1 AND id = ?2")?
                .execute(params![user, id])
                .map(drop)
        })
        .await
    }

    /// Index entries whose session is gone: removed with each purge.
    pub(super) async fn purge_index(&self) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM flacon_user_sessions
                   WHERE id NOT IN (SELECT id FROM flacon_sessions)",
                [],
            )
            .map_err(unavailable)
        })
        .await
    }

    /// Runs one change to the registry, stamped with the version it bumps to, in one
    /// transaction: `sql` takes the key, the value and that version.
    async fn revocation_change(
        &self,
        sql: &'static str,
        key: String,
        value: i64,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let version: i64 = tx
                .query_row(
                    "UPDATE flacon_revocation_version SET version = version + 1 WHERE one = 1
                       RETURNING version",
                    [],
                    |row| row.get(0),
                )
                .map_err(unavailable)?;
            tx.execute(sql, params![key, value, version])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

#[cfg(feature = "tokio")]
impl crate::revocation::RevocationBackend for SqliteStore {
    async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
        self.revocation_change(
            "INSERT INTO flacon_revoked_users (user, before_ms, logouts, version)
               VALUES (?1, ?2, 1, ?3)
               ON CONFLICT (user) DO UPDATE SET before_ms = max(before_ms, excluded.before_ms),
                 logouts = logouts + 1, version = excluded.version",
            user.to_owned(),
            secs(before_ms),
        )
        .await
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.revocation_change(
            "INSERT INTO flacon_revoked_tokens (token, until, version) VALUES (?1, ?2, ?3)
               ON CONFLICT (token) DO UPDATE SET until = excluded.until,
                 version = excluded.version",
            token.to_owned(),
            secs(until),
        )
        .await
    }

    async fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        _now_ms: u64,
    ) -> Result<Option<RevocationChanges>, StoreError> {
        let (version, generation): (i64, i64) = self
            .statement(false, |c| {
                c.prepare_cached(
                    "SELECT version, generation FROM flacon_revocation_version WHERE one = 1",
                )?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map(Option::unwrap_or_default)
            })
            .await?;
        let at = RegistryVersion {
            generation: u64::try_from(generation).unwrap_or(0),
            version: u64::try_from(version).unwrap_or(0),
        };
        let Some(since) = changes_from(known, at) else {
            return Ok(None);
        };
        self.with(move |c| {
            let since = secs(since);
            let mut changes = RevocationChanges {
                at,
                complete: since == 0,
                ..RevocationChanges::default()
            };
            // Two statements, not one with `OR ?1 = 0`: a delta must use the version index.
            let (users_sql, tokens_sql) = if since == 0 {
                (
                    "SELECT user, before_ms, logouts FROM flacon_revoked_users WHERE ?1 = 0",
                    "SELECT token, until FROM flacon_revoked_tokens WHERE ?1 = 0 AND until > ?2",
                )
            } else {
                (
                    "SELECT user, before_ms, logouts FROM flacon_revoked_users WHERE version > ?1",
                    "SELECT token, until FROM flacon_revoked_tokens
                       WHERE version > ?1 AND until > ?2",
                )
            };
            let mut users = c.prepare_cached(users_sql).map_err(unavailable)?;
            let rows = users
                .query_map(params![since], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        UserRevocation {
                            before_ms: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                            logouts: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        },
                    ))
                })
                .map_err(unavailable)?;
            for row in rows {
                changes.users.push(row.map_err(unavailable)?);
            }
            let mut tokens = c.prepare_cached(tokens_sql).map_err(unavailable)?;
            let rows = tokens
                .query_map(params![since, secs(now)], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    ))
                })
                .map_err(unavailable)?;
            for row in rows {
                changes.tokens.push(row.map_err(unavailable)?);
            }
            Ok(changes)
        })
        .await
        .map(Some)
    }

    async fn start_generation(&self, now_ms: u64) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "UPDATE flacon_revocation_version SET generation = max(generation, ?1) WHERE one = 1",
                params![secs(now_ms)],
            )
            .map(drop)
            .map_err(unavailable)
        })
        .await
    }

    async fn purge_revocations(&self, now: u64) -> Result<usize, StoreError> {
        self.with(move |c| {
            c.execute(
                "DELETE FROM flacon_revoked_tokens WHERE token IN
                   (SELECT token FROM flacon_revoked_tokens WHERE until <= ?1 LIMIT ?2)",
                params![secs(now), i64::try_from(PURGE_BATCH).unwrap_or(i64::MAX)],
            )
            .map_err(unavailable)
        })
        .await
    }
}
