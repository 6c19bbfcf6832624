//! Group commit: the one-row writes of all requests ready at the same moment share one
//! transaction; each caller is answered after the commit that holds its write.

use std::sync::atomic::Ordering;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::connection::is_lock_conflict;
use super::*;

/// A one-row write: whether it changed its row.
pub(super) type Write = Box<dyn Fn(&Connection) -> rusqlite::Result<bool> + Send>;

pub(super) struct QueuedWrite {
    pub(super) write: Write,
    pub(super) done: oneshot::Sender<Result<bool, StoreError>>,
}

impl std::fmt::Debug for QueuedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedWrite").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Runs a one-row write in the next group commit.
    pub(super) async fn write(
        &self,
        write: impl Fn(&Connection) -> rusqlite::Result<bool> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        lock(&self.shared.queue).push(QueuedWrite {
            write: Box::new(write),
            done,
        });
        if !self.shared.committing.swap(true, Ordering::AcqRel) {
            // A task of its own: a request dropped mid-commit must not strand the others.
            tokio::spawn(self.clone().commit_queue());
        }
        answer
            .await
            .map_err(|_| StoreError::unavailable(GroupCommitAborted))?
    }

    /// Commits queued writes until the queue stays empty.
    pub(super) async fn commit_queue(self) {
        let mut committer = Committer {
            store: self,
            finished: false,
        };
        let store = &committer.store;
        loop {
            // Requests that are ready to run queue their writes first and join this group.
            tokio::task::yield_now().await;
            let group = std::mem::take(&mut *lock(&store.shared.queue));
            if group.is_empty() {
                store.shared.committing.store(false, Ordering::Release);
                // A write queued after the take saw a committer at work and left it to us.
                if lock(&store.shared.queue).is_empty()
                    || store.shared.committing.swap(true, Ordering::AcqRel)
                {
                    committer.finished = true;
                    return;
                }
                continue;
            }
            store.commit_group(group).await;
        }
    }

    /// One transaction for `group`, inline when a connection is free and no lock is in the
    /// way, else on the blocking pool; each write alone if the transaction fails.
    pub(super) async fn commit_group(&self, group: Vec<QueuedWrite>) {
        let (writes, answers): (Vec<Write>, Vec<_>) =
            group.into_iter().map(|q| (q.write, q.done)).unzip();
        let inline = self.try_inline(true, &|conn: &Connection| in_one_transaction(conn, &writes));
        let (writes, outcome) = match inline {
            Some(Ok(changed)) => (writes, Ok(changed)),
            Some(Err(e)) if !is_lock_conflict(&e) => (writes, Err(None)),
            Some(Err(_)) | None => self
                .with(move |conn| {
                    let outcome = in_one_transaction(conn, &writes).map_err(|e| {
                        // Still locked after the busy timeout: no write of the group would
                        // fare better alone.
                        is_lock_conflict(&e).then_some(e)
                    });
                    Ok((writes, outcome))
                })
                .await
                .unwrap_or_else(|_| (Vec::new(), Err(None))),
        };
        match outcome {
            Ok(changed) => {
                for (answer, changed) in answers.into_iter().zip(changed) {
                    let _ = answer.send(Ok(changed));
                }
            }
            Err(Some(locked)) => {
                for answer in answers {
                    let _ = answer.send(Err(unavailable(same_error(&locked))));
                }
            }
            Err(None) => {
                for (answer, write) in answers.into_iter().zip(writes) {
                    let _ = answer.send(self.statement(true, write).await);
                }
            }
        }
    }
}

/// The task committing the queue. Should it end early (a write panicked, the runtime is
/// shutting down), it hands the queue on: a committer left marked busy would keep every
/// later write waiting forever.
pub(super) struct Committer {
    pub(super) store: SqliteStore,
    pub(super) finished: bool,
}

impl Drop for Committer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let shared = &self.store.shared;
        shared.committing.store(false, Ordering::Release);
        if lock(&shared.queue).is_empty() || shared.committing.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(self.store.clone().commit_queue())),
            Err(_) => shared.committing.store(false, Ordering::Release),
        }
    }
}

/// Why a write got no answer: the task committing it ended first (the runtime shut down).
#[derive(Debug, thiserror::Error)]
#[error("the group commit holding this write ended before it answered")]
pub(super) struct GroupCommitAborted;

/// A copy of a lock-conflict error, one for each write of a group that could not commit.
pub(super) fn same_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some(other.to_string()),
        ),
    }
}

/// Runs `writes` in one transaction: what each changed, or the error that rolled it all
/// back (a lock conflict at the start means nothing ran).
pub(super) fn in_one_transaction(
    conn: &Connection,
    writes: &[Write],
) -> rusqlite::Result<Vec<bool>> {
    if let [write] = writes {
        return write(conn).map(|changed| vec![changed]);
    }
    // Rolled back when dropped uncommitted: on an error, and on a panic in a write, which
    // must not leave the connection inside a transaction holding the write lock.
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let changed = writes
        .iter()
        .map(|write| write(&transaction))
        .collect::<rusqlite::Result<Vec<bool>>>()?;
    transaction.commit()?;
    Ok(changed)
}
