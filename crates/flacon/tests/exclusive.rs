//! `SessionModeLayer::exclusive()` on actix-web (the axum side is `flacon serve`'s `/count`,
//! tested in flacon-cli's `overlap.rs`): a real actix-web server, 25 requests of one session
//! at a time on a counter, 1,000 in all, each counted once; and a lock held past the wait
//! is a `503` with `Retry-After: 1`, the handler never run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use common::http_client::try_request;
use flacon::http::SessionModeLayer;
use flacon::store::{MemoryStore, SessionId, SessionStore};
use flacon::{KeyRing, SecretKey, Session, StoreLayer};

const KEY: &str = "exclusive-route-key-0c9d8e7f6a5b";

async fn count(session: Session) -> HttpResponse {
    let count = session.get::<i64>("count").unwrap_or(0) + 1;
    session.insert("count", &count).unwrap();
    HttpResponse::Ok().body(count.to_string())
}

/// The counter behind `store` on a real actix-web server (two workers, so requests really
/// run at once); its port.
fn serve<S: SessionStore + Clone>(store: S, calls: Arc<AtomicUsize>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(async move {
                HttpServer::new(move || {
                    let calls = calls.clone();
                    App::new()
                        .wrap(StoreLayer::new(
                            store.clone(),
                            KeyRing::new(SecretKey::from_text(KEY)),
                        ))
                        .service(
                            web::resource("/count")
                                .wrap(
                                    SessionModeLayer::exclusive()
                                        .with_lock_wait(Duration::from_millis(300)),
                                )
                                .to(move |session: Session| {
                                    calls.fetch_add(1, Ordering::SeqCst);
                                    count(session)
                                }),
                        )
                })
                .workers(2)
                .listen(listener)?
                .run()
                .await
            })
            .unwrap();
    });
    port
}

fn cookie_of(reply: &common::http_client::Reply) -> String {
    reply.session_cookie().expect("a session cookie")
}

#[test]
fn an_exclusive_actix_route_counts_every_increment_once() {
    let store = Arc::new(MemoryStore::new(100));
    let port = serve(store, Arc::default());
    let first = try_request(port, "GET", "/count", None, None).unwrap();
    assert_eq!(first.body, "1");
    let cookie = cookie_of(&first);
    for _ in 0..40 {
        let barrier = Arc::new(Barrier::new(25));
        let threads: Vec<_> = (0..25)
            .map(|_| {
                let (barrier, cookie) = (barrier.clone(), cookie.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    try_request(port, "GET", "/count", Some(&cookie), None).unwrap()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap().status, 200);
        }
    }
    let last = try_request(port, "GET", "/count", Some(&cookie), None).unwrap();
    assert_eq!(
        last.body, "1002",
        "1 + 1,000 + 1 increments, each counted once"
    );
}

#[test]
fn a_lock_held_past_the_wait_is_a_503_and_the_handler_does_not_run() {
    let store = Arc::new(MemoryStore::new(100));
    let calls = Arc::new(AtomicUsize::new(0));
    let port = serve(store.clone(), calls.clone());
    let first = try_request(port, "GET", "/count", None, None).unwrap();
    let cookie = cookie_of(&first);
    // Another holder (a request of another process) has the session's lock.
    let id = SessionId::parse(&cookie).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime
        .block_on(store.try_lock(&id, "someone-else", now_ms + 60_000, now_ms))
        .unwrap());
    let refused = try_request(port, "GET", "/count", Some(&cookie), None).unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the handler did not run");
    runtime.block_on(store.unlock(&id, "someone-else")).unwrap();
    let after = try_request(port, "GET", "/count", Some(&cookie), None).unwrap();
    assert_eq!(after.body, "2", "the refused request changed nothing");
}
