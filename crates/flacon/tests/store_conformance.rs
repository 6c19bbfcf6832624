//! The store conformance suite on every store flacon ships, each against the real thing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::redis_server::RedisServer;
use flacon::store::conformance;
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{MemoryStore, Record, SessionId, SessionStore};
use flacon::{Map, Value};

/// The suite on a current-thread runtime (`#[tokio::test]`'s default, where one blocking
/// call freezes everything) and on a multi-threaded one.
macro_rules! conforms_on_both_runtimes {
    ($name:ident, $check:path) => {
        mod $name {
            #[tokio::test(flavor = "current_thread")]
            async fn current_thread() {
                $check("current").await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn multi_thread() {
                $check("multi").await;
            }
        }
    };
}

conforms_on_both_runtimes!(memory_store_conforms, super::memory);
conforms_on_both_runtimes!(sqlite_store_conforms, super::sqlite);
conforms_on_both_runtimes!(redis_store_conforms, super::redis);

async fn memory(_: &str) {
    conformance::check(&MemoryStore::new(1000)).await;
}

async fn sqlite(runtime: &str) {
    let dir = common::python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("conformance-{runtime}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    conformance::check(&SqliteStore::open(&path).await.unwrap()).await;
}

async fn redis(_: &str) {
    let redis = RedisServer::start();
    conformance::check(&RedisStore::open(&redis.url()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_redis_is_an_error_after_the_timeout_not_a_hang() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url()).unwrap();
    let id = SessionId::generate().unwrap();
    let mut data = Map::default();
    data.insert("n".into(), Value::Int(1));
    let record = Record {
        data,
        expires_at: 4_000_000_000,
    };
    assert!(store.create(&id, &record, 3_999_999_000).await.unwrap());

    redis.freeze(true);
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.load(&id, None, 3_999_999_000),
    )
    .await
    .expect("the store gives up by itself, well before 10 s");
    redis.freeze(false);
    assert!(
        matches!(outcome, Err(flacon::store::StoreError::Unavailable(_))),
        "{outcome:?}"
    );
    let back = store.load(&id, None, 3_999_999_000).await.unwrap();
    assert_eq!(
        back.map(|r| r.data),
        Some(record.data),
        "served again once Redis answers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_store_stays_within_capacity() {
    let store = MemoryStore::new(100);
    let mut data = Map::default();
    data.insert("n".into(), Value::Int(1));
    for i in 0..1000_u64 {
        let record = Record {
            data: data.clone(),
            expires_at: 2_000_000_000 + i,
        };
        assert!(store
            .create(&SessionId::generate().unwrap(), &record, 1_900_000_000)
            .await
            .unwrap());
        assert!(store.len() <= 100);
    }
    assert_eq!(store.len(), 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster_store_conforms() {
    let cluster = common::redis_server::RedisCluster::start();
    let urls = cluster.urls();
    let nodes: Vec<&str> = urls.iter().map(String::as_str).collect();
    conformance::check(&RedisStore::cluster(&nodes).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_store_through_sentinel_conforms() {
    let sentinel = common::redis_server::RedisSentinel::start();
    let store = RedisStore::sentinel(&[&sentinel.url()], "flacon-primary").unwrap();
    conformance::check(&store).await;
    let id = SessionId::generate().unwrap();
    let record = Record {
        data: Map::default(),
        expires_at: 4_000_000_000,
    };
    assert!(store.create(&id, &record, 3_999_999_000).await.unwrap());
    let key = format!("session:{}", id.as_str());
    assert_eq!(
        sentinel.primary.cli(&["EXISTS", &key]),
        "1",
        "written to the primary the sentinel names"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purge_task_removes_expired_sqlite_rows() {
    let dir = common::python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("purge-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let record = |expires_at| Record {
        data: Map::default(),
        expires_at,
    };
    let (gone, kept) = (
        SessionId::generate().unwrap(),
        SessionId::generate().unwrap(),
    );
    assert!(store.create(&gone, &record(1_000), 0).await.unwrap());
    assert!(store
        .create(&kept, &record(u64::from(u32::MAX)), 0)
        .await
        .unwrap());
    let task =
        flacon::store::purge_expired_every(store.clone(), std::time::Duration::from_millis(50));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    task.abort();
    let ids = store.scan(None, 10).await.unwrap().ids;
    assert_eq!(ids, vec![kept], "only the expired row was removed");
}
