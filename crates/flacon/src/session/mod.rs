//! [`Session`]: the per-request handle to the session, Flask's `session` with types.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::store::SessionId;
use crate::typed::{self, ValueError};
use crate::value::{Map, Value};

mod flash;
mod login;
mod state;

pub use flash::{Flash, FLASHES_KEY};
#[cfg(feature = "tokio")]
pub(crate) use login::{generation_of, token_of, GENERATION_KEY};
pub(crate) use login::{
    login_time_of, split_stamp, user_of, CSRF_SECRET_KEY, LOGIN_KEY, TOKEN_KEY,
};
pub use login::{FRESH_KEY, USER_KEY};
use state::State;
pub(crate) use state::{
    Ended, Ender, Exclusive, Hooks, Lease, Loaded, LoadedAs, Loader, Outcome, Pending, Saver,
    Written,
};

/// The key Flask stores permanence under, inside the session itself.
pub const PERMANENT_KEY: &str = "_permanent";

/// The session's store could not be reached; the layer answers with its store-error
/// response (503 by default).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the session store is unavailable")]
pub struct SessionUnavailable;

/// The session of one request: a dict of [`Value`]s with Flask's `permanent`, `modified` and
/// `accessed` flags.
///
/// Cheap to clone (all clones share one session), `Send + Sync`, and never held locked
/// across an `.await`, so any number of extractors in one handler cannot deadlock. The
/// cookie is verified only when the session is first read or written.
///
/// Unlike Flask, writes are detected without `session.modified = True`: [`Session::update`]
/// and [`Session::modify`] compare before and after, and assigning an equal value is not a
/// change.
///
/// ```
/// use flacon::Session;
/// let session = Session::detached();
/// session.insert("email", "someone@example.com").unwrap();
/// session.modify("cart", |cart: &mut Vec<String>| cart.push("bike".into())).unwrap();
/// assert_eq!(session.get::<Vec<String>>("cart").unwrap(), ["bike"]);
/// assert!(session.is_modified());
/// ```
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Session")
            .field("loaded", &state.pending.is_none())
            .field("accessed", &state.accessed)
            .field("modified", &state.modified)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// An empty session attached to no request (for tests and examples).
    pub fn detached() -> Self {
        Self::with_state(State::default())
    }

    /// The id of the server-side session this request carried, once loaded: what the store
    /// keeps it under (for logs, or to tell the current device from the others). `None` for
    /// a cookie session, and for a session not stored yet (a new visitor's gets its id when
    /// the response saves it).
    ///
    /// ```
    /// let session = flacon::Session::detached();
    /// assert_eq!(session.id(), None);
    /// ```
    pub fn id(&self) -> Option<SessionId> {
        self.lock().stored_id.clone()
    }

    /// Gives a server-side session a new id at the end of the request, keeping its data and
    /// killing the old id: call it at login, against session fixation. (A cookie session
    /// has no id; this is a no-op there.)
    pub fn cycle_id(&self) {
        self.lock().cycle_id = true;
    }

    fn with_state(state: State) -> Self {
        Session {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked mid-write leaves the data as it was; keep serving it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the loaded data, marking the session accessed.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Map) -> R) -> R {
        let mut state = self.lock();
        state.accessed = true;
        f(state.load())
    }

    /// Runs `f` on the loaded data; the session is modified if `f` says it changed something.
    fn write<R>(&self, f: impl FnOnce(&mut Map, bool) -> (R, bool)) -> R {
        let mut state = self.lock();
        state.accessed = true;
        let rewrite = state.rewrite_on_equal_assignment;
        if state.version.is_some() && state.base.is_none() {
            // The base a compare-and-set save merges from, taken before the first change.
            state.base = Some(state.load().clone());
        }
        let (result, changed) = f(state.load(), rewrite);
        state.modified |= changed;
        result
    }

    /// The value at `key` as a `T`; `None` when missing or not convertible to `T`.
    ///
    /// A value that is there but not a `T` (a schema change after a deploy, say) is logged
    /// at `warn`, once per key, with the serde error; use [`try_get`](Self::try_get) to
    /// tell "missing" from "not a `T`" in code.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.try_get(key) {
            Ok(value) => value,
            Err(error) => {
                log_type_mismatch::<T>(key, &error);
                None
            }
        }
    }

    /// The value at `key` as a `T`, with the conversion error when it is not one.
    pub fn try_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.read(|data| data.get(key).map(typed::from_value).transpose())
    }

    /// A copy of the raw value at `key`, with Flask's types intact.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.read(|data| data.get(key).cloned())
    }

    /// Stores `value` at `key`. Assigning the value already there is not a change.
    pub fn insert<T: Serialize + ?Sized>(
        &self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), ValueError> {
        let value = typed::to_value(value)?;
        self.insert_value(key, value);
        Ok(())
    }

    /// Stores a raw [`Value`] (a tuple, bytes, Markup, UUID or datetime included).
    pub fn insert_value(&self, key: impl Into<String>, value: Value) {
        let key = key.into();
        self.write(|data, rewrite| {
            let changed = rewrite || data.get(&key) != Some(&value);
            data.insert(key, value);
            ((), changed)
        });
    }

    /// Removes `key` and returns its value; a change only if it was there.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.write(|data, _| {
            let old = data.shift_remove(key);
            let changed = old.is_some();
            (old, changed)
        })
    }

    /// Empties the session; the response then deletes the cookie (as Flask, even when the
    /// session was already empty, which also clears a cookie that failed to verify).
    pub fn clear(&self) {
        self.write(|data, _| {
            data.clear();
            ((), true)
        });
    }

    /// Edits the session in place; it counts as modified if the data differs afterwards.
    /// This replaces Flask's `session.modified = True` after an in-place change.
    ///
    /// `f` works on a copy taken before it runs and the lock is not held meanwhile, so `f` may
    /// read the session through any handle (it sees the data as it was) without deadlocking.
    pub fn update<R>(&self, f: impl FnOnce(&mut Map) -> R) -> R {
        let mut working = self.read(Map::clone);
        let result = f(&mut working);
        self.write(|data, _| {
            let changed = *data != working;
            if changed {
                *data = working;
            }
            (result, changed)
        })
    }

    /// Edits the value at `key` as a `T` (starting from `T::default()` when missing) and
    /// stores it back; a change only if the stored value differs. Like [`Session::update`],
    /// `f` runs without the lock held.
    pub fn modify<T, R>(&self, key: &str, f: impl FnOnce(&mut T) -> R) -> Result<R, ValueError>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        let mut typed_value: T = match self.get_value(key) {
            Some(v) => typed::from_value(&v)?,
            None => T::default(),
        };
        let result = f(&mut typed_value);
        let new = typed::to_value(&typed_value)?;
        self.write(|data, _| {
            let changed = data.get(key) != Some(&new);
            if changed {
                data.insert(key.to_owned(), new);
            }
            (Ok(result), changed)
        })
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read(|data| data.contains_key(key))
    }

    /// The number of keys the application stored. Flask's `_permanent` flag lives in the
    /// data too (Flask needs it there) but is not counted: read it with
    /// [`permanent`](Self::permanent). Nor are flacon's `_flacon_*` bookkeeping keys (a
    /// session's start and last use, while timeouts are on).
    pub fn len(&self) -> usize {
        self.read(|data| user_keys(data).count())
    }

    /// Whether the application stored nothing (a new server-side session, which carries
    /// only `_permanent`, is empty).
    pub fn is_empty(&self) -> bool {
        self.read(|data| user_keys(data).next().is_none())
    }

    /// The keys the application stored, in order (`_permanent` left out).
    pub fn keys(&self) -> Vec<String> {
        self.read(|data| user_keys(data).cloned().collect())
    }

    /// A copy of the session as stored, Flask's `_permanent` flag included.
    pub fn snapshot(&self) -> Map {
        self.read(Map::clone)
    }

    /// Flask's `session.permanent`: stored as `_permanent` inside the session.
    pub fn permanent(&self) -> bool {
        self.read(is_permanent)
    }

    /// Makes the session permanent (a cookie with `Expires`) or a browser-session one.
    pub fn set_permanent(&self, permanent: bool) {
        self.insert_value(PERMANENT_KEY, Value::Bool(permanent));
    }

    /// Flask's `session.modified = True`, for changes made through a copy.
    pub fn mark_modified(&self) {
        self.lock().modified = true;
    }

    /// Whether the session will be written back.
    pub fn is_modified(&self) -> bool {
        self.lock().modified
    }

    /// Whether anything read or wrote the session (the response then carries
    /// `Vary: Cookie`).
    pub fn is_accessed(&self) -> bool {
        self.lock().accessed
    }
}

/// Logs that the value at `key` is not a `T`: at `warn` the first time for each key (up to
/// [`MISMATCH_KEYS_REMEMBERED`] keys), at `debug` after that, so that a wrong type in a hot
/// handler cannot flood the log.
fn log_type_mismatch<T>(key: &str, error: &ValueError) {
    static WARNED: std::sync::OnceLock<Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let first = {
        let mut warned = WARNED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        warned.len() < MISMATCH_KEYS_REMEMBERED && warned.insert(key.to_owned())
    };
    let wanted = std::any::type_name::<T>();
    if first {
        tracing::warn!(key, wanted, %error, "session value has another type than the handler reads; Session::get gives None");
    } else {
        tracing::debug!(key, wanted, %error, "session value has another type than the handler reads");
    }
}

/// How many keys [`log_type_mismatch`] remembers having warned about.
const MISMATCH_KEYS_REMEMBERED: usize = 256;

/// The keys of `data` that are the application's, not Flask's `_permanent` flag nor
/// flacon's own bookkeeping.
fn user_keys(data: &Map) -> impl Iterator<Item = &String> {
    data.keys()
        .filter(|k| *k != PERMANENT_KEY && !is_bookkeeping(k))
}

/// flacon's own keys (`_flacon_created`, ...): a session holding only these holds nothing.
pub(crate) fn is_bookkeeping(key: &str) -> bool {
    key.starts_with("_flacon_")
}

/// Whether a cookie session holds nothing to send: Flask sends `{"_permanent": true}`, but
/// not flacon's bookkeeping alone.
pub(crate) fn holds_nothing(data: &Map) -> bool {
    data.keys().all(|k| is_bookkeeping(k))
}

/// Flask's `session.permanent` for a session's data: a truthy `_permanent`.
pub(crate) fn is_permanent(data: &Map) -> bool {
    data.get(PERMANENT_KEY).is_some_and(Value::is_truthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyMatch;

    fn loaded(data: Map) -> Session {
        Session::lazy(
            Some(Pending::Sync(Box::new(move || {
                Ok(Loaded {
                    data,
                    signed_with: Some(KeyMatch::Current),
                    ..Loaded::default()
                })
            }))),
            Map::default(),
            false,
            Hooks::default(),
        )
    }

    #[test]
    fn reads_mark_accessed_but_not_modified() {
        let mut data = Map::default();
        data.insert("email".into(), Value::from("a@b.c"));
        let session = loaded(data);
        assert!(!session.is_accessed());
        assert_eq!(session.get::<String>("email").as_deref(), Some("a@b.c"));
        assert!(session.is_accessed());
        assert!(!session.is_modified());
    }

    #[test]
    fn equal_writes_are_not_changes_unless_configured() {
        let session = Session::detached();
        session.insert("a", &1).unwrap();
        assert!(session.is_modified());
        let mut data = Map::default();
        data.insert("a".into(), Value::Int(1));
        let session = loaded(data.clone());
        session.insert("a", &1).unwrap();
        session.update(|m| m.insert("a".into(), Value::Int(1)));
        assert!(session.remove("missing").is_none());
        assert!(!session.is_modified());
        let flask_like = Session::lazy(
            Some(Pending::Sync(Box::new(move || {
                Ok(Loaded {
                    data,
                    ..Loaded::default()
                })
            }))),
            Map::default(),
            true,
            Hooks::default(),
        );
        flask_like.insert("a", &1).unwrap();
        assert!(flask_like.is_modified());
    }

    #[test]
    fn in_place_changes_are_detected() {
        let session = Session::detached();
        session
            .modify("cart", |cart: &mut Vec<String>| cart.push("bike".into()))
            .unwrap();
        assert!(session.is_modified());
        assert!(session.modify("cart", |n: &mut u32| *n += 1).is_err());
        assert_eq!(session.get::<Vec<String>>("cart").unwrap(), ["bike"]);
    }

    #[test]
    fn reading_inside_an_update_does_not_deadlock() {
        let a = Session::detached();
        let b = a.clone();
        a.insert("n", &1).unwrap();
        let seen = a.update(|data| {
            data.insert("m".into(), Value::Int(2));
            b.get::<i64>("n")
        });
        assert_eq!(seen, Some(1));
        let doubled = a.modify("n", |n: &mut i64| {
            *n *= 2;
            b.get::<i64>("n")
        });
        assert_eq!(
            doubled.unwrap(),
            Some(1),
            "the closure sees the data as it was"
        );
        assert_eq!(a.get::<i64>("n"), Some(2));
        assert_eq!(a.get::<i64>("m"), Some(2));
    }

    #[test]
    fn nested_handles_do_not_deadlock() {
        let a = Session::detached();
        let b = a.clone();
        a.update(|_| ());
        b.insert("x", &1).unwrap();
        assert_eq!(a.get::<i64>("x"), Some(1));
    }

    #[test]
    fn permanence_lives_in_the_data() {
        let session = Session::detached();
        assert!(!session.permanent());
        session.set_permanent(true);
        assert_eq!(session.get_value(PERMANENT_KEY), Some(Value::Bool(true)));
        assert!(session.permanent());
    }

    #[test]
    fn handle_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Session>();
    }
}
