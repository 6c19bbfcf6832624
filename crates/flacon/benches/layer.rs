//! The session layer's own cost, without sockets: one request through an axum router with
//! and without `SessionLayer`, reading or writing the session.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use flacon::codec::{from_tagged_json, CookieCodec};
use flacon::store::MemoryStore;
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer};
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
    // A route that never extracts the session, behind the layer: the lazy path.
    let untouched: Router = Router::new()
        .route(
            "/",
            get(|| async { "<h1>Welcome someone@example.com!</h1>" }),
        )
        .layer(SessionLayer::new(keys()));
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
    // The article's template, rendered with the session as Flask's Jinja sees it.
    let mut env = minijinja::Environment::new();
    flacon::http::template::escape_like_jinja(&mut env);
    env.add_template(
        "get_email.html",
        "\n {% if session['email'] %}\n <h1>Welcome {{ session['email'] }}!</h1>\n {% else %}\n <h1>Welcome!</h1>\n {% endif %}\n ",
    )
    .unwrap();
    let env = std::sync::Arc::new(env);
    let templated: Router = Router::new()
        .route(
            "/",
            get(move |s: Session| {
                let env = env.clone();
                async move {
                    env.get_template("get_email.html")
                        .unwrap()
                        .render(minijinja::context! { session => s.template_value() })
                        .unwrap()
                }
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
    // The same handlers over a memory store, with a stored session.
    let store = std::sync::Arc::new(MemoryStore::new(1000));
    let store_app = |router: Router| router.layer(StoreLayer::new(store.clone(), keys()));
    let login: Router = store_app(Router::new().route(
        "/",
        get(|s: Session| async move {
            s.insert("email", "someone@example.com").unwrap();
            "ok"
        }),
    ));
    let set = runtime
        .block_on(login.oneshot(Request::get("/").body(Body::empty()).unwrap()))
        .unwrap();
    let sid = set.headers()[http::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let store_read = store_app(Router::new().route(
        "/",
        get(|s: Session| async move {
            format!(
                "<h1>Welcome {}!</h1>",
                s.get::<String>("email").unwrap_or_default()
            )
        }),
    ));
    let store_write = store_app(Router::new().route(
        "/",
        get(|s: Session| async move {
            // A different value each time, so every request really writes.
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.insert("visits", &n).unwrap();
            "ok"
        }),
    ));
    for (name, app, cookie) in [
        ("layer/bare", bare, &cookie),
        ("layer/untouched", untouched, &cookie),
        ("layer/read", read, &cookie),
        ("layer/read-template", templated, &cookie),
        ("layer/write", write, &cookie),
        ("store/read", store_read, &sid),
        ("store/write", store_write, &sid),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let request = Request::get("/")
                    .header(COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                runtime.block_on(app.clone().oneshot(request)).unwrap()
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
