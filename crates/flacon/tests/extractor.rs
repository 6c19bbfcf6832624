//! Two `Session` extractors in one handler share one session and never deadlock, with the
//! cookie layer and the store layer alike; a handler without a layer gets a clear 500.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use flacon::store::MemoryStore;
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer};
use http::header::SET_COOKIE;
use http::{Request, StatusCode};
use tower::ServiceExt as _;

async fn two_handles(a: Session, b: Session) -> String {
    a.insert("n", &1).unwrap();
    b.modify("n", |n: &mut i64| *n += 1).unwrap();
    // A spawned task holds a clone across an await while this handler keeps using `a`.
    let c = b.clone();
    let task = tokio::spawn(async move {
        tokio::task::yield_now().await;
        c.get::<i64>("n")
    });
    a.insert("seen", &true).unwrap();
    format!("{}", task.await.unwrap().unwrap())
}

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("extractor-test-key-0123456789"))
}

async fn call(app: Router) -> (StatusCode, bool, String) {
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let cookie = response.headers().contains_key(SET_COOKIE);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, cookie, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_extractors_share_one_cookie_session() {
    let app = Router::new()
        .route("/", get(two_handles))
        .layer(SessionLayer::new(keys()));
    assert_eq!(call(app).await, (StatusCode::OK, true, "2".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_extractors_share_one_stored_session() {
    let app = Router::new()
        .route("/", get(two_handles))
        .layer(StoreLayer::new(MemoryStore::new(10), keys()));
    assert_eq!(call(app).await, (StatusCode::OK, true, "2".to_owned()));
}

#[tokio::test]
async fn a_route_without_a_layer_is_a_clear_server_error() {
    let app = Router::new().route("/", get(two_handles));
    let (status, cookie, body) = call(app).await;
    assert_eq!((status, cookie), (StatusCode::INTERNAL_SERVER_ERROR, false));
    assert_eq!(body, "Session unavailable.\n");
}
