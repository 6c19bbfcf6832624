//! The session layer's own cost, without sockets: one request through an axum router with
//! and without `SessionLayer`, reading or writing the session.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use flacon::codec::{from_tagged_json, CookieCodec};
use flacon::{KeyRing, SecretKey, Session, SessionLayer};
use http::header::COOKIE;
use http::Request;
use tower::ServiceExt as _;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("benchmark-secret-key-2026"))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let session = from_tagged_json(r#"{"email":"someone@example.com"}"#).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cookie = format!(
        "session={}",
        CookieCodec::flask(&keys()).encode(&session, now)
    );

    let bare: Router = Router::new().route(
        "/",
        get(|| async { "<h1>Welcome someone@example.com!</h1>" }),
    );
    let read: Router = Router::new()
        .route(
            "/",
            get(|s: Session| async move {
                format!(
                    "<h1>Welcome {}!</h1>",
                    s.get::<String>("email").unwrap_or_default()
                )
            }),
        )
        .layer(SessionLayer::new(keys()));
    let write: Router = Router::new()
        .route(
            "/",
            get(|s: Session| async move {
                s.insert("email", "other@example.com").unwrap();
                "ok"
            }),
        )
        .layer(SessionLayer::new(keys()));
    for (name, app) in [
        ("layer/bare", bare),
        ("layer/read", read),
        ("layer/write", write),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let request = Request::get("/")
                    .header(COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap();
                runtime.block_on(app.clone().oneshot(request)).unwrap()
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
