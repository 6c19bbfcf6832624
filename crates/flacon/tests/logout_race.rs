//! A logout racing a slow request on the same session is never undone, on every store
//! (Flask-Session's whole-value SET brings such a session back).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use common::redis_server::RedisServer;
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{MemoryStore, SessionId, SessionStore};
use flacon::{KeyRing, SecretKey, Session, StoreLayer};
use http::header::{COOKIE, SET_COOKIE};
use http::Request;
use tower::ServiceExt as _;

async fn race<S: SessionStore + Clone>(store: S) {
    let layer = StoreLayer::new(
        store.clone(),
        KeyRing::new(SecretKey::from_text("race-test-key-0123456789")),
    );
    let app = Router::new()
        .route(
            "/login",
            get(|s: Session| async move {
                s.insert("user", "ada").unwrap();
                "in"
            }),
        )
        .route(
            "/logout",
            get(|s: Session| async move {
                s.clear();
                "out"
            }),
        )
        .route(
            "/slow",
            get(|s: Session| async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                s.insert("last_seen", &1).unwrap();
                "slow"
            }),
        )
        .layer(layer);
    let send = |path: &'static str, cookie: Option<String>| {
        let app = app.clone();
        async move {
            let mut request = Request::get(path);
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, format!("session={cookie}"));
            }
            app.oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    let login = send("/login", None).await;
    let sid = common::set_session_cookie(login.headers()).unwrap();

    let slow = tokio::spawn(send("/slow", Some(sid.clone())));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logout = send("/logout", Some(sid.clone())).await;
    assert!(logout
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("session=;"));
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 200);
    assert!(
        slow.headers().get(SET_COOKIE).is_none(),
        "the slow request must not re-issue the session"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = SessionId::parse(&sid).unwrap();
    assert!(
        store.load(&id, None, now).await.unwrap().is_none(),
        "the logout stands"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory() {
    race(std::sync::Arc::new(MemoryStore::new(100))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite() {
    let dir = common::python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("race-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    race(std::sync::Arc::new(SqliteStore::open(&path).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis() {
    let server = RedisServer::start();
    race(std::sync::Arc::new(
        RedisStore::open(&server.url()).unwrap(),
    ))
    .await;
}
