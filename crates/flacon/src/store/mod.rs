//! Server-side sessions (Flask-Session's job): a random id in the cookie, the data in a store.
//!
//! [`SessionStore`] is the contract every store meets, and [`conformance::check`] proves it:
//! run it against your own store to show it behaves as flacon's do.
//!
//! | store | for | feature |
//! |---|---|---|
//! | [`MemoryStore`] | one process, tests; bounded, evicts expired and oldest entries | always |
//! | `sqlite::SqliteStore` | one machine, persistent, embedded | `sqlite` |
//! | `redis::RedisStore` | many machines; Flask-Session's layout | `redis` |
//! | `postgres::PostgresStore` | many machines; Flask-Session's SQLAlchemy layout | `postgres` |

use std::future::Future;

pub mod conformance;
#[cfg(feature = "redis")]
mod deadline;
pub mod flask_session;
mod memory;
pub(crate) mod msgpack;
mod msgspec_json;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod users;

pub use memory::MemoryStore;
pub use users::UserSession;

/// Spawns a task on the current tokio runtime that calls
/// [`delete_expired`](SessionStore::delete_expired) every `every`, logging what it removed.
/// SQLite and memory stores need it (Redis expires keys itself); abort the handle to stop.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// let store = Arc::new(flacon::store::MemoryStore::new(1000));
/// let purge = flacon::store::purge_expired_every(store.clone(), std::time::Duration::from_secs(300));
/// purge.abort();
/// # }
/// ```
#[cfg(feature = "tokio")]
pub fn purge_expired_every<S: SessionStore>(
    store: std::sync::Arc<S>,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match store.delete_expired(now).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged expired sessions"),
                Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
            }
        }
    })
}

/// Waits `duration` without blocking the executor and without asking which runtime runs it
/// (a store may come with any): a thread sleeps and wakes the task.
pub(crate) async fn sleep_anywhere(duration: std::time::Duration) {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::task::{Poll, Waker};
    let state: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let sleeper = state.clone();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let mut state = sleeper.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = true;
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    });
    std::future::poll_fn(|cx| {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
}

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::value::Map;

/// A session id: 32 random bytes as 43 base64url characters, as Flask-Session makes them.
///
/// The id is a bearer credential, so `Debug` shows only its first characters.
///
/// ```
/// use flacon::store::SessionId;
/// let id = SessionId::generate().unwrap();
/// assert_eq!(id.as_str().len(), 43);
/// assert!(SessionId::parse(id.as_str()).is_some());
/// assert!(SessionId::parse("not an id!").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(String);

/// Flask-Session's `SESSION_ID_LENGTH`, in random bytes.
pub(crate) const DEFAULT_ID_BYTES: usize = 32;
/// 128 bits: below that an id could be guessed.
pub(crate) const MIN_ID_BYTES: usize = 16;
/// The most that fits [`SessionId::parse`]'s 128 characters.
pub(crate) const MAX_ID_BYTES: usize = 96;

impl SessionId {
    /// A fresh id from the operating system's random generator: 32 bytes, Flask-Session's
    /// default `SESSION_ID_LENGTH`.
    pub fn generate() -> Result<Self, StoreError> {
        Self::generate_of(DEFAULT_ID_BYTES)
    }

    /// A fresh id of `bytes` random bytes (Flask-Session's `SESSION_ID_LENGTH`, given to
    /// `secrets.token_urlsafe`), clamped to 16..=96 so that it stays unguessable and
    /// within [`parse`](Self::parse)'s 128 characters.
    ///
    /// ```
    /// let id = flacon::store::SessionId::generate_of(48).unwrap();
    /// assert_eq!(id.as_str().len(), 64);
    /// ```
    pub fn generate_of(bytes: usize) -> Result<Self, StoreError> {
        let mut raw = [0_u8; MAX_ID_BYTES];
        let raw = raw
            .get_mut(..bytes.clamp(MIN_ID_BYTES, MAX_ID_BYTES))
            .unwrap_or_default();
        getrandom::fill(raw)
            .map_err(|e| StoreError::unavailable(std::io::Error::other(e.to_string())))?;
        Ok(SessionId(URL_SAFE_NO_PAD.encode(raw)))
    }

    /// Accepts 1 to 128 base64url characters: Flask-Session's ids, or ones an older
    /// configuration made shorter or longer.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| SessionId(text.to_owned()))
    }

    /// A handle for this id that a page may show: an HMAC of the id under `key`, so that
    /// it names the session without being its credential (with `SESSION_USE_SIGNER` off the
    /// id itself is the cookie value). Map it back by comparing with the handles of the ids
    /// the server lists, as a "revoke this device" form does.
    ///
    /// ```
    /// use flacon::store::SessionId;
    /// use flacon::SecretKey;
    /// let key = SecretKey::from_text("the app's secret key, 2026");
    /// let id = SessionId::generate().unwrap();
    /// let handle = id.handle(&key);
    /// assert_eq!(handle.len(), 32);
    /// assert!(!handle.contains(id.as_str()));
    /// assert_eq!(handle, id.handle(&key));
    /// ```
    pub fn handle(&self, key: &crate::SecretKey) -> String {
        use hmac::Mac as _;
        type HmacSha256 = hmac::Hmac<sha2::Sha256>;
        let mut mac = HmacSha256::new_from_slice(key.as_bytes())
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(b"flacon session handle\0");
        mac.update(self.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        crate::value::hex_of(digest.get(..16).unwrap_or_default())
    }

    /// The id text, as it appears in the cookie and the store key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({}…)", self.0.get(..6).unwrap_or(&self.0))
    }
}

/// What a store keeps for one session.
///
/// ```
/// use flacon::store::Record;
/// use flacon::{Map, Value};
/// let mut data = Map::default();
/// data.insert("email".into(), Value::from("someone@example.com"));
/// let record = Record { data, expires_at: 1_700_000_000 + 31 * 24 * 3600 };
/// assert_eq!(record.data.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The session data, in insertion order.
    pub data: Map,
    /// When the record expires, in Unix seconds.
    pub expires_at: u64,
}

/// What a store held for a record when it was read, as the store compares it: the stored
/// bytes, or a digest of them (never a column or key of its own, so that Flask-Session's
/// records stay what Flask-Session writes). [`SessionStore::save_if`] lands only while the
/// record is still this.
///
/// ```
/// use flacon::store::Version;
/// assert_eq!(Version::new(b"stored".to_vec()), Version::new(b"stored".to_vec()));
/// assert_ne!(Version::new(b"stored".to_vec()), Version::new(b"other".to_vec()));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Version(std::sync::Arc<[u8]>);

impl Version {
    /// The version a store compares: its stored bytes or a digest of them.
    pub fn new(bytes: Vec<u8>) -> Self {
        Version(bytes.into())
    }

    /// What [`new`](Self::new) was given.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Version({} bytes)", self.0.len())
    }
}

/// What a compare-and-set [`save_if`](SessionStore::save_if) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The record was still as loaded, and now holds the new data, at this version.
    Saved(Version),
    /// Another request wrote the record since it was loaded: nothing was written.
    Changed,
    /// The record is gone (deleted, expired, moved to a new id): nothing was written.
    Gone,
}

/// A store operation failed. Never papered over: the request gets an explicit error response
/// rather than an empty session that could overwrite the real one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be read.
    #[error("session record is unreadable: {0}")]
    Corrupt(String),
    /// The store does not offer this operation (a custom store without a per-user index).
    #[error("this session store has no {0}")]
    Unsupported(&'static str),
    /// Overlapping requests of the session kept it from being written in time: its lock
    /// stayed held past the wait of an exclusive route, or its record kept changing under
    /// a save. Nothing was lost; retrying shortly succeeds.
    #[error("the session is busy with another request: {0}")]
    Busy(&'static str),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Unavailable`].
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(error))
    }
}

/// A page of session ids from [`SessionStore::scan`].
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// The ids on this page.
    pub ids: Vec<SessionId>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<String>,
}

impl ScanPage {
    /// A page of ids in ascending order, at most `page_size` of them: a full page continues
    /// after its last id.
    pub fn ordered(ids: Vec<SessionId>, page_size: usize) -> Self {
        let next = (ids.len() >= page_size.max(1))
            .then(|| ids.last().map(|id| id.as_str().to_owned()))
            .flatten();
        ScanPage { ids, next }
    }
}

/// Where server-side sessions live. All times are Unix seconds.
///
/// Every method is atomic with respect to the others on the same id; in particular
/// [`save`](SessionStore::save) never brings back a record that
/// [`delete`](SessionStore::delete) removed meanwhile.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new record under `id` unless that id exists. `Ok(false)` on a collision.
    fn create(
        &self,
        id: &SessionId,
        record: &Record,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The record under `id`, if it exists and has not expired. When `refresh_to` is given,
    /// a store that can extend the expiry in the same round trip does so and reports the new
    /// expiry; others return the stored one and the caller decides whether to
    /// [`touch`](SessionStore::touch).
    fn load(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Replaces the data and expiry of an existing record. `Ok(false)` if the record no
    /// longer exists: the write is dropped, never resurrecting a deleted session.
    fn save(
        &self,
        id: &SessionId,
        record: &Record,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// [`load`](SessionStore::load), with the [`Version`] a later
    /// [`save_if`](SessionStore::save_if) compares against. A store that cannot compare
    /// answers an empty version (the default), and its saves are last-writer-wins.
    fn load_versioned(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<(Record, Version)>, StoreError>> + Send {
        async move {
            Ok(self
                .load(id, refresh_to, now)
                .await?
                .map(|record| (record, Version::default())))
        }
    }

    /// Compare-and-set: replaces the record only while it is still `expected` (what
    /// [`load_versioned`](SessionStore::load_versioned) returned), in one atomic step, so that
    /// a request never erases what an overlapping one wrote. The default, for a store that
    /// cannot compare, is [`save`](SessionStore::save).
    fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send {
        let _ = expected;
        async move {
            Ok(if self.save(id, record, now).await? {
                SaveOutcome::Saved(Version::default())
            } else {
                SaveOutcome::Gone
            })
        }
    }

    /// Takes the per-session lock of `id` for `token` unless another token holds it and
    /// its hold has not run out; the hold ends at `until_ms` (Unix milliseconds) even if
    /// its holder dies. `Ok(false)` when someone else holds it. Stores without locks answer
    /// [`StoreError::Unsupported`].
    fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (id, token, until_ms, now_ms);
        async { Err(StoreError::Unsupported("per-session lock")) }
    }

    /// Releases the lock of `id` if `token` still holds it (never someone else's).
    fn unlock(
        &self,
        id: &SessionId,
        token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (id, token);
        async { Err(StoreError::Unsupported("per-session lock")) }
    }

    /// Extends the expiry of an existing record; `Ok(false)` if it does not exist.
    fn touch(
        &self,
        id: &SessionId,
        expires_at: u64,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the record (no error if it is already gone).
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves the record from `old` to `new` (against session fixation). `Ok(false)` if `old`
    /// does not exist or `new` is taken.
    fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes expired records, a bounded batch at a time; returns how many went.
    fn delete_expired(&self, now: u64) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// A page of the ids in the store, for administration (`flacon store list`).
    fn scan(
        &self,
        cursor: Option<String>,
        page_size: usize,
    ) -> impl Future<Output = Result<ScanPage, StoreError>> + Send;

    /// Files session `id` under `user`, signed in at `created`, in the per-user index
    /// ([`users`] lists and revokes through it). The index may outlive a record (an
    /// expired one): readers check the record. Stores without an index answer
    /// [`StoreError::Unsupported`].
    fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (user, id, created, expires_at);
        async { Err(StoreError::Unsupported("per-user index")) }
    }

    /// The ids filed under `user`, with the time each was signed in, oldest first.
    fn user_session_ids(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<(SessionId, u64)>, StoreError>> + Send {
        let _ = user;
        async { Err(StoreError::Unsupported("per-user index")) }
    }

    /// Takes `id` out of `user`'s index (no error if it is not there).
    fn unindex_user_session(
        &self,
        user: &str,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (user, id);
        async { Err(StoreError::Unsupported("per-user index")) }
    }
}

/// A shared store is a store: keep one handle for the layer and one for maintenance.
impl<S: SessionStore> SessionStore for std::sync::Arc<S> {
    fn create(
        &self,
        id: &SessionId,
        record: &Record,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).create(id, record, now)
    }
    fn load(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
        (**self).load(id, refresh_to, now)
    }
    fn save(
        &self,
        id: &SessionId,
        record: &Record,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).save(id, record, now)
    }
    fn load_versioned(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<(Record, Version)>, StoreError>> + Send {
        (**self).load_versioned(id, refresh_to, now)
    }
    fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send {
        (**self).save_if(id, record, expected, now)
    }
    fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).try_lock(id, token, until_ms, now_ms)
    }
    fn unlock(
        &self,
        id: &SessionId,
        token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).unlock(id, token)
    }
    fn touch(
        &self,
        id: &SessionId,
        expires_at: u64,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).touch(id, expires_at, now)
    }
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(id)
    }
    fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).change_id(old, new, now)
    }
    fn delete_expired(&self, now: u64) -> impl Future<Output = Result<usize, StoreError>> + Send {
        (**self).delete_expired(now)
    }
    fn scan(
        &self,
        cursor: Option<String>,
        page_size: usize,
    ) -> impl Future<Output = Result<ScanPage, StoreError>> + Send {
        (**self).scan(cursor, page_size)
    }
    fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).index_user_session(user, id, created, expires_at)
    }
    fn user_session_ids(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<(SessionId, u64)>, StoreError>> + Send {
        (**self).user_session_ids(user)
    }
    fn unindex_user_session(
        &self,
        user: &str,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).unindex_user_session(user, id)
    }
}
