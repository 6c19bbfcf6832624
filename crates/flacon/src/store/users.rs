//! A user's server-side sessions, through the store's per-user index: list them (a "your
//! devices" page), revoke one, all, or all but the current one ("log out my other devices").
//!
//! [`Session::login`](crate::Session::login) files a session under its user; the index is
//! checked against the records on every read, so an entry whose record expired or was
//! deleted is dropped, never listed.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), flacon::store::StoreError> {
//! use flacon::store::{users, MemoryStore};
//! let store = MemoryStore::new(100);
//! let now = 1_700_000_000;
//! assert!(users::sessions_of(&store, "ada", now).await?.is_empty());
//! assert_eq!(users::revoke_all(&store, "ada", None).await?, 0);
//! # Ok(()) }
//! ```

use super::{SessionId, SessionStore, StoreError};
use crate::policy::expiry::SEEN_KEY;
use crate::session::{login_time_of, user_of};
use crate::value::Value;

/// One of a user's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSession {
    /// Its id.
    pub id: SessionId,
    /// When the user signed in there (Unix seconds).
    pub created: u64,
    /// When it was last used (Unix seconds; to the minute, or to the second while an idle
    /// timeout is on).
    pub last_seen: u64,
    /// When it expires unless used again (Unix seconds).
    pub expires_at: u64,
}

/// `user`'s live sessions, oldest sign-in first. Entries whose record is gone, or now
/// belongs to someone else, are taken out of the index.
pub async fn sessions_of<S: SessionStore>(
    store: &S,
    user: &str,
    now: u64,
) -> Result<Vec<UserSession>, StoreError> {
    let mut sessions = Vec::new();
    for (id, created) in store.user_session_ids(user).await? {
        let record = match store.load(&id, None, now).await {
            Ok(record) => record,
            // An unreadable record is nobody's live session.
            Err(StoreError::Corrupt(_)) => None,
            Err(error) => return Err(error),
        };
        let Some(record) = record.filter(|r| user_of(&r.data).as_deref() == Some(user)) else {
            store.unindex_user_session(user, &id).await?;
            continue;
        };
        let created = login_time_of(&record.data).map_or(created, |ms| ms / 1000);
        let last_seen = match record.data.get(SEEN_KEY) {
            Some(Value::Int(at)) => u64::try_from(*at).unwrap_or(created),
            _ => created,
        };
        sessions.push(UserSession {
            id,
            created,
            last_seen: last_seen.max(created),
            expires_at: record.expires_at,
        });
    }
    Ok(sessions)
}

/// Ends `user`'s session `id`; `false` when `id` is not one of theirs (nothing is done: a
/// user cannot end someone else's session by naming it).
pub async fn revoke<S: SessionStore>(
    store: &S,
    user: &str,
    id: &SessionId,
) -> Result<bool, StoreError> {
    let theirs = store
        .user_session_ids(user)
        .await?
        .iter()
        .any(|(filed, _)| filed == id);
    if !theirs {
        return Ok(false);
    }
    store.delete(id).await?;
    store.unindex_user_session(user, id).await?;
    Ok(true)
}

/// Ends every session of `user` but `except` (the current one, for "log out my other
/// devices"); how many were filed and are now gone.
pub async fn revoke_all<S: SessionStore>(
    store: &S,
    user: &str,
    except: Option<&SessionId>,
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for (id, _) in store.user_session_ids(user).await? {
        if Some(&id) == except {
            continue;
        }
        store.delete(&id).await?;
        store.unindex_user_session(user, &id).await?;
        revoked += 1;
    }
    Ok(revoked)
}
