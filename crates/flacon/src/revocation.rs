//! Revoking signed cookies: a signed cookie is valid wherever it is replayed until it
//! expires, so logging out cannot take it back by itself. A [`RevocationRegistry`] keeps, in
//! a store every process shares (SQLite, PostgreSQL or Redis), per user how many times that
//! user logged out everywhere and when last ("log out everywhere"), and the random ids of
//! single sessions that logged out, each until the cookie would have expired anyway.
//!
//! The request path never asks the store: it reads an in-process view that a background
//! task refreshes every quarter of [`max_staleness`](RevocationRegistry::start_with) (one
//! second by default), so a revocation made by any process is seen by every other within
//! that bound. A refresh reads only what changed since the version the view holds (every
//! change is stamped with the registry's version), so its cost does not grow with the
//! registry; denials past their expiry are purged from the store in batches, by an index on
//! the expiry. A view older than the bound (the store is down) is never trusted: requests of
//! signed-in sessions get the store-error response until the view is fresh again, and
//! sessions nobody signed in to are not affected.
//!
//! A registry has a generation: the time it was created, kept with it. A registry that lost
//! its data (a Redis restarted without persistence, an evicted key) starts a new one, and
//! every sign-in older than the new generation is void: the revocations it held are gone, so
//! none of those sign-ins can be trusted. A store that went back to an older version of the
//! same generation (a restore from a backup) is read as it is, and every process that saw it
//! go back voids the sign-ins made before that moment.
//!
//! Sign-ins are compared with a user's "log out everywhere" by count, not by clock: a sign-in
//! records how many the user had (`_flacon_gen`), and is void once there are more, whatever
//! the clocks of the processes say. Sessions signed in before that count existed are
//! compared by time, as before.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), flacon::store::StoreError> {
//! use flacon::revocation::{MemoryRevocations, RevocationRegistry};
//! use flacon::{KeyRing, SecretKey, SessionLayer};
//! let registry = RevocationRegistry::start(MemoryRevocations::default()).await?;
//! let layer = SessionLayer::new(KeyRing::new(SecretKey::from_text("a-long-random-key-0123456789")))
//!     .with_revocations(registry.clone());
//! registry.revoke_user("ada").await?;
//! assert_eq!(registry.logouts_of("ada"), 1);
//! # let _ = layer; Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::session::{generation_of, login_time_of, token_of, user_of};
use crate::store::StoreError;
use crate::value::Map;

/// The default bound on how old the in-process view may be.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(1);

/// Live denials one user may have from one process; at it, a logout ends every sign-in of
/// that user instead (a row the user has already, not one more) until some of them expire,
/// so that no account can grow the registry by signing in and out in a loop.
pub const MAX_DENIALS_PER_USER: usize = 64;

/// Expired denials a purge deletes in one statement or script.
pub const PURGE_BATCH: usize = 10_000;

/// How often the background task purges expired denials.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Which registry, and how far into its changes: what a reader knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryVersion {
    /// When the registry was created (Unix milliseconds): a registry that lost its data
    /// starts a new generation.
    pub generation: u64,
    /// Counts the changes of this generation.
    pub version: u64,
}

/// What a registry says of one user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRevocation {
    /// Sign-ins at or before this time (Unix milliseconds) are void: the last "log out
    /// everywhere".
    pub before_ms: u64,
    /// How many times the user was logged out everywhere.
    pub logouts: u64,
}

/// What changed in a registry since a version a reader knew, or the whole registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationChanges {
    /// The registry's generation and version this answer is at.
    pub at: RegistryVersion,
    /// The whole registry (the reader knew nothing, or another generation): the reader
    /// replaces its view rather than adding to it.
    pub complete: bool,
    /// Users whose revocation changed.
    pub users: Vec<(String, UserRevocation)>,
    /// Denied session ids that changed, each with the time (Unix seconds) after which its
    /// cookie is expired anyway.
    pub tokens: Vec<(String, u64)>,
}

/// Where a registry keeps its revocations: implemented by the SQLite, PostgreSQL and Redis
/// stores and by [`MemoryRevocations`] (one process).
pub trait RevocationBackend: Send + Sync + 'static {
    /// Voids every sign-in of `user` at or before `before_ms` (Unix milliseconds, never moved
    /// back) and counts one more "log out everywhere" for the user.
    fn void_user_before(
        &self,
        user: &str,
        before_ms: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Denies the session id `token` until `until` (Unix seconds).
    fn deny_token(
        &self,
        token: &str,
        until: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What changed since `known`: `None` when nothing did; the whole registry when `known`
    /// is `None`, of another generation, or ahead of the store (it went back). Denials past
    /// `now` (Unix seconds) are left out. A store without a generation yet starts one at
    /// `now_ms`.
    fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<RevocationChanges>, StoreError>> + Send;

    /// Deletes up to [`PURGE_BATCH`] denials whose cookies expired before `now` (Unix
    /// seconds); how many went.
    fn purge_revocations(&self, now: u64)
        -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Starts a new generation at `now_ms` (Unix milliseconds): every sign-in before it is
    /// void, in every process, once each has read the registry.
    fn start_generation(&self, now_ms: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A shared backend is a backend: the same store serves sessions and the registry.
impl<B: RevocationBackend> RevocationBackend for Arc<B> {
    fn void_user_before(
        &self,
        user: &str,
        before_ms: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).void_user_before(user, before_ms)
    }
    fn deny_token(
        &self,
        token: &str,
        until: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).deny_token(token, until)
    }
    fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<RevocationChanges>, StoreError>> + Send {
        (**self).revocations_since(known, now, now_ms)
    }
    fn purge_revocations(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        (**self).purge_revocations(now)
    }
    fn start_generation(&self, now_ms: u64) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).start_generation(now_ms)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`RevocationBackend`] behind a pointer: the registry is one type whatever its store.
trait ErasedBackend: Send + Sync {
    fn void_user_before<'a>(
        &'a self,
        user: &'a str,
        before_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn deny_token<'a>(
        &'a self,
        token: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RevocationChanges>, StoreError>>;
    fn purge_revocations(&self, now: u64) -> BoxFuture<'_, Result<usize, StoreError>>;
    fn start_generation(&self, now_ms: u64) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl<B: RevocationBackend> ErasedBackend for B {
    fn void_user_before<'a>(
        &'a self,
        user: &'a str,
        before_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(RevocationBackend::void_user_before(self, user, before_ms))
    }
    fn deny_token<'a>(
        &'a self,
        token: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(RevocationBackend::deny_token(self, token, until))
    }
    fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RevocationChanges>, StoreError>> {
        Box::pin(RevocationBackend::revocations_since(
            self, known, now, now_ms,
        ))
    }
    fn purge_revocations(&self, now: u64) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(RevocationBackend::purge_revocations(self, now))
    }
    fn start_generation(&self, now_ms: u64) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(RevocationBackend::start_generation(self, now_ms))
    }
}

/// Revocations in this process only: for tests, and for one process that needs no other to
/// see them.
#[derive(Debug)]
pub struct MemoryRevocations {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    at: RegistryVersion,
    /// Each entry with the version that last changed it.
    users: HashMap<String, (UserRevocation, u64)>,
    tokens: HashMap<String, (u64, u64)>,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        let state = MemoryState {
            at: RegistryVersion {
                generation: unix_ms(),
                version: 0,
            },
            ..MemoryState::default()
        };
        MemoryRevocations {
            state: Mutex::new(state),
        }
    }
}

impl MemoryRevocations {
    fn change(&self, f: impl FnOnce(&mut MemoryState, u64)) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.at.version += 1;
        let version = state.at.version;
        f(&mut state, version);
    }
}

impl RevocationBackend for MemoryRevocations {
    async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
        self.change(|state, version| {
            let (entry, changed) = state.users.entry(user.to_owned()).or_default();
            entry.before_ms = entry.before_ms.max(before_ms);
            entry.logouts += 1;
            *changed = version;
        });
        Ok(())
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.change(|state, version| {
            state.tokens.insert(token.to_owned(), (until, version));
        });
        Ok(())
    }

    async fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        _now_ms: u64,
    ) -> Result<Option<RevocationChanges>, StoreError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(since) = changes_from(known, state.at) else {
            return Ok(None);
        };
        Ok(Some(RevocationChanges {
            at: state.at,
            complete: since == 0,
            users: state
                .users
                .iter()
                .filter(|(_, (_, changed))| *changed > since || since == 0)
                .map(|(user, (revocation, _))| (user.clone(), *revocation))
                .collect(),
            tokens: state
                .tokens
                .iter()
                .filter(|(_, (until, changed))| *until > now && (*changed > since || since == 0))
                .map(|(token, (until, _))| (token.clone(), *until))
                .collect(),
        }))
    }

    async fn purge_revocations(&self, now: u64) -> Result<usize, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let before = state.tokens.len();
        state.tokens.retain(|_, (until, _)| *until > now);
        Ok(before - state.tokens.len())
    }

    async fn start_generation(&self, now_ms: u64) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.at.generation = state.at.generation.max(now_ms);
        Ok(())
    }
}

/// What a backend at `current` must answer a reader that knows `known`: `None` when
/// nothing changed; else the version after which changes count, 0 for the whole registry
/// (the reader knows nothing, another generation, or a version the store never reached).
pub(crate) fn changes_from(
    known: Option<RegistryVersion>,
    current: RegistryVersion,
) -> Option<u64> {
    match known {
        Some(known) if known == current => None,
        Some(known)
            if known.generation == current.generation && known.version < current.version =>
        {
            Some(known.version)
        }
        _ => Some(0),
    }
}

/// What the registry says of a cookie session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nobody revoked it.
    Valid,
    /// Its user was logged out everywhere after it signed in, or it logged out itself, or
    /// it is older than the registry.
    Revoked,
}

/// The view is older than its bound: a revoked cookie could pass, so none is trusted.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the revocation registry has not been read for {age_ms} ms (bound {bound_ms} ms)")]
pub struct StaleRevocations {
    /// How old the view is.
    pub age_ms: u64,
    /// The bound it broke.
    pub bound_ms: u64,
}

/// The registry as this process sees it.
#[derive(Debug, Default)]
struct View {
    at: RegistryVersion,
    /// Sign-ins before this (Unix milliseconds) are void: the registry's generation, or the
    /// moment this process saw the store go back to an older version.
    floor_ms: u64,
    users: HashMap<String, UserRevocation>,
    tokens: HashMap<String, u64>,
    /// The denials by expiry, to drop them as they expire.
    expiries: BTreeSet<(u64, String)>,
}

impl View {
    fn deny(&mut self, token: String, until: u64) {
        if let Some(old) = self.tokens.insert(token.clone(), until) {
            self.expiries.remove(&(old, token.clone()));
        }
        self.expiries.insert((until, token));
    }

    fn void(&mut self, user: String, revocation: UserRevocation) {
        let entry = self.users.entry(user).or_default();
        entry.before_ms = entry.before_ms.max(revocation.before_ms);
        entry.logouts = entry.logouts.max(revocation.logouts);
    }

    /// Whether a denial's cookie has expired by `now` (Unix seconds).
    fn expires_by(&self, now: u64) -> bool {
        self.expiries
            .first()
            .is_some_and(|(until, _)| *until <= now)
    }

    /// Drops the denials whose cookies have expired by `now` (Unix seconds).
    fn expire(&mut self, now: u64) {
        while let Some(first) = self.expiries.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, token)) = self.expiries.pop_first() {
                self.tokens.remove(&token);
            }
        }
    }

    fn apply(&mut self, changes: RevocationChanges) {
        for (user, revocation) in changes.users {
            self.void(user, revocation);
        }
        for (token, until) in changes.tokens {
            self.deny(token, until);
        }
        self.at = changes.at;
    }
}

/// Revocations of signed cookies, shared by every process through a store, read on the
/// request path from an in-process view. See the [module docs](self).
pub struct RevocationRegistry {
    backend: Box<dyn ErasedBackend>,
    view: RwLock<View>,
    epoch: Instant,
    /// When the view was last read from the store, in milliseconds since `epoch`.
    refreshed_ms: AtomicU64,
    max_staleness: Duration,
    /// The store failed on the last refresh (logged once per outage).
    failing: AtomicBool,
    /// Live denials this process made, per user (their expiries), for the per-user cap.
    denials_by_user: Mutex<HashMap<String, Vec<u64>>>,
}

impl std::fmt::Debug for RevocationRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationRegistry")
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

use crate::policy::unix_millis as unix_ms;

impl RevocationRegistry {
    /// Reads the registry in `backend` and keeps it fresh within [`DEFAULT_MAX_STALENESS`]
    /// on the current tokio runtime, until the registry is dropped.
    pub async fn start<B: RevocationBackend>(backend: B) -> Result<Arc<Self>, StoreError> {
        Self::start_with(backend, DEFAULT_MAX_STALENESS).await
    }

    /// [`start`](Self::start) with another bound on the view's age (refreshed four times
    /// within it).
    pub async fn start_with<B: RevocationBackend>(
        backend: B,
        max_staleness: Duration,
    ) -> Result<Arc<Self>, StoreError> {
        let registry = Arc::new(RevocationRegistry {
            backend: Box::new(backend),
            view: RwLock::new(View::default()),
            epoch: Instant::now(),
            refreshed_ms: AtomicU64::new(0),
            max_staleness: max_staleness.max(Duration::from_millis(4)),
            failing: AtomicBool::new(false),
            denials_by_user: Mutex::new(HashMap::new()),
        });
        registry.refresh().await?;
        // The view is as old as the start of the read that made it: after a long first read
        // (a large registry), read what changed meanwhile, so that the view starts fresh.
        registry.refresh().await?;
        let every = registry.max_staleness / 4;
        let weak: Weak<Self> = Arc::downgrade(&registry);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is now, and the view was just read.
            tick.tick().await;
            let mut last_purge = Instant::now();
            loop {
                tick.tick().await;
                let Some(registry) = weak.upgrade() else {
                    return;
                };
                registry.refresh_logged().await;
                if last_purge.elapsed() >= PURGE_EVERY {
                    last_purge = Instant::now();
                    registry.purge_logged().await;
                }
            }
        });
        Ok(registry)
    }

    /// The bound on the view's age.
    pub fn max_staleness(&self) -> Duration {
        self.max_staleness
    }

    /// Reads what changed in the registry now (the background task does this on its own).
    ///
    /// The view is as old as the moment this read began, not ended: a read that took long
    /// may have missed a change made while it ran. Of two reads that overlap, the one that
    /// saw the higher version wins, whichever finishes last. A store found at another
    /// generation is read whole, and the sign-ins older than it are void; one found at an
    /// older version of the same generation (it went back) is read whole too, and the
    /// sign-ins made before now are void.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let started = self.elapsed_ms();
        let known = self.read_view().at;
        let now_ms = unix_ms();
        let fresh = self
            .backend
            .revocations_since(
                Some(known).filter(|k| k.generation != 0),
                now_ms / 1000,
                now_ms,
            )
            .await?;
        if let Some(changes) = fresh {
            self.install(known, changes, now_ms);
        }
        // The write lock only when a denial is due to go: readers of every request wait on it.
        let now = now_ms / 1000;
        if self.read_view().expires_by(now) {
            self.write_view().expire(now);
        }
        self.refreshed_ms
            .fetch_max(started.max(1), Ordering::AcqRel);
        Ok(())
    }

    /// Puts what a read found into the view, unless a read that began later already did.
    fn install(&self, known: RegistryVersion, changes: RevocationChanges, now_ms: u64) {
        if !changes.complete {
            let mut view = self.write_view();
            if view.at.generation == changes.at.generation && changes.at.version > view.at.version {
                view.apply(changes);
            }
            return;
        }
        let went_back = known.generation == changes.at.generation
            && known.generation != 0
            && changes.at.version < known.version;
        let mut view = self.write_view();
        let same = view.at.generation == changes.at.generation;
        if same && !went_back && changes.at.version <= view.at.version {
            return;
        }
        let mut whole = View {
            floor_ms: if went_back {
                now_ms
            } else if same {
                view.floor_ms
            } else {
                changes.at.generation
            },
            ..View::default()
        };
        if went_back {
            tracing::warn!(
                "the revocation registry went back to an older version (restored?): sign-ins made before now are void"
            );
        } else if known.generation != 0 && !same {
            tracing::warn!(
                "the revocation registry is a new generation (everyone was logged out, or its store lost its data): sign-ins made before it are void"
            );
        }
        whole.apply(changes);
        *view = whole;
    }

    fn read_view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_view(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Milliseconds since the registry started.
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn refresh_logged(&self) {
        match self.refresh().await {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the revocation registry is readable again");
                }
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(%error, "cannot read the revocation registry; signed-in sessions get the store-error response until it is back");
                }
            }
        }
    }

    /// Deletes the denials whose cookies have expired, a batch at a time.
    pub async fn purge(&self) -> Result<usize, StoreError> {
        let now = unix_ms() / 1000;
        let mut purged = 0;
        loop {
            let batch = self.backend.purge_revocations(now).await?;
            purged += batch;
            if batch < PURGE_BATCH {
                return Ok(purged);
            }
            // Let readers and writers in between batches.
            tokio::task::yield_now().await;
        }
    }

    async fn purge_logged(&self) {
        match self.purge().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(
                purged,
                "expired denials purged from the revocation registry"
            ),
            Err(error) => tracing::warn!(%error, "cannot purge expired denials"),
        }
    }

    /// Voids every current sign-in of `user`, in every process sharing the store (within
    /// the staleness bound) and in this one at once.
    pub async fn revoke_user(&self, user: &str) -> Result<(), StoreError> {
        let now_ms = unix_ms();
        self.backend.void_user_before(user, now_ms).await?;
        {
            let mut view = self.write_view();
            let logouts = view.users.get(user).map_or(0, |u| u.logouts) + 1;
            view.void(
                user.to_owned(),
                UserRevocation {
                    before_ms: now_ms,
                    logouts,
                },
            );
        }
        self.refresh_after_change().await;
        Ok(())
    }

    /// Ends every sign-in there is, of every user (`flacon store revoke --all`; also the step
    /// after restoring the registry's store from a backup): a new generation, which every
    /// process sharing the store honours within the staleness bound, and this one at once.
    pub async fn revoke_all(&self) -> Result<(), StoreError> {
        self.backend.start_generation(unix_ms()).await?;
        self.refresh().await
    }

    /// Denies one session id until `until` (Unix seconds), when its cookie expires anyway,
    /// in every process sharing the store (within the staleness bound) and in this one at
    /// once.
    pub async fn deny(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.backend.deny_token(token, until).await?;
        self.write_view().deny(token.to_owned(), until);
        self.refresh_after_change().await;
        Ok(())
    }

    /// [`deny`](Self::deny) for a session of `user`: at [`MAX_DENIALS_PER_USER`] live
    /// denials of that user from this process, the user is logged out everywhere instead.
    pub async fn deny_for(&self, user: &str, token: &str, until: u64) -> Result<(), StoreError> {
        let now = unix_ms() / 1000;
        // At the cap, this logout ends every sign-in of the user (a row that exists already)
        // rather than adding a denial; the count goes down as the denials expire.
        let over = {
            let mut by_user = self
                .denials_by_user
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let live = by_user.entry(user.to_owned()).or_default();
            live.retain(|expiry| *expiry > now);
            let over = live.len() >= MAX_DENIALS_PER_USER;
            if !over {
                live.push(until);
            }
            over
        };
        if over {
            tracing::warn!(
                user,
                cap = MAX_DENIALS_PER_USER,
                "too many live logouts for one user: logging the user out everywhere instead"
            );
            return self.revoke_user(user).await;
        }
        self.deny(token, until).await
    }

    /// After a change this process made: the changes since the view's version, which are
    /// few (a failure leaves it to the background task; the change is in the view already).
    async fn refresh_after_change(&self) {
        if let Err(error) = self.refresh().await {
            tracing::debug!(%error, "cannot read the registry after a change; the next refresh will");
        }
    }

    /// The registry's generation and version as this process has read them.
    pub fn version(&self) -> RegistryVersion {
        self.read_view().at
    }

    /// How many times `user` was logged out everywhere, as this process sees it: what a
    /// sign-in records, so that a later "log out everywhere" voids it whatever the clocks.
    pub fn logouts_of(&self, user: &str) -> u64 {
        self.read_view().users.get(user).map_or(0, |u| u.logouts)
    }

    /// How many denials the view holds.
    pub fn denials(&self) -> usize {
        self.read_view().tokens.len()
    }

    /// What the registry says of a session holding `data`; an error when it has a user and
    /// the view is too old to say.
    pub(crate) fn verdict(&self, data: &Map) -> Result<Verdict, StaleRevocations> {
        let Some(user) = user_of(data) else {
            return Ok(Verdict::Valid);
        };
        let sign_in = SignIn {
            at_ms: login_time_of(data).unwrap_or(0),
            logouts: generation_of(data),
            token: token_of(data),
        };
        self.sign_in_verdict(&user, sign_in)
    }

    /// What the registry says of a sign-in of `user`: revoked when the user was logged out
    /// everywhere since (by count when the sign-in recorded one, else by time), when its
    /// token was denied, or when it is older than the registry's generation.
    pub(crate) fn sign_in_verdict(
        &self,
        user: &str,
        sign_in: SignIn<'_>,
    ) -> Result<Verdict, StaleRevocations> {
        let age_ms = self
            .elapsed_ms()
            .saturating_sub(self.refreshed_ms.load(Ordering::Acquire));
        let bound_ms = u64::try_from(self.max_staleness.as_millis()).unwrap_or(u64::MAX);
        if age_ms > bound_ms {
            return Err(StaleRevocations { age_ms, bound_ms });
        }
        let view = self.read_view();
        let voided = view
            .users
            .get(user)
            .is_some_and(|revoked| match sign_in.logouts {
                Some(logouts) => logouts < revoked.logouts,
                None => sign_in.at_ms <= revoked.before_ms,
            });
        // A sign-in whose time is unknown (0: Flask's) is not held to the generation; the
        // user's "log out everywhere" still voids it.
        let before_registry = sign_in.at_ms != 0 && sign_in.at_ms < view.floor_ms;
        let denied = sign_in
            .token
            .is_some_and(|token| view.tokens.contains_key(token));
        Ok(if voided || denied || before_registry {
            Verdict::Revoked
        } else {
            Verdict::Valid
        })
    }
}

/// A sign-in as the registry judges it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn<'a> {
    /// When (Unix milliseconds; 0 when unknown).
    pub(crate) at_ms: u64,
    /// The user's "log out everywhere" count it recorded, if it did.
    pub(crate) logouts: Option<u64>,
    /// The id a logout of it denies.
    pub(crate) token: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::session::{GENERATION_KEY, LOGIN_KEY, TOKEN_KEY, USER_KEY};
    use crate::value::Value;

    fn signed_in(user: &str, at_ms: u64, token: &str) -> Map {
        let mut data = Map::default();
        data.insert(USER_KEY.into(), Value::from(user));
        data.insert(LOGIN_KEY.into(), Value::Int(i64::try_from(at_ms).unwrap()));
        data.insert(TOKEN_KEY.into(), Value::from(token));
        data
    }

    /// A memory registry created an hour ago: the sign-ins of these tests are all younger.
    fn hour_old() -> MemoryRevocations {
        let memory = MemoryRevocations::default();
        memory.state.lock().unwrap().at.generation -= 3_600_000;
        memory
    }

    /// A memory registry whose reads take `delay_ms` each (a slow or distant store).
    struct Slow {
        inner: MemoryRevocations,
        delay_ms: AtomicU64,
    }

    impl RevocationBackend for Slow {
        async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
            RevocationBackend::void_user_before(&self.inner, user, before_ms).await
        }
        async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
            RevocationBackend::deny_token(&self.inner, token, until).await
        }
        async fn revocations_since(
            &self,
            known: Option<RegistryVersion>,
            now: u64,
            now_ms: u64,
        ) -> Result<Option<RevocationChanges>, StoreError> {
            // What the store held when the read began, returned when it ends.
            let answer =
                RevocationBackend::revocations_since(&self.inner, known, now, now_ms).await;
            let delay = self.delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            answer
        }
        async fn purge_revocations(&self, now: u64) -> Result<usize, StoreError> {
            RevocationBackend::purge_revocations(&self.inner, now).await
        }
        async fn start_generation(&self, now_ms: u64) -> Result<(), StoreError> {
            RevocationBackend::start_generation(&self.inner, now_ms).await
        }
    }

    #[tokio::test]
    async fn a_view_is_as_old_as_the_start_of_the_read_that_made_it() {
        let slow = Arc::new(Slow {
            inner: hour_old(),
            delay_ms: AtomicU64::new(0),
        });
        slow.delay_ms.store(300, Ordering::SeqCst);
        let registry = RevocationRegistry::start_with(slow.clone(), Duration::from_millis(200))
            .await
            .unwrap();
        // The read that just ended began 300 ms ago: a change made meanwhile may be missing.
        let stale = registry
            .verdict(&signed_in("ada", unix_ms(), "t1"))
            .unwrap_err();
        assert!(stale.age_ms >= 250, "{stale}");
    }

    #[tokio::test]
    async fn a_slow_read_never_installs_an_older_view_over_a_newer_one() {
        let slow = Arc::new(Slow {
            inner: hour_old(),
            delay_ms: AtomicU64::new(0),
        });
        let registry = RevocationRegistry::start_with(slow.clone(), Duration::from_secs(60))
            .await
            .unwrap();
        slow.delay_ms.store(300, Ordering::SeqCst);
        let before = signed_in("ada", unix_ms() - 10, "t1");
        // A read begins before the revocation and ends after a faster one saw it.
        let late = tokio::spawn({
            let registry = registry.clone();
            async move { registry.refresh().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        slow.delay_ms.store(0, Ordering::SeqCst);
        registry.revoke_user("ada").await.unwrap();
        assert_eq!(registry.verdict(&before).unwrap(), Verdict::Revoked);
        late.await.unwrap().unwrap();
        assert_eq!(
            registry.verdict(&before).unwrap(),
            Verdict::Revoked,
            "the late read saw the registry before the revocation and was not installed"
        );
    }

    #[tokio::test]
    async fn a_user_voided_after_signing_in_is_revoked_and_a_later_sign_in_is_not() {
        let registry = RevocationRegistry::start(hour_old()).await.unwrap();
        let before = signed_in("ada", unix_ms() - 10, "t1");
        let other = signed_in("bob", unix_ms() - 10, "t2");
        assert_eq!(registry.verdict(&before).unwrap(), Verdict::Valid);
        registry.revoke_user("ada").await.unwrap();
        assert_eq!(registry.verdict(&before).unwrap(), Verdict::Revoked);
        assert_eq!(registry.verdict(&other).unwrap(), Verdict::Valid);
        let after = signed_in("ada", unix_ms() + 5, "t3");
        assert_eq!(registry.verdict(&after).unwrap(), Verdict::Valid);
        registry.deny("t3", unix_ms() / 1000 + 60).await.unwrap();
        assert_eq!(registry.verdict(&after).unwrap(), Verdict::Revoked);
        assert_eq!(registry.verdict(&Map::default()).unwrap(), Verdict::Valid);
    }

    /// Point 11: a sign-in that recorded the user's logout count is judged by count, so a
    /// clock ahead or behind in the revoking process changes nothing.
    #[tokio::test]
    async fn sign_ins_that_recorded_a_count_are_judged_by_count_not_clock() {
        let registry = RevocationRegistry::start(hour_old()).await.unwrap();
        let mut counted = signed_in("ada", unix_ms() + 60_000, "t1");
        counted.insert(GENERATION_KEY.into(), Value::Int(0));
        // Its clock ran a minute ahead: by time, a revocation now would miss it.
        registry.revoke_user("ada").await.unwrap();
        assert_eq!(registry.verdict(&counted).unwrap(), Verdict::Revoked);
        let mut later = signed_in("ada", unix_ms() - 60_000, "t2");
        later.insert(GENERATION_KEY.into(), Value::Int(1));
        // Its clock ran a minute behind: by time it would look revoked; it signed in after.
        assert_eq!(registry.verdict(&later).unwrap(), Verdict::Valid);
        assert_eq!(registry.logouts_of("ada"), 1);
    }

    /// Point 4: a refresh reads the changes since the view's version, not the registry.
    #[tokio::test]
    async fn a_refresh_reads_only_what_changed() {
        let memory = Arc::new(hour_old());
        let registry = RevocationRegistry::start(memory.clone()).await.unwrap();
        let until = unix_ms() / 1000 + 600;
        for i in 0..1000 {
            RevocationBackend::deny_token(&memory, &format!("t{i}"), until)
                .await
                .unwrap();
        }
        registry.refresh().await.unwrap();
        assert_eq!(registry.denials(), 1000);
        let known = registry.version();
        RevocationBackend::deny_token(&memory, "one more", until)
            .await
            .unwrap();
        let changes =
            RevocationBackend::revocations_since(&memory, Some(known), until - 600, unix_ms())
                .await
                .unwrap()
                .unwrap();
        assert!(!changes.complete);
        assert_eq!(changes.tokens, vec![("one more".to_owned(), until)]);
        registry.refresh().await.unwrap();
        assert_eq!(registry.denials(), 1001);
    }

    /// Point 7: a registry of another generation is read whole, and the sign-ins older than
    /// it are void.
    #[tokio::test]
    async fn a_new_generation_voids_the_sign_ins_before_it() {
        let old = Arc::new(hour_old());
        let registry = RevocationRegistry::start(old.clone()).await.unwrap();
        let signed_before = signed_in("ada", unix_ms() - 5, "t1");
        assert_eq!(registry.verdict(&signed_before).unwrap(), Verdict::Valid);
        // The store loses everything and starts over.
        tokio::time::sleep(Duration::from_millis(10)).await;
        *old.state.lock().unwrap() = MemoryRevocations::default().state.into_inner().unwrap();
        registry.refresh().await.unwrap();
        assert_eq!(registry.verdict(&signed_before).unwrap(), Verdict::Revoked);
        let signed_after = signed_in("ada", unix_ms() + 5, "t2");
        assert_eq!(registry.verdict(&signed_after).unwrap(), Verdict::Valid);
    }

    /// Point 4: one account signing in and out in a loop cannot grow the registry past the
    /// cap; past it, its logouts end all of its sign-ins instead.
    #[tokio::test]
    async fn denials_per_user_are_capped() {
        let memory = Arc::new(hour_old());
        let registry = RevocationRegistry::start(memory.clone()).await.unwrap();
        let until = unix_ms() / 1000 + 600;
        for i in 0..MAX_DENIALS_PER_USER + 10 {
            registry
                .deny_for("eve", &format!("t{i}"), until)
                .await
                .unwrap();
        }
        assert_eq!(registry.denials(), MAX_DENIALS_PER_USER);
        assert_eq!(registry.logouts_of("eve"), 10);
        assert_eq!(
            registry
                .verdict(&signed_in("eve", unix_ms() - 5, "other"))
                .unwrap(),
            Verdict::Revoked
        );
    }
}
