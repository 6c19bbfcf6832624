//! Users and revocation: `Session::login` / `logout`, the per-user index of every store
//! (list, revoke one, all, all but this one), and the revocation registry of signed cookies
//! (a logged-out cookie replayed, a user logged out everywhere, a registry that is down).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/jar.rs"]
mod jar;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use flacon::revocation::{MemoryRevocations, RevocationRegistry};
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{users, MemoryStore, SessionId, SessionStore};
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer};
use http::StatusCode;
use jar::Jar;

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("users-test-key-0123456789abcdef"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(serde::Deserialize)]
struct Form {
    user: Option<String>,
    id: Option<String>,
}

/// The demo's routes, over whatever store `S` the server-side app uses.
fn routes<S: SessionStore>(store: Option<Arc<S>>) -> Router {
    let devices_store = store.clone();
    let others_store = store.clone();
    let revoke_store = store;
    Router::new()
        .route(
            "/login",
            get(|s: Session, Query(form): Query<Form>| async move {
                s.login(&form.user.unwrap());
                "in"
            }),
        )
        .route(
            "/whoami",
            get(|s: Session| async move { s.user().unwrap_or_default() }),
        )
        .route(
            "/cart",
            get(|s: Session| async move {
                s.insert("cart", "bike").unwrap();
                "added"
            }),
        )
        .route(
            "/logout",
            get(|s: Session| async move {
                match s.logout().await {
                    Ok(()) => (StatusCode::OK, "out"),
                    Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not out"),
                }
            }),
        )
        .route(
            "/devices",
            get(|s: Session| async move {
                let store = devices_store.unwrap();
                let listed = users::sessions_of(&*store, &s.user().unwrap(), now())
                    .await
                    .unwrap();
                let current = s.id();
                Json(
                    listed
                        .iter()
                        .map(|d| (d.id.as_str().to_owned(), Some(&d.id) == current.as_ref()))
                        .collect::<Vec<_>>(),
                )
            }),
        )
        .route(
            "/others",
            get(|s: Session| async move {
                let store = others_store.unwrap();
                let n = users::revoke_all(&*store, &s.user().unwrap(), s.id().as_ref())
                    .await
                    .unwrap();
                n.to_string()
            }),
        )
        .route(
            "/revoke",
            get(|s: Session, Query(form): Query<Form>| async move {
                let store = revoke_store.unwrap();
                let id = SessionId::parse(&form.id.unwrap()).unwrap();
                users::revoke(&*store, &s.user().unwrap(), &id)
                    .await
                    .unwrap()
                    .to_string()
            }),
        )
}

/// Two devices of one user and one of another, on a server-side store.
async fn devices_are_listed_and_revoked<S: SessionStore>(store: S) {
    let store = Arc::new(store);
    let app = routes(Some(store.clone())).layer(StoreLayer::new(store.clone(), keys()));
    let mut phone = Jar::new(&app);
    let mut laptop = Jar::new(&app);
    let mut bob = Jar::new(&app);
    phone.body("/cart").await;
    let before_login = phone.cookie.clone().unwrap();
    phone.body("/login?user=ada").await;
    assert_ne!(
        phone.cookie.as_deref(),
        Some(&*before_login),
        "a new id at login"
    );
    laptop.body("/login?user=ada").await;
    bob.body("/login?user=bob").await;
    assert_eq!(phone.body("/whoami").await, "ada");

    let listed: Vec<(String, bool)> = serde_json::from_str(&phone.body("/devices").await).unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed.iter().filter(|(_, current)| *current).count(), 1);
    assert!(listed
        .iter()
        .any(|(id, _)| Some(id) == phone.cookie.as_ref()));

    // Bob cannot end Ada's sessions by naming them.
    let phone_id = phone.cookie.clone().unwrap();
    assert_eq!(bob.body(&format!("/revoke?id={phone_id}")).await, "false");
    assert_eq!(phone.body("/whoami").await, "ada");

    // "Log out my other devices", from the phone.
    assert_eq!(phone.body("/others").await, "1");
    assert_eq!(laptop.body("/whoami").await, "", "the laptop is signed out");
    assert_eq!(phone.body("/whoami").await, "ada", "the phone is not");
    assert_eq!(bob.body("/whoami").await, "bob", "nor is anyone else");

    // Logout ends the record now, and takes it out of the index.
    laptop.body("/login?user=ada").await;
    let laptop_id = SessionId::parse(laptop.cookie.as_deref().unwrap()).unwrap();
    assert_eq!(laptop.body("/logout").await, "out");
    assert!(store.load(&laptop_id, None, now()).await.unwrap().is_none());
    assert_eq!(laptop.cookie, None, "the cookie is deleted");
    let ids = store.user_session_ids("ada").await.unwrap();
    assert_eq!(ids.len(), 1, "only the phone is filed: {ids:?}");

    // Revoking one by id.
    assert_eq!(phone.body(&format!("/revoke?id={phone_id}")).await, "true");
    assert_eq!(phone.body("/whoami").await, "");
    assert!(users::sessions_of(&*store, "ada", now())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn memory_store_lists_and_revokes_a_users_sessions() {
    devices_are_listed_and_revoked(MemoryStore::new(100)).await;
}

#[tokio::test]
async fn sqlite_store_lists_and_revokes_a_users_sessions() {
    let path = std::env::temp_dir().join(format!("flacon-users-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    devices_are_listed_and_revoked(SqliteStore::open(&path).await.unwrap()).await;
}

#[tokio::test]
async fn redis_store_lists_and_revokes_a_users_sessions() {
    let server = common::redis_server::RedisServer::start();
    devices_are_listed_and_revoked(RedisStore::open(&server.url()).unwrap()).await;
    // The records stay Flask-Session's: the index lives under its own keys.
    let index = server.cli(&["--scan", "--pattern", "flacon:users:*"]);
    assert!(
        index
            .lines()
            .all(|k| k.starts_with("flacon:users:session:")),
        "{index}"
    );
}

fn cookie_app(registry: Arc<RevocationRegistry>) -> Router {
    routes::<MemoryStore>(None).layer(SessionLayer::new(keys()).with_revocations(registry))
}

/// A logged-out cookie replayed, and a user logged out everywhere, on any registry.
async fn cookies_are_revoked(registry: Arc<RevocationRegistry>) {
    let app = cookie_app(registry.clone());
    let mut phone = Jar::new(&app);
    phone.body("/login?user=ada").await;
    assert_eq!(phone.body("/whoami").await, "ada");
    let copy = phone.clone();
    assert_eq!(phone.body("/logout").await, "out");
    assert_eq!(phone.body("/whoami").await, "");
    let mut thief = copy;
    assert_eq!(thief.body("/whoami").await, "", "the copied cookie is dead");

    let mut laptop = Jar::new(&app);
    let mut tablet = Jar::new(&app);
    let mut bob = Jar::new(&app);
    laptop.body("/login?user=ada").await;
    tablet.body("/login?user=ada").await;
    bob.body("/login?user=bob").await;
    registry.revoke_user("ada").await.unwrap();
    assert_eq!(laptop.body("/whoami").await, "");
    assert_eq!(tablet.body("/whoami").await, "");
    assert_eq!(bob.body("/whoami").await, "bob");
    // Signing in again after the revocation works.
    tokio::time::sleep(Duration::from_millis(2)).await;
    laptop.body("/login?user=ada").await;
    assert_eq!(laptop.body("/whoami").await, "ada");
}

#[tokio::test]
async fn cookies_are_revoked_through_a_memory_registry() {
    let registry = RevocationRegistry::start(MemoryRevocations::default())
        .await
        .unwrap();
    cookies_are_revoked(registry).await;
}

#[tokio::test]
async fn cookies_are_revoked_through_a_sqlite_registry() {
    let path = std::env::temp_dir().join(format!("flacon-revoked-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let registry = RevocationRegistry::start(SqliteStore::open(&path).await.unwrap())
        .await
        .unwrap();
    cookies_are_revoked(registry).await;
}

#[tokio::test]
async fn postgres_store_lists_and_revokes_a_users_sessions() {
    let server = common::postgres_server::PostgresServer::start();
    let store = flacon::store::postgres::PostgresStore::connect(&server.url())
        .await
        .unwrap();
    devices_are_listed_and_revoked(store).await;
}

#[tokio::test]
async fn cookies_are_revoked_through_a_postgres_registry() {
    let server = common::postgres_server::PostgresServer::start();
    let store = flacon::store::postgres::PostgresStore::connect(&server.url())
        .await
        .unwrap();
    cookies_are_revoked(RevocationRegistry::start(store).await.unwrap()).await;
}

#[tokio::test]
async fn cookies_are_revoked_through_a_redis_registry_and_an_outage_is_an_error() {
    let mut server = common::redis_server::RedisServer::start();
    let registry = RevocationRegistry::start_with(
        RedisStore::open(&server.url()).unwrap(),
        Duration::from_millis(400),
    )
    .await
    .unwrap();
    cookies_are_revoked(registry.clone()).await;

    let app = cookie_app(registry.clone());
    let mut ada = Jar::new(&app);
    let mut visitor = Jar::new(&app);
    ada.body("/login?user=ada").await;
    visitor.body("/cart").await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(900)).await;
    // A signed-in cookie the registry cannot clear is never accepted silently.
    let (status, _) = ada.get("/whoami").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = ada.get("/logout").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Sessions nobody signed in to do not depend on the registry.
    assert_eq!(visitor.body("/cart").await, "added");

    server.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = ada.get("/whoami").await;
        if status == StatusCode::OK {
            assert_eq!(
                body, "ada",
                "still signed in: the failed logout changed nothing"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the registry came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_forged_user_id_signs_nobody_in() {
    let registry = RevocationRegistry::start(MemoryRevocations::default())
        .await
        .unwrap();
    let app = cookie_app(registry);
    let forged = flacon::codec::CookieCodec::flask(&KeyRing::new(SecretKey::from_text(
        "not-the-servers-key-0123456789",
    )))
    .encode(
        &flacon::codec::from_tagged_json(r#"{"_user_id":"admin","_fresh":true}"#).unwrap(),
        now(),
    );
    let mut attacker = Jar::new(&app);
    attacker.cookie = Some(forged);
    assert_eq!(attacker.body("/whoami").await, "");
}
