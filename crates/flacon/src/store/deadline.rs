//! Deadlines for many short store operations, watched by one task instead of a timer each.
//!
//! A tokio timer per Redis command costs a timer-wheel insertion and removal, and, whenever
//! the driver last parked with no timer pending, a wake-up write to the driver's eventfd:
//! about one system call per command under load. Commands answer in well under a
//! millisecond, so their deadline only matters when the server hangs; a watcher that looks
//! at a fixed granularity and wakes the overdue ones gives the same guarantee
//! (late by at most one granularity) for the price of a lock on one of a few shards when an operation starts and ends.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// Operations are spread over this many maps by key, so that concurrent commands rarely
/// meet on one lock.
const SHARDS: usize = 16;

#[derive(Debug)]
struct Shared {
    granularity: Duration,
    next_key: AtomicU64,
    /// Waiting operations: deadline and waker, by key.
    shards: [Mutex<HashMap<u64, (Instant, Waker)>>; SHARDS],
    /// How many operations wait, over all shards.
    waiting: AtomicUsize,
    /// The watcher task while one runs. It ends when nothing waits and is started again by
    /// the next operation, so an idle store costs no wake-ups.
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Deadlines {
    /// Deadlines checked every `granularity`.
    pub(crate) fn new(granularity: Duration) -> Self {
        Deadlines {
            shared: Arc::new(Shared {
                granularity,
                next_key: AtomicU64::new(0),
                shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
                waiting: AtomicUsize::new(0),
                watcher: Mutex::new(None),
            }),
        }
    }

    /// `operation`, failed with [`Overdue`] if it has not finished within `limit`.
    pub(crate) fn within<F: Future>(&self, limit: Duration, operation: F) -> WithDeadline<F> {
        WithDeadline {
            operation,
            limit,
            deadline: Instant::now() + limit,
            registered: None,
            shared: self.shared.clone(),
        }
    }
}

impl Shared {
    fn shard(&self, key: u64) -> &Mutex<HashMap<u64, (Instant, Waker)>> {
        let index = usize::try_from(key % SHARDS as u64).unwrap_or(0);
        self.shards.get(index).unwrap_or(&self.shards[0])
    }

    fn register(self: &Arc<Self>, deadline: Instant, waker: &Waker) -> u64 {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        locked(self.shard(key)).insert(key, (deadline, waker.clone()));
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let mut watcher = locked(&self.watcher);
        // One watcher per store; a new one if the last ended, or its runtime has gone.
        if watcher
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
        {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                *watcher = Some(runtime.spawn(watch(Arc::downgrade(self), self.granularity)));
            }
        }
        key
    }

    fn update_waker(&self, key: u64, waker: &Waker) {
        if let Some(entry) = locked(self.shard(key)).get_mut(&key) {
            entry.1 = waker.clone();
        }
    }

    fn deregister(&self, key: u64) {
        if locked(self.shard(key)).remove(&key).is_some() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Wakes the overdue operations; whether any operation still waits.
    fn wake_overdue(&self) -> bool {
        let now = Instant::now();
        let mut overdue = Vec::new();
        for shard in &self.shards {
            overdue.extend(
                locked(shard)
                    .values()
                    .filter(|(deadline, _)| *deadline <= now)
                    .map(|(_, waker)| waker.clone()),
            );
        }
        overdue.into_iter().for_each(Waker::wake);
        self.waiting.load(Ordering::Acquire) > 0
    }
}

/// Wakes the overdue operations every `granularity`, until nothing waits or the store is
/// gone.
async fn watch(shared: Weak<Shared>, granularity: Duration) {
    let mut ticks = tokio::time::interval(granularity);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.wake_overdue() {
            continue;
        }
        // Decided under the watcher lock, which `register` takes after counting itself: an
        // operation that registers now either is seen here or finds no watcher and starts one.
        let mut watcher = locked(&shared.watcher);
        if shared.waiting.load(Ordering::Acquire) == 0 {
            *watcher = None;
            return;
        }
    }
}

pin_project! {
    /// The future of [`Deadlines::within`].
    pub(crate) struct WithDeadline<F> {
        #[pin]
        operation: F,
        limit: Duration,
        deadline: Instant,
        // The key it waits under and the waker last given, so that a poll with the same
        // waker takes no lock.
        registered: Option<(u64, Waker)>,
        shared: Arc<Shared>,
    }

    impl<F> PinnedDrop for WithDeadline<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some((key, _)) = this.registered.take() {
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
            if let Some((key, _)) = this.registered.take() {
                this.shared.deregister(key);
            }
            return Poll::Ready(Ok(output));
        }
        if Instant::now() >= *this.deadline {
            if let Some((key, _)) = this.registered.take() {
                this.shared.deregister(key);
            }
            return Poll::Ready(Err(Overdue(*this.limit)));
        }
        match this.registered {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((key, waker)) => {
                this.shared.update_waker(*key, cx.waker());
                waker.clone_from(cx.waker());
            }
            None => {
                let key = this.shared.register(*this.deadline, cx.waker());
                *this.registered = Some((key, cx.waker().clone()));
            }
        }
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
        assert_eq!(deadlines.shared.waiting.load(Ordering::Relaxed), 0);
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
        assert_eq!(deadlines.shared.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_operation_is_forgotten() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        let mut pending =
            Box::pin(deadlines.within(Duration::from_secs(5), std::future::pending::<()>()));
        assert!(futures_poll_once(pending.as_mut()).await.is_none());
        assert_eq!(deadlines.shared.waiting.load(Ordering::Relaxed), 1);
        drop(pending);
        assert_eq!(deadlines.shared.waiting.load(Ordering::Relaxed), 0);
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

    #[tokio::test(flavor = "current_thread")]
    async fn the_watcher_stops_when_nothing_waits_and_comes_back() {
        let deadlines = Deadlines::new(Duration::from_millis(10));
        let watching = || {
            locked(&deadlines.shared.watcher)
                .as_ref()
                .is_some_and(|w| !w.is_finished())
        };
        for round in 0..2 {
            let value = deadlines
                .within(Duration::from_secs(1), async {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    round
                })
                .await;
            assert_eq!(value, Ok(round));
            assert!(watching(), "a watcher ran for the operation");
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!watching(), "the watcher still runs with nothing to watch");
        }
        // And a hung operation started after it stopped is still failed at its deadline.
        let outcome = deadlines
            .within(Duration::from_millis(30), std::future::pending::<()>())
            .await;
        assert_eq!(outcome, Err(Overdue(Duration::from_millis(30))));
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
