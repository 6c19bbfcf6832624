//! Idle and absolute timeouts on both layers and every store, with a pinned clock, one second
//! either side of each limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/jar.rs"]
mod jar;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use flacon::config::SessionConfig;
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{MemoryStore, SessionStore};
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer};
use jar::Jar;

const IDLE: u64 = 100;
const ABSOLUTE: u64 = 300;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("timeouts-test-key-0123456789"))
}

fn config() -> SessionConfig {
    SessionConfig::builder()
        .idle_timeout(Some(Duration::from_secs(IDLE)))
        .absolute_timeout(Some(Duration::from_secs(ABSOLUTE)))
        .build()
        .unwrap()
}

/// A browser with one cookie, against an app on a clock the test moves.
struct Browser {
    jar: Jar,
    clock: Arc<AtomicU64>,
}

impl Browser {
    fn new(layer: impl FnOnce(Arc<AtomicU64>) -> Router) -> Self {
        // Real time, so that Redis's own expiry (real seconds) never interferes.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let clock = Arc::new(AtomicU64::new(start));
        Browser {
            jar: Jar::new(&layer(clock.clone())),
            clock,
        }
    }

    fn advance(&self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    async fn get(&mut self, path: &str) -> String {
        self.jar.body(path).await
    }
}

fn routes() -> Router {
    Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("cart", "bike").unwrap();
                "set"
            }),
        )
        .route(
            "/get",
            get(|s: Session| async move { s.get::<String>("cart").unwrap_or_default() }),
        )
}

fn cookie_app(clock: Arc<AtomicU64>) -> Router {
    routes().layer(
        SessionLayer::new(keys())
            .with_config(config())
            .with_clock(move || clock.load(Ordering::SeqCst)),
    )
}

fn store_app<S: SessionStore>(store: S) -> impl FnOnce(Arc<AtomicU64>) -> Router {
    move |clock| {
        routes().layer(
            StoreLayer::new(store, keys())
                .with_config(config())
                .with_clock(move || clock.load(Ordering::SeqCst)),
        )
    }
}

/// Unused for one second less than the idle limit: kept, and each use restarts the count;
/// one second more: gone.
async fn idle_limit(mut browser: Browser) {
    assert_eq!(browser.get("/set").await, "set");
    browser.advance(IDLE - 1);
    assert_eq!(browser.get("/get").await, "bike");
    browser.advance(IDLE - 1);
    assert_eq!(
        browser.get("/get").await,
        "bike",
        "the last use restarted it"
    );
    browser.advance(IDLE + 1);
    assert_eq!(
        browser.get("/get").await,
        "",
        "idle for longer than the limit"
    );
}

/// Active all along: kept until one second before the absolute limit, gone one second after.
async fn absolute_limit(mut browser: Browser) {
    assert_eq!(browser.get("/set").await, "set");
    for _ in 0..3 {
        browser.advance(IDLE - 1);
        assert_eq!(browser.get("/get").await, "bike");
    }
    // 297 s in.
    browser.advance(ABSOLUTE - 1 - 3 * (IDLE - 1));
    assert_eq!(
        browser.get("/get").await,
        "bike",
        "one second before the limit"
    );
    browser.advance(2);
    assert_eq!(
        browser.get("/get").await,
        "",
        "one second after, however active"
    );
    // A new session starts its own count.
    assert_eq!(browser.get("/set").await, "set");
    browser.advance(IDLE - 1);
    assert_eq!(browser.get("/get").await, "bike");
}

#[tokio::test]
async fn cookie_sessions_end_when_idle() {
    idle_limit(Browser::new(cookie_app)).await;
}

#[tokio::test]
async fn cookie_sessions_end_at_the_absolute_limit() {
    absolute_limit(Browser::new(cookie_app)).await;
}

#[tokio::test]
async fn an_older_cookie_replayed_is_idle_expired() {
    // Its signing time is its last use: a copy kept aside does not share the newer use.
    let mut browser = Browser::new(cookie_app);
    browser.get("/set").await;
    let first = browser.jar.cookie.clone();
    browser.advance(IDLE - 1);
    browser.get("/get").await;
    browser.advance(IDLE - 1);
    browser.get("/get").await;
    browser.jar.cookie = first;
    assert_eq!(
        browser.get("/get").await,
        "",
        "the first cookie is idle-expired"
    );
}

#[tokio::test]
async fn memory_sessions_end_when_idle_and_at_the_absolute_limit() {
    idle_limit(Browser::new(store_app(MemoryStore::new(100)))).await;
    absolute_limit(Browser::new(store_app(MemoryStore::new(100)))).await;
}

#[tokio::test]
async fn sqlite_sessions_end_when_idle_and_at_the_absolute_limit() {
    let dir = std::env::temp_dir().join(format!("flacon-timeouts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let idle = SqliteStore::open(dir.join("idle.db")).await.unwrap();
    idle_limit(Browser::new(store_app(idle))).await;
    let absolute = SqliteStore::open(dir.join("absolute.db")).await.unwrap();
    absolute_limit(Browser::new(store_app(absolute))).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn redis_sessions_end_when_idle_and_at_the_absolute_limit() {
    let server = common::redis_server::RedisServer::start();
    let store = Arc::new(RedisStore::open(&server.url()).unwrap());
    idle_limit(Browser::new(store_app(store.clone()))).await;
    absolute_limit(Browser::new(store_app(store))).await;
    // Nothing is left behind for the ended sessions.
    let keys = server.cli(&["--scan", "--pattern", "session:*"]);
    assert_eq!(
        keys.lines().count(),
        1,
        "only the last session remains: {keys}"
    );
}

#[tokio::test]
async fn without_timeouts_cookies_carry_no_bookkeeping() {
    let mut browser = Jar::new(&routes().layer(SessionLayer::new(keys())));
    browser.body("/set").await;
    let payload = flacon::codec::CookieCodec::flask(&keys())
        .decode_unverified(browser.cookie.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        flacon::codec::to_tagged_json(&payload),
        r#"{"cart":"bike"}"#
    );
}

/// A cookie without a start stamp (written by the Flask app, or before the absolute timeout
/// was turned on) starts when it was signed, not when it is read: replayed again and again,
/// it still ends at the absolute limit (security review, point 8). Both a replayed copy and
/// the browser's own re-sent cookie.
#[tokio::test]
async fn a_cookie_without_a_start_ends_at_the_absolute_limit_counted_from_its_signing() {
    let absolute_only = |clock: Arc<AtomicU64>| {
        routes().layer(
            SessionLayer::new(keys())
                .with_config(
                    SessionConfig::builder()
                        .absolute_timeout(Some(Duration::from_secs(ABSOLUTE)))
                        .build()
                        .unwrap(),
                )
                .with_clock(move || clock.load(Ordering::SeqCst)),
        )
    };
    let mut browser = Browser::new(absolute_only);
    let signed_at = browser.clock.load(Ordering::SeqCst);
    let session = flacon::codec::from_tagged_json(r#"{"_permanent":true,"cart":"bike"}"#).unwrap();
    let unstamped = flacon::codec::CookieCodec::flask(&keys()).encode(&session, signed_at);
    for step in [ABSOLUTE / 3, ABSOLUTE / 3, ABSOLUTE / 3 - 1] {
        browser.advance(step);
        browser.jar.cookie = Some(unstamped.clone());
        assert_eq!(
            browser.get("/get").await,
            "bike",
            "replayed within the limit"
        );
    }
    // The browser's cookie, re-sent and stamped with the cookie's signing time.
    let stamped = browser.jar.cookie.clone();
    assert_ne!(stamped.as_deref(), Some(unstamped.as_str()));
    browser.advance(2);
    assert_eq!(
        browser.get("/get").await,
        "",
        "the re-sent cookie is past the limit"
    );
    browser.jar.cookie = Some(unstamped);
    assert_eq!(browser.get("/get").await, "", "so is the replayed one");
}
