//! The SQLite store's own promises: statements that meet another writer's lock wait for it
//! instead of failing, the write-ahead log stays bounded under a steady stream of inline
//! commits, purges walk any number of rows, and the blocking-pool-only mode conforms too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use flacon::store::conformance;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{Record, SessionId, SessionStore};
use flacon::{Map, Value};

fn fresh_db(name: &str) -> PathBuf {
    let dir = common::python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn record(n: i64, expires_at: u64) -> Record {
    let mut data = Map::default();
    data.insert("n".into(), Value::Int(n));
    Record { data, expires_at }
}

const NOW: u64 = 1_900_000_000;
const LATER: u64 = 2_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn the_blocking_pool_only_store_conforms() {
    let path = fresh_db("blocking-only");
    conformance::check(&SqliteStore::open_blocking_only(&path).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_save_that_meets_another_writers_lock_waits_for_it() {
    let path = fresh_db("locked");
    let store = SqliteStore::open(&path).await.unwrap();
    let id = SessionId::generate().unwrap();
    assert!(store.create(&id, &record(1, LATER), NOW).await.unwrap());

    // Another process (here: another connection) holds the write lock.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn({
        let path = path.clone();
        move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            conn.execute_batch("ROLLBACK").unwrap();
        }
    });
    locked_rx.recv().unwrap();

    let save = tokio::spawn({
        let store = store.clone();
        let id = id.clone();
        async move { store.save(&id, &record(2, LATER), NOW).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!save.is_finished(), "the save waits while the lock is held");
    // Reads are not blocked by a writer in WAL mode.
    let seen = store.load(&id, None, NOW).await.unwrap().unwrap();
    assert_eq!(seen.data.get("n"), Some(&Value::Int(1)));

    release_tx.send(()).unwrap();
    other.join().unwrap();
    assert!(
        save.await.unwrap().unwrap(),
        "the save landed once the lock was free"
    );
    let seen = store.load(&id, None, NOW).await.unwrap().unwrap();
    assert_eq!(seen.data.get("n"), Some(&Value::Int(2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_write_ahead_log_stays_bounded_under_steady_writes() {
    let path = fresh_db("wal-bound");
    let store = SqliteStore::open(&path).await.unwrap();
    let id = SessionId::generate().unwrap();
    assert!(store.create(&id, &record(0, LATER), NOW).await.unwrap());
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let mut largest = 0;
    for n in 1..=5000 {
        assert!(store.save(&id, &record(n, LATER), NOW).await.unwrap());
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // Each commit appends a 4 KiB page: without checkpoints the log would reach ~20 MB.
    assert!(largest < 6 * 1024 * 1024, "the log grew to {largest} bytes");
    let seen = store.load(&id, None, NOW).await.unwrap().unwrap();
    assert_eq!(seen.data.get("n"), Some(&Value::Int(5000)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_walks_past_its_batch_size() {
    let path = fresh_db("purge-batches");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut live = Vec::new();
    for n in 0..2500 {
        let id = SessionId::generate().unwrap();
        let expired = n % 2 == 0;
        let expires_at = if expired { NOW - 1 } else { LATER };
        assert!(store.create(&id, &record(n, expires_at), 0).await.unwrap());
        if !expired {
            live.push(id);
        }
    }
    assert_eq!(store.delete_expired(NOW).await.unwrap(), 1250);
    assert_eq!(store.delete_expired(NOW).await.unwrap(), 0);
    let mut kept = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.scan(cursor, 400).await.unwrap();
        kept.extend(page.ids);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    live.sort();
    kept.sort();
    assert_eq!(kept, live, "exactly the live sessions are left");
}

/// Saves to 100 sessions, half of which do not exist, all at once: the writes share group
/// commits, and each caller still learns what its own write did.
async fn concurrent_writes_each_get_their_own_answer(path: PathBuf) {
    let store = SqliteStore::open(&path).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..100 {
        let id = SessionId::generate().unwrap();
        if n % 2 == 0 {
            assert!(store.create(&id, &record(0, LATER), NOW).await.unwrap());
        }
        ids.push(id);
    }
    let saves: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { store.save(&id, &record(n as i64, LATER), NOW).await })
        })
        .collect();
    for (n, save) in saves.into_iter().enumerate() {
        let saved = save.await.unwrap().unwrap();
        assert_eq!(saved, n % 2 == 0, "save {n} reports its own row");
    }
    for (n, id) in ids.iter().enumerate() {
        let seen = store.load(id, None, NOW).await.unwrap();
        match seen {
            Some(seen) => {
                assert_eq!(n % 2, 0, "session {n} was never created");
                assert_eq!(seen.data.get("n"), Some(&Value::Int(n as i64)));
            }
            None => assert_eq!(n % 2, 1, "session {n} lost"),
        }
    }
}

#[tokio::test]
async fn concurrent_writes_on_one_thread_each_get_their_own_answer() {
    concurrent_writes_each_get_their_own_answer(fresh_db("group-one-thread")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_on_two_threads_each_get_their_own_answer() {
    concurrent_writes_each_get_their_own_answer(fresh_db("group-two-threads")).await;
}

#[tokio::test]
async fn a_failing_write_does_not_fail_the_writes_committed_with_it() {
    let path = fresh_db("group-poison");
    let store = SqliteStore::open(&path).await.unwrap();
    let ids: Vec<_> = (0..20).map(|_| SessionId::generate().unwrap()).collect();
    for id in &ids {
        assert!(store.create(id, &record(0, LATER), NOW).await.unwrap());
    }
    // Another program's trigger refuses one session's updates (any statement error will
    // do: the group it was in must be rolled back and replayed without it).
    let poisoned = ids[7].as_str().to_owned();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse BEFORE UPDATE ON flacon_sessions WHEN NEW.id = '{poisoned}'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        ))
        .unwrap();
    let saves: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { store.save(&id, &record(1, LATER), NOW).await })
        })
        .collect();
    for (n, save) in saves.into_iter().enumerate() {
        let result = save.await.unwrap();
        if n == 7 {
            assert!(result.is_err(), "the refused write reports its error");
        } else {
            assert!(result.unwrap(), "write {n} landed");
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let seen = store.load(id, None, NOW).await.unwrap().unwrap();
        let expected = if n == 7 { 0 } else { 1 };
        assert_eq!(
            seen.data.get("n"),
            Some(&Value::Int(expected)),
            "session {n}"
        );
    }
}

/// Saves to `ids` in a loop until `stop` is set: a steady stream of inline commits from
/// another connection. Returns how many saves were made.
fn keep_writing(
    store: &SqliteStore,
    ids: Vec<SessionId>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let store = store.clone();
    tokio::spawn(async move {
        let mut saves = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for id in &ids {
                store
                    .save(id, &record(saves as i64, LATER), NOW)
                    .await
                    .unwrap();
                saves += 1;
            }
        }
        saves
    })
}

async fn writers(store: &SqliteStore, n: usize) -> Vec<SessionId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = SessionId::generate().unwrap();
        assert!(store
            .create(&id, &record(i as i64, LATER), NOW)
            .await
            .unwrap());
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_rotation_succeeds_under_concurrent_writes() {
    let path = fresh_db("rotate-under-load");
    let store = SqliteStore::open(&path).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(keep_writing(&store, writers(&store, 8).await, stop.clone()));
    }
    let mut id = SessionId::generate().unwrap();
    assert!(store.create(&id, &record(-1, LATER), NOW).await.unwrap());
    for _ in 0..300 {
        let next = SessionId::generate().unwrap();
        // A login under write load: never a store error (a 503).
        assert!(store.change_id(&id, &next, NOW).await.unwrap());
        id = next;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut saves = 0;
    for handle in handles {
        saves += handle.await.unwrap();
    }
    assert!(saves > 300, "the writers hardly ran: {saves} saves");
    let seen = store.load(&id, None, NOW).await.unwrap().unwrap();
    assert_eq!(seen.data.get("n"), Some(&Value::Int(-1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_under_concurrent_writes_reaches_the_end_of_the_table() {
    let path = fresh_db("purge-under-load");
    let store = SqliteStore::open(&path).await.unwrap();
    let expired = 8000;
    for i in 0..expired {
        let id = SessionId::generate().unwrap();
        assert!(store
            .create(&id, &record(i, NOW - 1), NOW - 10)
            .await
            .unwrap());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let live = writers(&store, 16).await;
    let writer = keep_writing(&store, live.clone(), stop.clone());
    let removed = store.delete_expired(NOW).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.await.unwrap() > 0);
    assert_eq!(removed, expired as usize);
    for id in &live {
        assert!(store.load(id, None, NOW).await.unwrap().is_some());
    }
}
