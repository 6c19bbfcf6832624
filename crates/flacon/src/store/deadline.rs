//! Deadlines for many short store operations, watched by one task instead of a timer each.
//!
//! A tokio timer per Redis command costs a timer-wheel insertion and removal, and, whenever
//! the driver last parked with no timer pending, a wake-up write to the driver's eventfd:
//! about one system call per command under load. Commands answer in well under a
//! millisecond, so their deadline only matters when the server hangs; a watcher that looks
//! at a fixed granularity and wakes the overdue ones gives the same guarantee
//! (late by at most one granularity) for the price of a lock.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

/// An operation overran its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no answer within {0:?}")]
pub(crate) struct Overdue(pub(crate) Duration);

/// Shared by every operation of one store.
#[derive(Debug, Clone)]
pub(crate) struct Deadlines {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    granularity: Duration,
    next_key: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    waiting: HashMap<u64, (Instant, Waker)>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Deadlines {
    /// Deadlines checked every `granularity`.
    pub(crate) fn new(granularity: Duration) -> Self {
        Deadlines {
            shared: Arc::new(Shared {
                granularity,
                next_key: AtomicU64::new(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// `operation`, failed with [`Overdue`] if it has not finished within `limit`.
    pub(crate) fn within<F: Future>(&self, limit: Duration, operation: F) -> WithDeadline<F> {
        WithDeadline {
            operation,
            limit,
            deadline: Instant::now() + limit,
            key: None,
            shared: self.shared.clone(),
        }
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(self: &Arc<Self>, key: Option<u64>, deadline: Instant, waker: &Waker) -> u64 {
        let mut state = self.state();
        let key = match key {
            Some(key) => {
                if let Some(entry) = state.waiting.get_mut(&key) {
                    if !entry.1.will_wake(waker) {
                        entry.1 = waker.clone();
                    }
                }
                return key;
            }
            None => self.next_key.fetch_add(1, Ordering::Relaxed),
        };
        state.waiting.insert(key, (deadline, waker.clone()));
        // One watcher per store; a new one if the runtime that ran the last has gone.
        let running = state.watcher.as_ref().is_some_and(|w| !w.is_finished());
        if !running {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                state.watcher = Some(runtime.spawn(watch(Arc::downgrade(self), self.granularity)));
            }
        }
        key
    }

    fn deregister(&self, key: u64) {
        self.state().waiting.remove(&key);
    }
}

/// Wakes the overdue operations every `granularity`, until the store is gone.
async fn watch(shared: Weak<Shared>, granularity: Duration) {
    let mut ticks = tokio::time::interval(granularity);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let overdue: Vec<Waker> = shared
            .state()
            .waiting
            .values()
            .filter(|(deadline, _)| *deadline <= now)
            .map(|(_, waker)| waker.clone())
            .collect();
        overdue.into_iter().for_each(Waker::wake);
    }
}

pin_project! {
    /// The future of [`Deadlines::within`].
    pub(crate) struct WithDeadline<F> {
        #[pin]
        operation: F,
        limit: Duration,
        deadline: Instant,
        key: Option<u64>,
        shared: Arc<Shared>,
    }

    impl<F> PinnedDrop for WithDeadline<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(key) = this.key.take() {
                this.shared.deregister(key);
            }
        }
    }
}

impl<F: Future> Future for WithDeadline<F> {
    type Output = Result<F::Output, Overdue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.operation.poll(cx) {
            if let Some(key) = this.key.take() {
                this.shared.deregister(key);
            }
            return Poll::Ready(Ok(output));
        }
        if Instant::now() >= *this.deadline {
            if let Some(key) = this.key.take() {
                this.shared.deregister(key);
            }
            return Poll::Ready(Err(Overdue(*this.limit)));
        }
        *this.key = Some(this.shared.register(*this.key, *this.deadline, cx.waker()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_finished_operation_leaves_nothing_behind() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        let value = deadlines
            .within(Duration::from_secs(1), async {
                tokio::task::yield_now().await;
                7
            })
            .await;
        assert_eq!(value, Ok(7));
        assert!(deadlines.shared.state().waiting.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hung_operation_fails_soon_after_its_deadline() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        let started = Instant::now();
        let outcome = deadlines
            .within(Duration::from_millis(50), std::future::pending::<()>())
            .await;
        assert_eq!(outcome, Err(Overdue(Duration::from_millis(50))));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(50),
            "not before the deadline"
        );
        assert!(deadlines.shared.state().waiting.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_operation_is_forgotten() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        let mut pending =
            Box::pin(deadlines.within(Duration::from_secs(5), std::future::pending::<()>()));
        assert!(futures_poll_once(pending.as_mut()).await.is_none());
        assert_eq!(deadlines.shared.state().waiting.len(), 1);
        drop(pending);
        assert!(deadlines.shared.state().waiting.is_empty());
    }

    async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            Poll::Ready(match Pin::new(&mut future).poll(cx) {
                Poll::Ready(value) => Some(value),
                Poll::Pending => None,
            })
        })
        .await
    }

    #[test]
    fn a_watcher_comes_back_with_a_new_runtime() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        for _ in 0..2 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let outcome = runtime.block_on(
                deadlines.within(Duration::from_millis(30), std::future::pending::<()>()),
            );
            assert!(outcome.is_err(), "the deadline fired on this runtime too");
        }
    }
}
