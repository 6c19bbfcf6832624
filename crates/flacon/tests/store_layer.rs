//! StoreLayer behaviour beyond Flask-Session: id rotation against fixation, signed ids,
//! and a configurable store-error response.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use flacon::http::{ErrorResponder, ServerSideConfig, SessionFailure};
use flacon::store::redis::RedisStore;
use flacon::store::{MemoryStore, SessionId, SessionStore};
use flacon::{KeyRing, SecretKey, Session, StoreLayer};
use http::header::COOKIE;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("store-layer-test-key-123456"))
}

fn app<S: SessionStore>(layer: StoreLayer<S>) -> Router {
    Router::new()
        .route(
            "/login",
            get(|s: Session| async move {
                s.insert("user", "ada").unwrap();
                s.cycle_id();
                "in"
            }),
        )
        .route(
            "/whoami",
            get(|s: Session| async move { s.get::<String>("user").unwrap_or_default() }),
        )
        .layer(layer)
}

async fn call(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("session={cookie}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = common::set_session_cookie(response.headers());
    let status = response.status();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, cookie, body)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn cycle_id_moves_the_session_and_kills_the_old_id() {
    let store = Arc::new(MemoryStore::new(100));
    let app = app(StoreLayer::new(store.clone(), keys()));
    let (_, first, _) = call(&app, "/login", None).await;
    let first = first.unwrap();
    let (_, second, _) = call(&app, "/login", Some(&first)).await;
    let second = second.unwrap();
    assert_ne!(first, second, "a new id at login");
    assert!(store
        .load(&SessionId::parse(&first).unwrap(), None, now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(call(&app, "/whoami", Some(&second)).await.2, "ada");
    assert_eq!(
        call(&app, "/whoami", Some(&first)).await.2,
        "",
        "the old id is dead"
    );
}

#[tokio::test]
async fn signed_ids_reject_tampering() {
    let server = ServerSideConfig::builder().use_signer(true).build();
    let app = app(StoreLayer::new(MemoryStore::new(100), keys()).with_server_config(server));
    let (_, cookie, _) = call(&app, "/login", None).await;
    let cookie = cookie.unwrap();
    let (sid, signature) = cookie.split_once('.').expect("sid.signature");
    assert_eq!((sid.len(), signature.len()), (43, 27));
    assert_eq!(call(&app, "/whoami", Some(&cookie)).await.2, "ada");
    assert_eq!(
        call(&app, "/whoami", Some(sid)).await.2,
        "",
        "a bare id is not accepted"
    );
    let forged = format!("{sid}.{}", "A".repeat(27));
    assert_eq!(call(&app, "/whoami", Some(&forged)).await.2, "");
}

#[tokio::test]
async fn the_store_error_response_is_configurable() {
    // Nothing listens on port 1: every store call fails fast.
    let store = RedisStore::open("redis://127.0.0.1:1/0").unwrap();
    let layer = StoreLayer::new(store, keys()).on_error(ErrorResponder::new(|failure| {
        assert!(matches!(failure, SessionFailure::StoreUnavailable));
        let mut response = Response::new("<h1>Back soon</h1>".to_owned());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    }));
    let app = app(layer);
    let (status, cookie, body) = call(
        &app,
        "/whoami",
        Some("some-session-id-0123456789012345678901234567"),
    )
    .await;
    assert_eq!(
        (status, cookie, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, None, "<h1>Back soon</h1>")
    );
    let (status, _, _) = call(&app, "/login", None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a new session cannot be saved either"
    );
}

#[tokio::test]
async fn expiry_refresh_is_throttled_for_stores_that_cannot_refresh_on_load() {
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
    let app = app(layer);
    let lifetime = 31 * 24 * 3600;
    let (_, sid, _) = call(&app, "/login", None).await;
    let sid = sid.unwrap();
    let id = SessionId::parse(&sid).unwrap();
    let expiry = |at| {
        let store = store.clone();
        let id = id.clone();
        async move { store.load(&id, None, at).await.unwrap().unwrap().expires_at }
    };
    assert_eq!(expiry(1_800_000_000).await, 1_800_000_000 + lifetime);

    clock.store(1_800_000_030, Ordering::SeqCst);
    assert_eq!(call(&app, "/whoami", Some(&sid)).await.2, "ada");
    assert_eq!(
        expiry(1_800_000_030).await,
        1_800_000_000 + lifetime,
        "no write within the interval"
    );

    clock.store(1_800_000_100, Ordering::SeqCst);
    assert_eq!(call(&app, "/whoami", Some(&sid)).await.2, "ada");
    assert_eq!(
        expiry(1_800_000_100).await,
        1_800_000_100 + lifetime,
        "extended once it is due"
    );
}

#[tokio::test]
async fn settings_apply_to_a_layer_that_was_cloned_first() {
    let base = StoreLayer::new(MemoryStore::new(100), keys());
    let _kept = base.clone();
    let signed = base.with_server_config(ServerSideConfig::builder().use_signer(true).build());
    let (_, cookie, _) = call(&app(signed), "/login", None).await;
    assert!(
        cookie.unwrap().contains('.'),
        "the signer setting took effect"
    );
}
