//! The behaviour every [`SessionStore`] must have, as one async check a store's own tests
//! run. flacon runs it against the memory, SQLite and Redis stores; a third-party store
//! proves itself the same way:
//!
//! ```
//! # async fn demo() {
//! let store = flacon::store::MemoryStore::new(1000);
//! flacon::store::conformance::check(&store).await;
//! # }
//! ```

use super::{sleep_anywhere as sleep, Record, SaveOutcome, SessionId, SessionStore};
use crate::value::{Map, Value};

fn record(n: i64, expires_at: u64) -> Record {
    let mut data = Map::default();
    data.insert("_permanent".to_owned(), Value::Bool(true));
    data.insert("n".to_owned(), Value::Int(n));
    data.insert("email".to_owned(), Value::from("someone@example.com"));
    Record { data, expires_at }
}

#[allow(clippy::panic)]
fn id() -> SessionId {
    match SessionId::generate() {
        Ok(id) => id,
        Err(e) => panic!("random ids: {e}"),
    }
}

/// Runs every rule against `store`, panicking with the broken rule's name. Uses times around
/// the present so stores that expire records by wall clock (Redis) agree, and waits about
/// two seconds (without blocking its runtime) to see a record expire.
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
pub async fn check<S: SessionStore>(store: &S) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1_700_000_000, |d| d.as_secs());
    let later = now + 3600;

    // create is atomic and unique
    let a = id();
    assert!(
        store.create(&a, &record(1, later), now).await.unwrap(),
        "create: a new id is stored"
    );
    assert!(
        !store.create(&a, &record(2, later), now).await.unwrap(),
        "create: an existing id is refused"
    );
    let loaded = store
        .load(&a, None, now)
        .await
        .unwrap()
        .expect("load: a created record is found");
    assert_eq!(
        loaded.data,
        record(1, later).data,
        "load: data round-trips in insertion order"
    );

    // save updates only what exists
    assert!(
        store.save(&a, &record(3, later), now).await.unwrap(),
        "save: an existing record is updated"
    );
    assert_eq!(
        store.load(&a, None, now).await.unwrap().unwrap().data,
        record(3, later).data,
        "save: the update is visible"
    );
    let ghost = id();
    assert!(
        !store.save(&ghost, &record(4, later), now).await.unwrap(),
        "save: a missing record is not created"
    );
    assert!(
        store.load(&ghost, None, now).await.unwrap().is_none(),
        "save: nothing was resurrected"
    );

    // delete, then a late save does not bring the session back
    store.delete(&a).await.unwrap();
    assert!(
        store.load(&a, None, now).await.unwrap().is_none(),
        "delete: the record is gone"
    );
    assert!(
        !store.save(&a, &record(5, later), now).await.unwrap(),
        "save after delete: refused"
    );
    assert!(
        store.load(&a, None, now).await.unwrap().is_none(),
        "save after delete: still gone"
    );
    store.delete(&a).await.unwrap();

    // touch extends expiry; expired records are invisible and purged
    let b = id();
    assert!(store.create(&b, &record(6, now + 100), now).await.unwrap());
    assert!(
        store.touch(&b, later, now).await.unwrap(),
        "touch: an existing record is extended"
    );
    let touched = store.load(&b, None, now).await.unwrap().unwrap();
    assert!(
        touched.expires_at >= later - 1,
        "touch: the new expiry is kept"
    );
    assert!(
        !store.touch(&ghost, later, now).await.unwrap(),
        "touch: a missing record is not created"
    );

    // change_id moves the data and kills the old id
    let c = id();
    assert!(
        store.change_id(&b, &c, now).await.unwrap(),
        "change_id: moved"
    );
    assert!(
        store.load(&b, None, now).await.unwrap().is_none(),
        "change_id: the old id is dead"
    );
    assert_eq!(
        store.load(&c, None, now).await.unwrap().unwrap().data,
        record(6, later).data,
        "change_id: data kept"
    );
    assert!(
        !store.change_id(&ghost, &id(), now).await.unwrap(),
        "change_id: a missing id moves nothing"
    );
    let taken = id();
    assert!(store.create(&taken, &record(9, later), now).await.unwrap());
    assert!(
        !store.change_id(&c, &taken, now).await.unwrap(),
        "change_id: an id in use is not taken over"
    );
    assert_eq!(
        store.load(&taken, None, now).await.unwrap().unwrap().data,
        record(9, later).data,
        "change_id: the record under the id in use is left alone"
    );
    assert!(
        store.load(&c, None, now).await.unwrap().is_some(),
        "change_id: a refused move keeps the session"
    );
    store.delete(&taken).await.unwrap();

    // scan sees what is there
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.scan(cursor, 2).await.unwrap();
        seen.extend(page.ids);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(seen.contains(&c), "scan: a live record is listed");

    // expiry: a record past its time is gone for load, save and touch; purging keeps the rest
    let d = id();
    assert!(store.create(&d, &record(7, now + 1), now).await.unwrap());
    // Wall-clock stores (Redis) expire on their own clock, so really wait.
    sleep(std::time::Duration::from_millis(2200)).await;
    let after = now + 3;
    assert!(
        store.load(&d, None, after).await.unwrap().is_none(),
        "load: an expired record is not returned"
    );
    assert!(
        !store.save(&d, &record(8, later), after).await.unwrap(),
        "save: an expired record is not revived"
    );
    store.delete_expired(after).await.unwrap();
    assert!(
        store.load(&d, None, after).await.unwrap().is_none(),
        "delete_expired: expired records go"
    );
    assert!(
        store.load(&c, None, after).await.unwrap().is_some(),
        "delete_expired: live records stay"
    );
    store.delete(&c).await.unwrap();
    check_overlap(store, now, later).await;
}

/// Compare-and-set saves and per-session locks: what keeps overlapping requests of one
/// session from erasing each other's writes.
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
async fn check_overlap<S: SessionStore>(store: &S, now: u64, later: u64) {
    let e = id();
    assert!(store.create(&e, &record(1, later), now).await.unwrap());
    let (_, first) = store
        .load_versioned(&e, None, now)
        .await
        .unwrap()
        .expect("load_versioned: a stored record is returned");
    let (_, same) = store.load_versioned(&e, None, now).await.unwrap().unwrap();
    assert_eq!(
        first, same,
        "load_versioned: an unchanged record keeps its version"
    );
    let SaveOutcome::Saved(second) = store
        .save_if(&e, &record(2, later), &first, now)
        .await
        .unwrap()
    else {
        panic!("save_if: a record still as loaded is written");
    };
    let (stored, reread) = store.load_versioned(&e, None, now).await.unwrap().unwrap();
    assert_eq!(
        stored.data.get("n"),
        Some(&Value::Int(2)),
        "save_if: the new data is stored"
    );
    assert_eq!(second, reread, "save_if: reports the version it stored");
    assert_eq!(
        store
            .save_if(&e, &record(3, later), &first, now)
            .await
            .unwrap(),
        SaveOutcome::Changed,
        "save_if: a record another save changed since the load is not written"
    );
    let (kept, _) = store.load_versioned(&e, None, now).await.unwrap().unwrap();
    assert_eq!(
        kept.data.get("n"),
        Some(&Value::Int(2)),
        "save_if: a refused save writes nothing"
    );
    store.delete(&e).await.unwrap();
    assert_eq!(
        store
            .save_if(&e, &record(4, later), &second, now)
            .await
            .unwrap(),
        SaveOutcome::Gone,
        "save_if: a deleted record is not brought back"
    );
    assert!(store.load(&e, None, now).await.unwrap().is_none());

    let now_ms = now * 1000;
    match store.try_lock(&e, "first", now_ms + 60_000, now_ms).await {
        Err(super::StoreError::Unsupported(_)) => return,
        locked => assert!(locked.unwrap(), "try_lock: a free lock is taken"),
    }
    assert!(
        !store
            .try_lock(&e, "second", now_ms + 60_000, now_ms)
            .await
            .unwrap(),
        "try_lock: a held lock is not taken by another token"
    );
    store.unlock(&e, "second").await.unwrap();
    assert!(
        !store
            .try_lock(&e, "second", now_ms + 60_000, now_ms)
            .await
            .unwrap(),
        "unlock: another token cannot release a lock it does not hold"
    );
    store.unlock(&e, "first").await.unwrap();
    assert!(
        store
            .try_lock(&e, "second", now_ms + 1_000, now_ms)
            .await
            .unwrap(),
        "unlock: a released lock is free"
    );
    // A holder that died: its hold runs out (on the store's clock, for Redis).
    sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        store
            .try_lock(&e, "third", now_ms + 61_000, now_ms + 1_100)
            .await
            .unwrap(),
        "try_lock: a lock whose hold ran out is free"
    );
    store.unlock(&e, "third").await.unwrap();
}
