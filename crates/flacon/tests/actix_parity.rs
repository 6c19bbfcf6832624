//! What the policy core adds beyond the vectors (timeouts, revocation) on both adapters, and
//! the parts of the actix-web API the shared table cannot express: route modes, templates,
//! two middlewares on one app, a route without one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/adapters.rs"]
mod adapters;
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{test, web, App, HttpResponse};
#[allow(unused_imports)] // the tests the macro makes use it
use adapters::{Adapter, Routes};
use flacon::config::SessionConfig;
use flacon::http::{CookieSession, ServerSession, SessionModeLayer};
use flacon::revocation::{MemoryRevocations, RevocationRegistry};
use flacon::store::MemoryStore;
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer};
use http::StatusCode;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("adapters-test-key-0123456789"))
}

fn account_routes() -> Routes {
    Routes::new()
        .route("/login", |s: Session| async move {
            s.login("ada");
            "in"
        })
        .route("/whoami", |s: Session| async move {
            s.user().unwrap_or_default()
        })
        .route("/logout", |s: Session| async move {
            match s.logout().await {
                Ok(()) => (StatusCode::OK, "out"),
                Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not out"),
            }
        })
}

crate::on_both_adapters! {
/// Idle and absolute timeouts, on a clock the test moves.
async fn a_cookie_idle_past_its_timeout_opens_empty(adapter: Adapter) {
    let clock = Arc::new(AtomicU64::new(1_900_000_000));
    let now = clock.clone();
    let config = SessionConfig::builder()
        .idle_timeout(Some(Duration::from_secs(100)))
        .build()
        .unwrap();
    let layer = SessionLayer::new(keys())
        .with_config(config)
        .with_clock(move || now.load(Ordering::SeqCst));
    let app = crate::test_app!(adapter, layer, account_routes());
    let (_, cookie, _) = app.get("/login", None).await;
    let cookie = cookie.unwrap();
    clock.fetch_add(99, Ordering::SeqCst);
    let (_, refreshed, body) = app.get("/whoami", Some(&cookie)).await;
    assert_eq!(body, "ada", "within the idle timeout");
    let refreshed = refreshed.expect("each use is recorded");
    clock.fetch_add(101, Ordering::SeqCst);
    assert_eq!(app.get("/whoami", Some(&refreshed)).await.2, "", "idle too long");
}

/// A signed cookie logged out, then replayed, is refused through the revocation registry.
async fn a_logged_out_cookie_replayed_is_refused(adapter: Adapter) {
    let registry = RevocationRegistry::start(MemoryRevocations::default())
        .await
        .unwrap();
    let layer = SessionLayer::new(keys()).with_revocations(registry.clone());
    let app = crate::test_app!(adapter, layer, account_routes());
    let (_, cookie, _) = app.get("/login", None).await;
    let cookie = cookie.unwrap();
    assert_eq!(app.get("/whoami", Some(&cookie)).await.2, "ada");
    assert_eq!(app.get("/logout", Some(&cookie)).await.2, "out");
    assert_eq!(app.get("/whoami", Some(&cookie)).await.2, "", "the copy is dead");

    let (_, other, _) = app.get("/login", None).await;
    let other = other.unwrap();
    registry.revoke_user("ada").await.unwrap();
    assert_eq!(app.get("/whoami", Some(&other)).await.2, "", "logged out everywhere");
}
}

async fn body_of<B: actix_web::body::MessageBody>(
    response: actix_web::dev::ServiceResponse<B>,
) -> String {
    String::from_utf8(test::read_body(response).await.to_vec()).unwrap()
}

fn header_of<B>(response: &actix_web::dev::ServiceResponse<B>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A permanent cookie session is re-sent on every response (Flask's refresh), except where
/// a resource is wrapped in `SessionModeLayer::skip()` (nothing) or `read_only()` (only
/// `Vary`, and a change is dropped).
#[actix_web::test]
async fn route_modes_wrap_resources() {
    let app = test::init_service(
        App::new()
            .wrap(SessionLayer::new(keys()))
            .route(
                "/permanent",
                web::get().to(|s: Session| async move {
                    s.set_permanent(true);
                    s.insert("email", "a@b.c").unwrap();
                    HttpResponse::Ok().finish()
                }),
            )
            .service(
                web::resource("/health")
                    .wrap(SessionModeLayer::skip())
                    .route(web::get().to(|| async { "ok" })),
            )
            .service(
                web::resource("/peek")
                    .wrap(SessionModeLayer::read_only())
                    .route(web::get().to(|s: Session| async move {
                        s.insert("email", "changed@b.c").unwrap();
                        s.get::<String>("email").unwrap_or_default()
                    })),
            )
            .route(
                "/email",
                web::get()
                    .to(|s: Session| async move { s.get::<String>("email").unwrap_or_default() }),
            ),
    )
    .await;
    let response = test::call_service(
        &app,
        test::TestRequest::get().uri("/permanent").to_request(),
    )
    .await;
    let cookie = header_of(&response, "set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let get = |path: &'static str| {
        test::TestRequest::get()
            .uri(path)
            .insert_header(("cookie", cookie.clone()))
            .to_request()
    };
    let refreshed = test::call_service(&app, get("/email")).await;
    assert!(
        header_of(&refreshed, "set-cookie").is_some(),
        "Flask's refresh"
    );
    assert_eq!(body_of(refreshed).await, "a@b.c");

    let health = test::call_service(&app, get("/health")).await;
    assert_eq!(header_of(&health, "set-cookie"), None);
    assert_eq!(header_of(&health, "vary"), None);

    let peek = test::call_service(&app, get("/peek")).await;
    assert_eq!(header_of(&peek, "set-cookie"), None);
    assert_eq!(header_of(&peek, "vary").as_deref(), Some("Cookie"));
    assert_eq!(
        body_of(test::call_service(&app, get("/email")).await).await,
        "a@b.c"
    );
}

/// The templates see the session, from the app's `web::Data<Environment>`.
#[actix_web::test]
async fn templates_see_the_session() {
    use flacon::http::template::{escape_like_jinja, Templates};
    let mut env = minijinja::Environment::new();
    escape_like_jinja(&mut env);
    env.add_template("hi.html", "Welcome {{ session.email or 'stranger' }}!")
        .unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionLayer::new(keys()))
            .app_data(web::Data::new(env))
            .route(
                "/set",
                web::get().to(|s: Session| async move {
                    s.insert("email", "<ada>").unwrap();
                    HttpResponse::Ok().finish()
                }),
            )
            .route(
                "/",
                web::get().to(|t: Templates| async move {
                    t.render("hi.html", minijinja::context! {}).unwrap()
                }),
            ),
    )
    .await;
    let set = test::call_service(&app, test::TestRequest::get().uri("/set").to_request()).await;
    let cookie = header_of(&set, "set-cookie").unwrap();
    let request = test::TestRequest::get()
        .uri("/")
        .insert_header(("cookie", cookie.split(';').next().unwrap().to_owned()))
        .to_request();
    assert_eq!(
        body_of(test::call_service(&app, request).await).await,
        "Welcome &lt;ada&gt;!"
    );
}

/// With both middlewares, a plain `Session` is refused (which one?); the named ones work.
/// A route without any middleware answers 500 without detail.
#[actix_web::test]
async fn two_middlewares_need_a_named_session_and_none_is_a_500() {
    let app = test::init_service(
        App::new()
            .wrap(SessionLayer::new(keys()))
            .wrap(StoreLayer::new(MemoryStore::new(10), keys()))
            .route("/plain", web::get().to(|_: Session| async { "never" }))
            .route(
                "/named",
                web::get().to(|cart: CookieSession, login: ServerSession| async move {
                    cart.insert("cart", "bike").unwrap();
                    login.insert("user", "ada").unwrap();
                    "both"
                }),
            ),
    )
    .await;
    let plain = test::call_service(&app, test::TestRequest::get().uri("/plain").to_request()).await;
    assert_eq!(plain.status().as_u16(), 500);
    assert_eq!(body_of(plain).await, "Session unavailable.\n");
    let named = test::call_service(&app, test::TestRequest::get().uri("/named").to_request()).await;
    assert_eq!(named.status().as_u16(), 200);
    assert_eq!(
        named.headers().get_all("set-cookie").count(),
        2,
        "a cookie and an id"
    );

    let bare =
        test::init_service(App::new().route("/", web::get().to(|_: Session| async { "never" })))
            .await;
    let response = test::call_service(&bare, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(body_of(response).await, "Session unavailable.\n");
}
