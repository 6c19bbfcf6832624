//! A Redis that is down when flacon starts (or after a Sentinel reset): the requests that
//! wait for a connection share one attempt, so each gets its store error within the command
//! timeout rather than one after another.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use flacon::store::redis::RedisStore;
use flacon::store::{Record, SessionId, SessionStore, StoreError};
use flacon::{Map, Value};

/// The store's command timeout.
const TIMEOUT: Duration = Duration::from_secs(2);

async fn fifty_concurrent_loads(store: &Arc<RedisStore>) -> Vec<(Duration, bool)> {
    let id = SessionId::generate().unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                let outcome = store.load(&id, None, 1_900_000_000).await;
                (started.elapsed(), outcome)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        let (took, outcome) = task.await.unwrap();
        answers.push((took, matches!(outcome, Err(StoreError::Unavailable(_)))));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_for_a_connection_share_one_attempt() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.stop();
    let store = Arc::new(RedisStore::open(&url).unwrap());
    for round in 0..2 {
        let answers = fifty_concurrent_loads(&store).await;
        assert!(
            answers.iter().all(|(_, failed)| *failed),
            "round {round}: {answers:?}"
        );
        let slowest = answers.iter().map(|(took, _)| *took).max().unwrap();
        assert!(
            slowest < TIMEOUT,
            "round {round}: the slowest answer took {slowest:?}"
        );
    }
    // Back up: the next request connects and works.
    redis.restart();
    let id = SessionId::generate().unwrap();
    let mut data = Map::default();
    data.insert("n".to_owned(), Value::Int(1));
    let record = Record {
        data,
        expires_at: 1_900_000_100,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.create(&id, &record, 1_900_000_000).await {
            Ok(created) => {
                assert!(created);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("Redis is back but the store still fails: {e}"),
        }
    }
}
