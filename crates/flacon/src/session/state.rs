//! The lazy-load state machine behind a [`Session`]: a session starts `Pending` (a cookie to
//! decode, or a store to ask), is loaded on first use (a cookie) or by the extractor (a
//! store), and ends as the [`Outcome`] the policy decides the response from.

use std::future::Future;
use std::pin::Pin;
use std::task::{Poll, Waker};

use std::sync::Arc;

use super::{Session, SessionUnavailable};
use crate::keys::KeyMatch;
use crate::policy::Decision;
use crate::store::{SessionId, StoreError, Version};
use crate::value::Map;

/// What a lazily loaded session turned out to hold.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) data: Map,
    /// Which key signed the cookie, when there was a valid one.
    pub(crate) signed_with: Option<KeyMatch>,
    /// For a cookie session: when its cookie was signed (Unix seconds), the start of a
    /// session that carries no start of its own.
    pub(crate) signed_at: Option<u64>,
    /// For a server-side session found in its store: when the record expires.
    pub(crate) stored_until: Option<u64>,
    /// For a server-side session found in its store: its id.
    pub(crate) stored_id: Option<SessionId>,
    /// For a cookie session: the cookie that verified, so an unchanged session is re-signed
    /// from its payload segment without being serialized and compressed again.
    pub(crate) verified_cookie: Option<Arc<str>>,
    /// For a server-side session found in its store: the version of the record as loaded,
    /// which its save compares against.
    pub(crate) version: Option<Version>,
    /// For a session of an exclusive route: the lock it holds until its response.
    pub(crate) lease: Option<Lease>,
}

/// A stored record as a request loaded it: the base of a three-way merge, and the version a
/// compare-and-set save expects.
#[derive(Debug, Clone)]
pub(crate) struct LoadedAs {
    pub(crate) data: Map,
    pub(crate) version: Version,
}

/// A per-session lock held by this request.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) id: SessionId,
    pub(crate) token: String,
}

/// How long an exclusive route waits for its session's lock, and holds it at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exclusive {
    pub(crate) wait: std::time::Duration,
    pub(crate) hold: std::time::Duration,
}

pub(crate) type Loader = Box<dyn FnOnce() -> Result<Loaded, Arc<StoreError>> + Send>;
/// Fetches a server-side session; given an [`Exclusive`], under its lock.
pub(crate) type AsyncLoader = Box<
    dyn FnOnce(
            Option<Exclusive>,
        ) -> Pin<Box<dyn Future<Output = Result<Loaded, Arc<StoreError>>> + Send>>
        + Send,
>;

/// Writes a server-side session to its store now ([`Session::save`]); returns what the
/// response must carry for it.
pub(crate) type Saver = Arc<
    dyn Fn(Session) -> Pin<Box<dyn Future<Output = Result<(), Arc<StoreError>>> + Send>>
        + Send
        + Sync,
>;

/// Ends a session for good ([`Session::logout`]): given what it held, revokes it where the
/// layer keeps such things (the store's record and index, the cookie registry).
pub(crate) type Ender = Arc<
    dyn Fn(Ended) -> Pin<Box<dyn Future<Output = Result<(), Arc<StoreError>>> + Send>>
        + Send
        + Sync,
>;

/// What a session held when [`Session::logout`] ended it.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) data: Map,
    pub(crate) id: Option<SessionId>,
}

/// The layer's ways back from a session to its policy.
#[derive(Default, Clone)]
pub(crate) struct Hooks {
    pub(crate) saver: Option<Saver>,
    pub(crate) ender: Option<Ender>,
}

/// How the session's data will be obtained on first use.
pub(crate) enum Pending {
    /// Decoding a cookie: done on the spot.
    Sync(Loader),
    /// Decoding a cookie that a revocation registry must clear: done by [`Session::load`]
    /// (the extractor), so that a registry that cannot answer is an error the handler sees,
    /// not a session that looks empty.
    Checked(Loader),
    /// Fetching from a store: done by [`Session::load`] (the extractor calls it).
    Async(AsyncLoader),
}

#[derive(Default)]
pub(super) struct State {
    pub(super) pending: Option<Pending>,
    pub(super) loading: bool,
    /// Loads of the same session waiting on the one in progress.
    pub(super) waiters: Vec<Waker>,
    pub(super) failed: bool,
    /// Why the store failed, when it did.
    pub(super) cause: Option<Arc<StoreError>>,
    pub(super) hooks: Hooks,
    /// What an explicit save decided the response must carry.
    pub(super) saved: Option<Decision>,
    pub(super) data: Map,
    pub(super) signed_with: Option<KeyMatch>,
    pub(super) signed_at: Option<u64>,
    pub(super) stored_until: Option<u64>,
    pub(super) stored_id: Option<SessionId>,
    pub(super) verified_cookie: Option<Arc<str>>,
    pub(super) version: Option<Version>,
    /// The data as loaded, kept by the first write of a session with a version: the base a
    /// save merges from. Reads copy nothing.
    pub(super) base: Option<Map>,
    pub(super) exclusive: Option<Exclusive>,
    pub(super) lease: Option<Lease>,
    pub(super) accessed: bool,
    pub(super) modified: bool,
    pub(super) cycle_id: bool,
    /// [`Session::login`] was called: the layer records when, and files the session.
    pub(super) login: bool,
    pub(super) rewrite_on_equal_assignment: bool,
    /// The flashed messages this request took out of the session (Flask keeps them on the
    /// request so that every `get_flashed_messages` call of a request sees the same).
    pub(super) flashes: Option<Vec<(String, String)>>,
}

impl State {
    /// The store failed, and said why.
    pub(super) fn fail(&mut self, cause: Arc<StoreError>) {
        self.failed = true;
        self.cause = Some(cause);
    }

    /// The session's flags with `data`, what an explicit save decided, and the cookie that
    /// verified, as the policy decides from them.
    fn outcome(
        &self,
        data: Map,
        saved: Option<Decision>,
        verified_cookie: Option<Arc<str>>,
        stored: (Option<Version>, Option<Map>),
        lease: Option<Lease>,
    ) -> Outcome {
        Outcome {
            data,
            accessed: self.accessed,
            modified: self.modified,
            failed: self.failed,
            cause: self.cause.clone(),
            saved,
            stored_id: self.stored_id.clone(),
            cycle_id: self.cycle_id,
            login: self.login,
            signed_with: self.signed_with,
            signed_at: self.signed_at,
            stored_until: self.stored_until,
            verified_cookie,
            version: stored.0,
            base: stored.1,
            lease,
        }
    }

    /// Takes what a loader returned: the data, or the store's failure.
    fn take_loaded(&mut self, loaded: Result<Loaded, Arc<StoreError>>) {
        match loaded {
            Ok(loaded) => self.accept(loaded),
            Err(cause) => self.fail(cause),
        }
    }

    fn load_result(&self) -> Result<(), SessionUnavailable> {
        if self.failed {
            Err(SessionUnavailable)
        } else {
            Ok(())
        }
    }

    /// The load is over, one way or another: whoever waits on it goes on.
    fn finish_loading(&mut self) {
        self.loading = false;
        for waiter in self.waiters.drain(..) {
            waiter.wake();
        }
    }

    pub(super) fn accept(&mut self, loaded: Loaded) {
        self.data = loaded.data;
        self.signed_with = loaded.signed_with;
        self.signed_at = loaded.signed_at;
        self.stored_until = loaded.stored_until;
        self.stored_id = loaded.stored_id;
        self.verified_cookie = loaded.verified_cookie;
        self.version = loaded.version;
        self.base = None;
        self.lease = loaded.lease;
    }

    pub(super) fn load(&mut self) -> &mut Map {
        match self.pending.take() {
            Some(Pending::Sync(loader) | Pending::Checked(loader)) => self.take_loaded(loader()),
            Some(Pending::Async(_)) => {
                // Serving an empty stand-in could later overwrite the real session.
                tracing::error!("a server-side session was used before it was loaded; the request fails instead");
                self.failed = true;
            }
            None if self.loading => self.failed = true,
            None => {}
        }
        &mut self.data
    }
}

/// A loaded session as the response sees it: the data and its flags. (An untouched session
/// that nothing requires loading has no outcome.)
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) data: Map,
    pub(crate) accessed: bool,
    pub(crate) modified: bool,
    /// The store failed (or the session was used before loading): write nothing.
    pub(crate) failed: bool,
    /// Why, when the store said.
    pub(crate) cause: Option<Arc<StoreError>>,
    /// What an explicit save already decided.
    pub(crate) saved: Option<Decision>,
    pub(crate) stored_id: Option<SessionId>,
    pub(crate) cycle_id: bool,
    pub(crate) login: bool,
    pub(crate) signed_with: Option<KeyMatch>,
    pub(crate) signed_at: Option<u64>,
    pub(crate) stored_until: Option<u64>,
    pub(crate) verified_cookie: Option<Arc<str>>,
    /// The version of the record as loaded (or as last saved), for a compare-and-set save.
    pub(crate) version: Option<Version>,
    /// The data as loaded, when the handler changed it (else it is the data itself).
    pub(crate) base: Option<Map>,
    /// The lock to release once the response is decided (only the final outcome has it).
    pub(crate) lease: Option<Lease>,
}

impl Session {
    pub(crate) fn lazy(
        pending: Option<Pending>,
        initial: Map,
        rewrite_on_equal_assignment: bool,
        hooks: Hooks,
    ) -> Self {
        Self::with_state(State {
            pending,
            data: initial,
            rewrite_on_equal_assignment,
            hooks,
            ..State::default()
        })
    }

    /// Writes a server-side session to its store now, instead of after the handler, so the
    /// handler sees a failure before it does anything it cannot take back (send an email,
    /// charge a card). The response still carries the cookie. Changes made after `save` are
    /// saved with the response as usual. A no-op for cookie sessions (the cookie is the
    /// store, written with the response).
    pub async fn save(&self) -> Result<(), SessionUnavailable> {
        let saver = {
            let state = self.lock();
            if state.failed {
                return Err(SessionUnavailable);
            }
            state.hooks.saver.clone()
        };
        let Some(saver) = saver else {
            return Ok(());
        };
        saver(self.clone()).await.map_err(|cause| {
            self.lock().fail(cause);
            SessionUnavailable
        })
    }

    /// The state to save now: the data as it is (kept in the session) and its flags, which
    /// are cleared as the save takes them over.
    pub(crate) fn outcome_to_save(&self) -> Outcome {
        let mut state = self.lock();
        let data = state.load().clone();
        let stored = (state.version.clone(), state.base.clone());
        let outcome = state.outcome(data, None, None, stored, None);
        state.modified = false;
        state.cycle_id = false;
        state.login = false;
        outcome
    }

    /// Records what an explicit save did: the record's id and expiry, what the response
    /// carries.
    pub(crate) fn saved_as(&self, stored: Option<Written>, decision: Decision) {
        let mut state = self.lock();
        if let Some(written) = stored {
            state.stored_id = Some(written.id);
            state.stored_until = Some(written.expires_at);
            if let Some(saved) = written.saved {
                // What overlapping requests wrote meanwhile is merged in: the handler goes
                // on from the record as it now stands, so that its next save removes
                // nothing they added.
                state.data = saved.data;
                state.version = Some(saved.version);
                state.base = None;
            }
        }
        state.saved = Some(decision);
    }

    /// Marks a session not yet loaded to be loaded under its per-session lock
    /// ([`SessionMode::Exclusive`](crate::http::SessionMode)); `false` if it is too late.
    pub(crate) fn make_exclusive(&self, exclusive: Exclusive) -> bool {
        let mut state = self.lock();
        let pending = matches!(state.pending, Some(Pending::Async(_)));
        if pending {
            state.exclusive = Some(exclusive);
        }
        pending || state.lease.is_some()
    }

    /// Loads a server-side session from its store; a no-op for cookie sessions and for a
    /// session already loaded. The axum extractor calls this, so handlers need not.
    pub async fn load(&self) -> Result<(), SessionUnavailable> {
        // `Err(None)`: another extractor of the same request is loading it.
        let loader = {
            let mut state = self.lock();
            match state.pending.take() {
                Some(Pending::Async(loader)) => {
                    state.loading = true;
                    Ok((loader, state.exclusive))
                }
                Some(Pending::Checked(loader)) => {
                    state.take_loaded(loader());
                    Err(Some(state.load_result()))
                }
                other => {
                    state.pending = other;
                    Err((!state.loading).then(|| state.load_result()))
                }
            }
        };
        let (loader, exclusive) = match loader {
            Ok(loader) => loader,
            Err(Some(result)) => return result,
            // actix polls a handler's extractors together: wait for that load rather than
            // report early.
            Err(None) => {
                return std::future::poll_fn(|cx| {
                    let mut state = self.lock();
                    if state.loading {
                        state.waiters.push(cx.waker().clone());
                        return Poll::Pending;
                    }
                    Poll::Ready(state.load_result())
                })
                .await
            }
        };
        let mut guard = LoadGuard(Some(self));
        let result = loader(exclusive).await;
        guard.0 = None;
        let mut state = self.lock();
        state.finish_loading();
        state.take_loaded(result);
        state.load_result()
    }

    /// The state the response needs, loading the session only if `load` is set or it was
    /// already touched.
    pub(crate) fn outcome(&self, load_untouched: impl FnOnce() -> bool) -> Option<Outcome> {
        let mut state = self.lock();
        let untouched = state.pending.is_some();
        if untouched && !load_untouched() {
            return None;
        }
        let data = std::mem::take(state.load());
        let saved = state.saved.take();
        let verified_cookie = state.verified_cookie.take();
        let stored = (state.version.take(), state.base.take());
        let lease = state.lease.take();
        Some(state.outcome(data, saved, verified_cookie, stored, lease))
    }
}

/// What a save wrote: the record's id and expiry, and the record as stored when the save
/// was compare-and-set.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) id: SessionId,
    pub(crate) expires_at: u64,
    pub(crate) saved: Option<LoadedAs>,
}

/// A load dropped before its store answered (the request was cancelled) leaves a session
/// that can never load: it fails, and whoever waited on the load is woken to see that.
struct LoadGuard<'a>(Option<&'a Session>);

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0 {
            let mut state = session.lock();
            state.failed = true;
            state.finish_loading();
        }
    }
}
