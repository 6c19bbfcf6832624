//! The per-user index and the cookie revocation registry in the same SQLite file as the
//! sessions: `flacon_user_sessions` (user, id, sign-in time; keyed by user so a user's
//! sessions are one range) and `flacon_revoked_users` / `flacon_revoked_tokens`, whose
//! changes bump `flacon_revocation_version` so that readers reload only after a change.

use rusqlite::{params, OptionalExtension};

use super::{secs, unavailable, SqliteStore};
use crate::store::{SessionId, StoreError};

/// The tables, created with the sessions table.
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS flacon_user_sessions (
        user TEXT NOT NULL,
        id TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (user, id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revoked_users (
        user TEXT PRIMARY KEY NOT NULL,
        before_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revoked_tokens (
        token TEXT PRIMARY KEY NOT NULL,
        until INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS flacon_revocation_version (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        version INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO flacon_revocation_version (one, version) VALUES (1, 0);";

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

    /// Runs one change to the registry and bumps its version, in one transaction.
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
            tx.execute(sql, params![key, value]).map_err(unavailable)?;
            tx.execute(
                "UPDATE flacon_revocation_version SET version = version + 1 WHERE one = 1",
                [],
            )
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
            "INSERT INTO flacon_revoked_users (user, before_ms) VALUES (?1, ?2)
               ON CONFLICT (user) DO UPDATE SET before_ms = max(before_ms, excluded.before_ms)",
            user.to_owned(),
            secs(before_ms),
        )
        .await
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.revocation_change(
            "INSERT OR REPLACE INTO flacon_revoked_tokens (token, until) VALUES (?1, ?2)",
            token.to_owned(),
            secs(until),
        )
        .await
    }

    async fn revocations_since(
        &self,
        known: Option<u64>,
        now: u64,
    ) -> Result<Option<crate::revocation::Revocations>, StoreError> {
        let version: i64 = self
            .statement(false, |c| {
                c.prepare_cached("SELECT version FROM flacon_revocation_version WHERE one = 1")?
                    .query_row([], |row| row.get(0))
                    .optional()
                    .map(Option::unwrap_or_default)
            })
            .await?;
        let version = u64::try_from(version).unwrap_or(0);
        if known == Some(version) {
            return Ok(None);
        }
        self.with(move |c| {
            let mut revocations = crate::revocation::Revocations {
                version,
                ..Default::default()
            };
            let mut users = c
                .prepare("SELECT user, before_ms FROM flacon_revoked_users")
                .map_err(unavailable)?;
            for row in users
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(unavailable)?
            {
                let (user, before) = row.map_err(unavailable)?;
                revocations
                    .users
                    .insert(user, u64::try_from(before).unwrap_or(0));
            }
            let mut tokens = c
                .prepare("SELECT token, until FROM flacon_revoked_tokens WHERE until > ?1")
                .map_err(unavailable)?;
            for row in tokens
                .query_map(params![secs(now)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(unavailable)?
            {
                let (token, until) = row.map_err(unavailable)?;
                revocations
                    .tokens
                    .insert(token, u64::try_from(until).unwrap_or(0));
            }
            Ok(revocations)
        })
        .await
        .map(Some)
    }
}
