//! StoreLayer behaviour beyond Flask-Session: id rotation against fixation, signed ids,
//! and a configurable store-error response; every case on both adapters (axum, actix-web).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/adapters.rs"]
mod adapters;
mod common;

use std::sync::Arc;

use adapters::{Adapter, Routes, TestApp};
use common::redis_server::RedisServer;
use flacon::http::{ErrorResponder, ServerSideConfig, SessionFailure};
use flacon::store::redis::RedisStore;
use flacon::store::{MemoryStore, SessionId, SessionStore};
use flacon::{KeyRing, SecretKey, Session, StoreLayer};
use http::{Response, StatusCode};

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("store-layer-test-key-123456"))
}

fn login_routes() -> Routes {
    Routes::new()
        .route("/login", |s: Session| async move {
            s.insert("user", "ada").unwrap();
            s.cycle_id();
            "in"
        })
        .route("/whoami", |s: Session| async move {
            s.get::<String>("user").unwrap_or_default()
        })
}

async fn app<S: SessionStore>(adapter: Adapter, layer: StoreLayer<S>) -> TestApp {
    crate::test_app!(adapter, layer, login_routes())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A memory store whose writes fail while `down` is set: the store is reachable for the
/// load and gone by the save.
#[derive(Default)]
struct WritesFail {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

impl WritesFail {
    fn check(&self) -> Result<(), flacon::store::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(flacon::store::StoreError::unavailable(
                std::io::Error::other("store down"),
            ));
        }
        Ok(())
    }
}

impl SessionStore for WritesFail {
    async fn create(
        &self,
        id: &SessionId,
        record: &flacon::store::Record,
        now: u64,
    ) -> Result<bool, flacon::store::StoreError> {
        self.check()?;
        self.inner.create(id, record, now).await
    }
    async fn load(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<flacon::store::Record>, flacon::store::StoreError> {
        self.inner.load(id, refresh_to, now).await
    }
    async fn save(
        &self,
        id: &SessionId,
        record: &flacon::store::Record,
        now: u64,
    ) -> Result<bool, flacon::store::StoreError> {
        self.check()?;
        self.inner.save(id, record, now).await
    }
    async fn touch(
        &self,
        id: &SessionId,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, flacon::store::StoreError> {
        self.inner.touch(id, expires_at, now).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), flacon::store::StoreError> {
        self.inner.delete(id).await
    }
    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, flacon::store::StoreError> {
        self.check()?;
        self.inner.change_id(old, new, now).await
    }
    async fn delete_expired(&self, now: u64) -> Result<usize, flacon::store::StoreError> {
        self.inner.delete_expired(now).await
    }
    async fn scan(
        &self,
        cursor: Option<String>,
        page_size: usize,
    ) -> Result<flacon::store::ScanPage, flacon::store::StoreError> {
        self.inner.scan(cursor, page_size).await
    }
}

crate::on_both_adapters! {
async fn cycle_id_moves_the_session_and_kills_the_old_id(adapter: Adapter) {
    let store = Arc::new(MemoryStore::new(100));
    let app = app(adapter, StoreLayer::new(store.clone(), keys())).await;
    let (_, first, _) = app.get("/login", None).await;
    let first = first.unwrap();
    let (_, second, _) = app.get("/login", Some(&first)).await;
    let second = second.unwrap();
    assert_ne!(first, second, "a new id at login");
    assert!(store
        .load(&SessionId::parse(&first).unwrap(), None, now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(app.get("/whoami", Some(&second)).await.2, "ada");
    assert_eq!(
        app.get("/whoami", Some(&first)).await.2,
        "",
        "the old id is dead"
    );
}

async fn signed_ids_reject_tampering(adapter: Adapter) {
    let server = ServerSideConfig::builder().use_signer(true).build();
    let app = app(adapter, StoreLayer::new(MemoryStore::new(100), keys()).with_server_config(server)).await;
    let (_, cookie, _) = app.get("/login", None).await;
    let cookie = cookie.unwrap();
    let (sid, signature) = cookie.split_once('.').expect("sid.signature");
    assert_eq!((sid.len(), signature.len()), (43, 27));
    assert_eq!(app.get("/whoami", Some(&cookie)).await.2, "ada");
    assert_eq!(
        app.get("/whoami", Some(sid)).await.2,
        "",
        "a bare id is not accepted"
    );
    let forged = format!("{sid}.{}", "A".repeat(27));
    assert_eq!(app.get("/whoami", Some(&forged)).await.2, "");
}

async fn the_store_error_response_is_configurable(adapter: Adapter) {
    // Nothing listens on port 1: every store call fails fast.
    let store = RedisStore::open("redis://127.0.0.1:1/0").unwrap();
    let layer = StoreLayer::new(store, keys()).on_error(ErrorResponder::new(|failure| {
        assert!(matches!(failure, SessionFailure::StoreUnavailable { .. }));
        let mut response = Response::new("<h1>Back soon</h1>".to_owned());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    }));
    let app = app(adapter, layer).await;
    let (status, cookie, body) = app
        .get(
            "/whoami",
            Some("some-session-id-0123456789012345678901234567"),
        )
        .await;
    assert_eq!(
        (status, cookie, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, None, "<h1>Back soon</h1>")
    );
    let (status, _, _) = app.get("/login", None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a new session cannot be saved either"
    );
}

async fn expiry_refresh_is_throttled_for_stores_that_cannot_refresh_on_load(adapter: Adapter) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let clock = Arc::new(AtomicU64::new(1_800_000_000));
    let store = Arc::new(MemoryStore::new(100));
    let server = ServerSideConfig::builder()
        .touch_interval(std::time::Duration::from_secs(60))
        .build();
    let now = clock.clone();
    let layer = StoreLayer::new(store.clone(), keys())
        .with_server_config(server)
        .with_clock(move || now.load(Ordering::SeqCst));
    let app = app(adapter, layer).await;
    let lifetime = 31 * 24 * 3600;
    let (_, sid, _) = app.get("/login", None).await;
    let sid = sid.unwrap();
    let id = SessionId::parse(&sid).unwrap();
    let expiry = |at| {
        let store = store.clone();
        let id = id.clone();
        async move { store.load(&id, None, at).await.unwrap().unwrap().expires_at }
    };
    assert_eq!(expiry(1_800_000_000).await, 1_800_000_000 + lifetime);

    clock.store(1_800_000_030, Ordering::SeqCst);
    assert_eq!(app.get("/whoami", Some(&sid)).await.2, "ada");
    assert_eq!(
        expiry(1_800_000_030).await,
        1_800_000_000 + lifetime,
        "no write within the interval"
    );

    clock.store(1_800_000_100, Ordering::SeqCst);
    assert_eq!(app.get("/whoami", Some(&sid)).await.2, "ada");
    assert_eq!(
        expiry(1_800_000_100).await,
        1_800_000_100 + lifetime,
        "extended once it is due"
    );
}

async fn settings_apply_to_a_layer_that_was_cloned_first(adapter: Adapter) {
    let base = StoreLayer::new(MemoryStore::new(100), keys());
    let _kept = base.clone();
    let signed = base.with_server_config(ServerSideConfig::builder().use_signer(true).build());
    let (_, cookie, _) = app(adapter, signed).await.get("/login", None).await;
    assert!(
        cookie.unwrap().contains('.'),
        "the signer setting took effect"
    );
}

async fn a_handler_that_matches_the_rejection_answers_the_outage_itself(adapter: Adapter) {
    use flacon::http::SessionRejection;
    let store = RedisStore::open("redis://127.0.0.1:1/0").unwrap();
    let routes = Routes::new()
        .catching("/login", |s: Result<Session, SessionRejection>| async move {
            match s {
                Ok(_) => (StatusCode::OK, "in"),
                Err(_) => (StatusCode::UNAUTHORIZED, "wrong password, or try later"),
            }
        })
        .route("/plain", |_: Session| async { "never" });
    let app = crate::test_app!(adapter, StoreLayer::new(store, keys()), routes);
    let cookie = Some("some-session-id-0123456789012345678901234567");
    let (status, set_cookie, body) = app.get("/login", cookie).await;
    assert_eq!(
        (status, set_cookie, body.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            None,
            "wrong password, or try later"
        )
    );
    // A handler that does not catch it still gets the layer's error response.
    let (status, _, body) = app.get("/plain", cookie).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.starts_with("Session storage is temporarily unavailable."),
        "{body}"
    );
}

async fn an_explicit_save_fails_before_the_side_effects(adapter: Adapter) {
    let store = Arc::new(WritesFail::default());
    let charged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let charged = charged.clone();
        let routes = Routes::new().route("/buy", move |s: Session| {
            let charged = charged.clone();
            async move {
                s.insert("order", "bike").unwrap();
                if s.save().await.is_err() {
                    return (StatusCode::SERVICE_UNAVAILABLE, "not charged".to_owned());
                }
                // Saved before the side effect: the record is in the store already.
                charged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (
                    StatusCode::OK,
                    format!("charged, order {:?}", s.id().map(|i| i.as_str().len())),
                )
            }
        });
        crate::test_app!(adapter, StoreLayer::new(store.clone(), keys()), routes)
    };
    store.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, cookie, body) = app.get("/buy", None).await;
    assert_eq!(
        (status, cookie, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, None, "not charged")
    );
    assert_eq!(charged.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(store.inner.len(), 0);

    store
        .down
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let (status, cookie, body) = app.get("/buy", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "charged, order Some(43)")
    );
    assert_eq!(store.inner.len(), 1);
    let id = SessionId::parse(&cookie.expect("the response carries the saved session's cookie"))
        .unwrap();
    let record = store.inner.load(&id, None, now()).await.unwrap().unwrap();
    assert_eq!(record.data.get("order"), Some(&flacon::Value::from("bike")));
}

async fn the_error_responder_sees_the_request_and_the_cause(adapter: Adapter) {
    let store = Arc::new(WritesFail::default());
    store.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let layer = StoreLayer::new(store, keys()).on_error(ErrorResponder::with_request(
        |failure, request| {
            let cause = failure.cause().map(ToString::to_string).unwrap_or_default();
            let body = if request.uri().path().starts_with("/api/") {
                format!("{{\"error\":\"unavailable\",\"cause\":{cause:?}}}")
            } else {
                format!(
                    "<p>{} {}: back soon</p>",
                    request.method(),
                    request.uri().path()
                )
            };
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        },
    ));
    let login = |s: Session| async move {
        s.insert("user", "ada").unwrap();
        "in"
    };
    let routes = Routes::new()
        .route("/api/login", login)
        .route("/login", login);
    let app = crate::test_app!(adapter, layer, routes);
    let (status, _, body) = app.get("/api/login", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "{\"error\":\"unavailable\",\"cause\":\"session store unavailable: store down\"}"
    );
    let (_, _, body) = app.get("/login", None).await;
    assert_eq!(body, "<p>GET /login: back soon</p>");
}

/// A handler with two session extractors gets one session, loaded once: no deadlock, no
/// second store round trip, and a change through either is saved.
async fn two_extractors_in_one_handler_share_one_session(adapter: Adapter) {
    let redis = RedisServer::start();
    let layer = StoreLayer::new(RedisStore::open(&redis.url()).unwrap(), keys());
    let routes = login_routes().twice("/both", |a: Session, b: Session| async move {
        let seen = b.get::<String>("user").unwrap_or_default();
        a.insert("visits", &1_u64).unwrap();
        format!("{seen} {}", b.get::<u64>("visits").unwrap_or_default())
    });
    let app = crate::test_app!(adapter, layer, routes);
    let (_, sid, _) = app.get("/login", None).await;
    let sid = sid.unwrap();
    let (status, _, body) = app.get("/both", Some(&sid)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ada 1"));
    let record = redis.cli(&["GET", &format!("session:{sid}")]);
    assert!(record.contains("visits"), "saved: {record:?}");
}

/// A cookie naming an id the store does not hold is never adopted: the session starts
/// empty under a fresh id, and nothing is written under the one the client chose.
async fn an_unknown_id_is_never_adopted(adapter: Adapter) {
    let store = Arc::new(MemoryStore::new(100));
    let app = app(adapter, StoreLayer::new(store.clone(), keys())).await;
    let chosen = "attacker-chosen-id-000000000000000000000000";
    let (_, issued, _) = app.get("/login", Some(chosen)).await;
    let issued = issued.unwrap();
    assert_ne!(issued, chosen);
    assert_eq!(store.len(), 1);
    assert!(store
        .load(&SessionId::parse(chosen).unwrap(), None, now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(app.get("/whoami", Some(&issued)).await.2, "ada");
}

/// Saves are update-only: a request that only reads writes nothing, so it succeeds even
/// while every store write fails (the permanent session's cookie is re-sent, as
/// Flask-Session's refresh does, under the same id).
async fn a_read_writes_nothing(adapter: Adapter) {
    let store = Arc::new(WritesFail::default());
    let app = app(adapter, StoreLayer::new(store.clone(), keys())).await;
    let (_, sid, _) = app.get("/login", None).await;
    let sid = sid.unwrap();
    store.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, cookie, body) = app.get("/whoami", Some(&sid)).await;
    assert_eq!(
        (status, cookie.as_deref(), body.as_str()),
        (StatusCode::OK, Some(sid.as_str()), "ada")
    );
    let (status, _, _) = app.get("/login", Some(&sid)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a write does fail");
}

/// Redis stops mid-run: requests get 503 and the session is not replaced by an empty one;
/// once Redis is back, the same cookie finds the same session.
async fn an_outage_is_a_503_and_nothing_is_lost(adapter: Adapter) {
    let mut redis = RedisServer::start();
    let layer = StoreLayer::new(RedisStore::open(&redis.url()).unwrap(), keys());
    let app = app(adapter, layer).await;
    let (_, sid, _) = app.get("/login", None).await;
    let sid = sid.unwrap();
    redis.stop();
    for path in ["/whoami", "/login"] {
        let (status, cookie, body) = app.get(path, Some(&sid)).await;
        assert_eq!((status, cookie), (StatusCode::SERVICE_UNAVAILABLE, None), "{path}");
        assert!(body.starts_with("Session storage is temporarily unavailable."), "{body}");
    }
    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _, body) = app.get("/whoami", Some(&sid)).await;
        if status == StatusCode::OK {
            assert_eq!(body, "ada");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "Redis is back, the store is not");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
}
