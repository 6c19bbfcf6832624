//! The session as a handler sees it: `_permanent` stays out of the application's view, a
//! server-side session knows its id, and a value of another type than asked for is logged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use flacon::store::MemoryStore;
use flacon::{KeyRing, SecretKey, Session, StoreLayer};
use http::header::{COOKIE, SET_COOKIE};
use http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("session-api-test-key-2b7e151628"))
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (Option<String>, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("session={cookie}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap()["session=".len()..].to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (cookie, String::from_utf8(body.to_vec()).unwrap())
}

fn app() -> Router {
    Router::new()
        .route(
            "/view",
            get(|s: Session| async move {
                format!(
                    "len={} empty={} keys={:?} permanent={} id={:?}",
                    s.len(),
                    s.is_empty(),
                    s.keys(),
                    s.permanent(),
                    s.id().map(|id| id.as_str().to_owned())
                )
            }),
        )
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("cart", &["bike"]).unwrap();
                "set"
            }),
        )
        .layer(StoreLayer::new(MemoryStore::new(100), keys()))
}

#[tokio::test]
async fn a_new_server_side_session_is_empty_to_the_application() {
    let (_, body) = call(&app(), "/view", None).await;
    assert_eq!(body, "len=0 empty=true keys=[] permanent=true id=None");
}

#[tokio::test]
async fn a_stored_session_knows_its_id_and_hides_permanent() {
    let app = app();
    let (cookie, _) = call(&app, "/set", None).await;
    let id = cookie.unwrap();
    let (_, body) = call(&app, "/view", Some(&id)).await;
    assert_eq!(
        body,
        format!("len=1 empty=false keys=[\"cart\"] permanent=true id=Some({id:?})")
    );
}

/// Log lines captured while `f` runs.
fn captured_log(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_value_of_another_type_is_logged_once_per_key() {
    let session = Session::detached();
    session.insert("cart_after_deploy", "bike").unwrap();
    let log = captured_log(|| {
        for _ in 0..5 {
            assert_eq!(session.get::<Vec<String>>("cart_after_deploy"), None);
        }
        assert_eq!(session.get::<Vec<String>>("missing"), None);
    });
    assert_eq!(log.matches("another type").count(), 1, "{log}");
    assert!(
        log.contains("cart_after_deploy") && log.contains("Vec<alloc::string::String>"),
        "{log}"
    );
    assert!(session.try_get::<Vec<String>>("cart_after_deploy").is_err());
}

/// A shop with its cart in a signed cookie and its login server-side, both on every route.
fn shop(store_inside: bool) -> Router {
    use flacon::http::{CookieSession, ServerSession};
    let routes = Router::new()
        .route(
            "/both",
            get(|cart: CookieSession, login: ServerSession| async move {
                cart.insert("cart", &["bike"]).unwrap();
                login.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .route(
            "/read",
            get(|cart: CookieSession, login: ServerSession| async move {
                format!(
                    "{:?} {:?}",
                    cart.get::<Vec<String>>("cart"),
                    login.get::<String>("user")
                )
            }),
        )
        .route(
            "/plain",
            get(|s: Session| async move { format!("{}", s.len()) }),
        );
    let cookies = flacon::SessionLayer::new(keys()).with_config(
        flacon::SessionConfig::builder()
            .cookie_name("cart")
            .build()
            .unwrap(),
    );
    let store = StoreLayer::new(MemoryStore::new(100), keys());
    if store_inside {
        routes.layer(store).layer(cookies)
    } else {
        routes.layer(cookies).layer(store)
    }
}

async fn call_with(
    app: &Router,
    path: &str,
    cookies: &str,
) -> (http::StatusCode, Vec<String>, String) {
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(COOKIE, cookies)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let set: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, set, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn both_layers_on_one_route_are_both_reachable_in_either_order() {
    for store_inside in [true, false] {
        let app = shop(store_inside);
        let (status, set, _) = call_with(&app, "/both", "").await;
        assert_eq!(status, 200);
        assert_eq!(set.len(), 2, "{set:?}");
        let cookies = set.join("; ");
        let (_, _, body) = call_with(&app, "/read", &cookies).await;
        assert_eq!(
            body, "Some([\"bike\"]) Some(\"ada\")",
            "store inside: {store_inside}"
        );
        // A plain Session could be either: refused loudly, never a silent pick.
        let (status, set, body) = call_with(&app, "/plain", &cookies).await;
        assert_eq!(status, 500);
        assert!(set.is_empty());
        assert_eq!(body, "Session unavailable.\n");
    }
}

#[tokio::test]
async fn a_route_marked_skip_or_read_only_writes_nothing() {
    use flacon::http::SessionModeLayer;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_layer(SessionModeLayer::skip())
        .merge(
            Router::new()
                .route(
                    "/peek",
                    get(|s: Session| async move {
                        s.insert("changed", &true).unwrap();
                        format!("{:?}", s.get::<i64>("n"))
                    }),
                )
                .route_layer(SessionModeLayer::read_only()),
        )
        .route(
            "/set",
            get(|s: Session| async move {
                s.set_permanent(true);
                s.insert("n", &1).unwrap();
                "set"
            }),
        )
        .layer(flacon::SessionLayer::new(keys()));
    let response = app
        .clone()
        .oneshot(Request::get("/set").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // A permanent session is re-sent on every response (Flask's refresh_each_request)...
    for (path, vary) in [("/health", false), ("/peek", true)] {
        let response = app
            .clone()
            .oneshot(
                Request::get(path)
                    .header(COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        // ...but not by a route that opted out, nor by a read-only one, even after a change.
        assert!(response.headers().get(SET_COOKIE).is_none(), "{path}");
        assert_eq!(
            response.headers().contains_key(http::header::VARY),
            vary,
            "{path}"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if path == "/peek" {
            assert_eq!(body, "Some(1)");
        }
    }
}

#[tokio::test]
async fn the_server_side_deletion_cookie_keeps_the_cookies_attributes() {
    let config = flacon::SessionConfig::production()
        .to_builder()
        .cookie_name("__Host-sid")
        .cookie_partitioned(true)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("user", "ada").unwrap();
                "set"
            }),
        )
        .route(
            "/logout",
            get(|s: Session| async move {
                s.clear();
                "bye"
            }),
        )
        .layer(StoreLayer::new(MemoryStore::new(10), keys()).with_config(config));
    let response = app
        .clone()
        .oneshot(Request::get("/set").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let id = set.split(';').next().unwrap().to_owned();
    let response = app
        .oneshot(
            Request::get("/logout")
                .header(COOKIE, &id)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let deletion = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        deletion,
        "__Host-sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; HttpOnly; Path=/; SameSite=Lax; Partitioned"
    );
    // The same attributes as the cookie it deletes.
    assert!(
        set.ends_with("; Secure; HttpOnly; Path=/; SameSite=Lax; Partitioned"),
        "{set}"
    );
}

#[cfg(feature = "minijinja")]
#[tokio::test]
async fn every_template_sees_the_session_without_being_passed_it() {
    use flacon::http::template::Templates;
    let mut env = minijinja::Environment::new();
    env.add_template(
        "hello.html",
        "Hello {{ session.user or 'stranger' }}, {{ n }}",
    )
    .unwrap();
    let app = Router::new()
        .route(
            "/hello",
            get(|templates: Templates| async move {
                templates
                    .render("hello.html", minijinja::context! { n => 3 })
                    .unwrap()
            }),
        )
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("user", "ada").unwrap();
                "set"
            }),
        )
        .layer(axum::Extension(Arc::new(env)))
        .layer(StoreLayer::new(MemoryStore::new(10), keys()));
    let (_, body) = call(&app, "/hello", None).await;
    assert_eq!(body, "Hello stranger, 3");
    let (cookie, _) = call(&app, "/set", None).await;
    let (_, body) = call(&app, "/hello", cookie.as_deref()).await;
    assert_eq!(body, "Hello ada, 3");
}
