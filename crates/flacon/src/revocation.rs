//! Revoking signed cookies: a signed cookie is valid wherever it is replayed until it
//! expires, so logging out cannot take it back by itself. A [`RevocationRegistry`] keeps, in
//! a store every process shares (SQLite or Redis), per user the time before which that
//! user's sign-ins are void ("log out everywhere"), and the random ids of single sessions
//! that logged out, each until the cookie would have expired anyway.
//!
//! The request path never asks the store: it reads an in-process view that a background
//! task refreshes every quarter of [`max_staleness`](RevocationRegistry::start_with) (one
//! second by default), so a revocation made by any process is seen by every other within
//! that bound. A view older than the bound (the store is down) is never trusted: requests
//! of signed-in sessions get the store-error response until the view is fresh again, and
//! sessions nobody signed in to are not affected.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), flacon::store::StoreError> {
//! use flacon::revocation::{MemoryRevocations, RevocationRegistry};
//! use flacon::{KeyRing, SecretKey, SessionLayer};
//! let registry = RevocationRegistry::start(MemoryRevocations::default()).await?;
//! let layer = SessionLayer::new(KeyRing::new(SecretKey::from_text("a-long-random-key-0123456789")))
//!     .with_revocations(registry.clone());
//! registry.revoke_user("ada").await?;
//! # let _ = layer; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::session::{login_time_of, token_of, user_of};
use crate::store::StoreError;
use crate::value::Map;

/// The default bound on how old the in-process view may be.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(1);

/// What a registry holds, as one process sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Changes whenever the registry does.
    pub version: u64,
    /// Per user: sign-ins at or before this time (Unix milliseconds) are void.
    pub users: HashMap<String, u64>,
    /// Denied session ids, each with the time (Unix seconds) after which its cookie is
    /// expired anyway.
    pub tokens: HashMap<String, u64>,
}

/// Where a registry keeps its revocations: implemented by the SQLite and Redis stores and by
/// [`MemoryRevocations`] (one process).
pub trait RevocationBackend: Send + Sync + 'static {
    /// Voids every sign-in of `user` at or before `before_ms` (Unix milliseconds).
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

    /// The registry, unless its version is still `known`; denials past `now` left out.
    fn revocations_since(
        &self,
        known: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<Revocations>, StoreError>> + Send;
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
        known: Option<u64>,
        now: u64,
    ) -> impl Future<Output = Result<Option<Revocations>, StoreError>> + Send {
        (**self).revocations_since(known, now)
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
        known: Option<u64>,
        now: u64,
    ) -> BoxFuture<'_, Result<Option<Revocations>, StoreError>>;
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
        known: Option<u64>,
        now: u64,
    ) -> BoxFuture<'_, Result<Option<Revocations>, StoreError>> {
        Box::pin(RevocationBackend::revocations_since(self, known, now))
    }
}

/// Revocations in this process only: for tests, and for one process that needs no other to
/// see them.
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    state: Mutex<Revocations>,
}

impl MemoryRevocations {
    fn change(&self, f: impl FnOnce(&mut Revocations)) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state);
        state.version += 1;
    }
}

impl RevocationBackend for MemoryRevocations {
    async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
        self.change(|r| {
            let entry = r.users.entry(user.to_owned()).or_default();
            *entry = (*entry).max(before_ms);
        });
        Ok(())
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.change(|r| {
            r.tokens.insert(token.to_owned(), until);
        });
        Ok(())
    }

    async fn revocations_since(
        &self,
        known: Option<u64>,
        now: u64,
    ) -> Result<Option<Revocations>, StoreError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if known == Some(state.version) {
            return Ok(None);
        }
        let mut view = state.clone();
        view.tokens.retain(|_, until| *until > now);
        Ok(Some(view))
    }
}

/// What the registry says of a cookie session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nobody revoked it.
    Valid,
    /// Its user was logged out everywhere after it signed in, or it logged out itself.
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

/// Revocations of signed cookies, shared by every process through a store, read on the
/// request path from an in-process view. See the [module docs](self).
pub struct RevocationRegistry {
    backend: Box<dyn ErasedBackend>,
    view: RwLock<Arc<Revocations>>,
    epoch: Instant,
    /// When the view was last read from the store, in milliseconds since `epoch`.
    refreshed_ms: AtomicU64,
    max_staleness: Duration,
    /// The store failed on the last refresh (logged once per outage).
    failing: AtomicBool,
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
            view: RwLock::new(Arc::default()),
            epoch: Instant::now(),
            refreshed_ms: AtomicU64::new(0),
            max_staleness: max_staleness.max(Duration::from_millis(4)),
            failing: AtomicBool::new(false),
        });
        registry.refresh().await?;
        let every = registry.max_staleness / 4;
        let weak: Weak<Self> = Arc::downgrade(&registry);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(registry) = weak.upgrade() else {
                    return;
                };
                registry.refresh_logged().await;
            }
        });
        Ok(registry)
    }

    /// The bound on the view's age.
    pub fn max_staleness(&self) -> Duration {
        self.max_staleness
    }

    /// Reads the registry now (the background task does this on its own).
    ///
    /// The view is as old as the moment this read began, not ended: a read that took long
    /// may have missed a change made while it ran. Of two reads that overlap, the one that
    /// saw the higher version wins, whichever finishes last (unless the store's version went
    /// below what the read started from: the store lost its data, and is read as it is).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let started = self.elapsed_ms();
        let known = self.view().version;
        let now = unix_ms() / 1000;
        if let Some(fresh) = self.backend.revocations_since(Some(known), now).await? {
            let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
            // Below what this read started from, the store itself went back (restarted
            // empty, restored): its view is the only one there is.
            if fresh.version > view.version || fresh.version < known {
                *view = Arc::new(fresh);
            }
        }
        self.refreshed_ms
            .fetch_max(started.max(1), Ordering::AcqRel);
        Ok(())
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

    /// Voids every current sign-in of `user`, in every process sharing the store (within
    /// the staleness bound) and in this one at once.
    pub async fn revoke_user(&self, user: &str) -> Result<(), StoreError> {
        self.backend.void_user_before(user, unix_ms()).await?;
        self.refresh().await
    }

    /// Denies one session id until `until` (Unix seconds), when its cookie expires anyway.
    pub async fn deny(&self, token: &str, until: u64) -> Result<(), StoreError> {
        self.backend.deny_token(token, until).await?;
        self.refresh().await
    }

    /// The view as this process sees it.
    pub fn view(&self) -> Arc<Revocations> {
        self.view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the registry says of a session holding `data`; an error when it has a user and
    /// the view is too old to say.
    pub(crate) fn verdict(&self, data: &Map) -> Result<Verdict, StaleRevocations> {
        let Some(user) = user_of(data) else {
            return Ok(Verdict::Valid);
        };
        self.sign_in_verdict(&user, login_time_of(data).unwrap_or(0), token_of(data))
    }

    /// What the registry says of a sign-in of `user` at `signed_in_ms` (Unix milliseconds;
    /// 0 when unknown, which any "log out everywhere" voids) known by `token`: revoked when
    /// the user was logged out everywhere at or after it, or the token was denied.
    pub(crate) fn sign_in_verdict(
        &self,
        user: &str,
        signed_in_ms: u64,
        token: Option<&str>,
    ) -> Result<Verdict, StaleRevocations> {
        let age_ms = self
            .elapsed_ms()
            .saturating_sub(self.refreshed_ms.load(Ordering::Acquire));
        let bound_ms = u64::try_from(self.max_staleness.as_millis()).unwrap_or(u64::MAX);
        if age_ms > bound_ms {
            return Err(StaleRevocations { age_ms, bound_ms });
        }
        let view = self.view.read().unwrap_or_else(PoisonError::into_inner);
        let voided = view
            .users
            .get(user)
            .is_some_and(|before| signed_in_ms <= *before);
        let denied = token.is_some_and(|token| view.tokens.contains_key(token));
        Ok(if voided || denied {
            Verdict::Revoked
        } else {
            Verdict::Valid
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::session::{LOGIN_KEY, TOKEN_KEY, USER_KEY};
    use crate::value::Value;

    fn signed_in(user: &str, at_ms: u64, token: &str) -> Map {
        let mut data = Map::default();
        data.insert(USER_KEY.into(), Value::from(user));
        data.insert(LOGIN_KEY.into(), Value::Int(i64::try_from(at_ms).unwrap()));
        data.insert(TOKEN_KEY.into(), Value::from(token));
        data
    }

    /// A memory registry whose reads take `delay_ms` each (a slow or distant store).
    #[derive(Default)]
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
            known: Option<u64>,
            now: u64,
        ) -> Result<Option<Revocations>, StoreError> {
            // What the store held when the read began, returned when it ends.
            let answer = RevocationBackend::revocations_since(&self.inner, known, now).await;
            let delay = self.delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            answer
        }
    }

    #[tokio::test]
    async fn a_view_is_as_old_as_the_start_of_the_read_that_made_it() {
        let slow = Arc::new(Slow::default());
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
        let slow = Arc::new(Slow::default());
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
        let registry = RevocationRegistry::start(MemoryRevocations::default())
            .await
            .unwrap();
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
}
