//! Encrypted cookies through the layer: unreadable in the browser, bound to their name,
//! opened by fallback keys and re-encrypted, signed cookies from before the switch upgraded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use flacon::codec::{CookieCipher, CookieCodec};
use flacon::config::SessionConfig;
use flacon::{KeyRing, SecretKey, Session, SessionLayer};
use http::header::COOKIE;
use http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const OLD: &str = "the-old-encryption-key-0123456789";
const NEW: &str = "the-new-encryption-key-0123456789";

fn app(keys: KeyRing, name: &str, encrypted: bool) -> Router {
    let config = SessionConfig::builder()
        .cookie_name(name)
        .encrypted(encrypted)
        .build()
        .unwrap();
    Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("email", "ada@example.com").unwrap();
                "set"
            }),
        )
        .route(
            "/get",
            get(|s: Session| async move { s.get::<String>("email").unwrap_or_default() }),
        )
        .layer(SessionLayer::new(keys).with_config(config))
}

/// The body, and the cookie `name` the response sets.
async fn call(app: &Router, path: &str, cookie: Option<(&str, &str)>) -> (String, Option<String>) {
    let mut request = Request::get(path);
    if let Some((name, value)) = cookie {
        request = request.header(COOKIE, format!("{name}={value}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set = response
        .headers()
        .get(http::header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        String::from_utf8(body.to_vec()).unwrap(),
        set.map(|pair| pair.split_once('=').unwrap().1.to_owned()),
    )
}

fn ring(key: &str) -> KeyRing {
    KeyRing::new(SecretKey::from_text(key))
}

#[tokio::test]
async fn the_browser_holds_a_ciphertext_the_app_reads_back() {
    let app = app(ring(NEW), "session", true);
    let (_, cookie) = call(&app, "/set", None).await;
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("e1."), "{cookie}");
    // Neither Flask's reader nor a look at the bytes finds the email.
    assert!(CookieCodec::flask(&ring(NEW))
        .decode_unverified(&cookie)
        .is_err());
    assert!(!cookie.contains("ada"));
    assert_eq!(
        call(&app, "/get", Some(("session", &cookie))).await.0,
        "ada@example.com"
    );
}

#[tokio::test]
async fn a_cookie_moved_to_another_name_opens_nothing() {
    let (_, cookie) = call(&app(ring(NEW), "session", true), "/set", None).await;
    let other = app(ring(NEW), "cart", true);
    assert_eq!(
        call(&other, "/get", Some(("cart", &cookie.unwrap())))
            .await
            .0,
        ""
    );
}

#[tokio::test]
async fn an_old_key_cookie_is_read_and_re_encrypted_with_the_current_key() {
    let (_, old_cookie) = call(&app(ring(OLD), "session", true), "/set", None).await;
    let rotated = ring(NEW).with_fallback(SecretKey::from_text(OLD));
    let (body, fresh) = call(
        &app(rotated, "session", true),
        "/get",
        Some(("session", &old_cookie.unwrap())),
    )
    .await;
    assert_eq!(body, "ada@example.com");
    let fresh = fresh.expect("re-encrypted on read");
    let opened = CookieCipher::new(&ring(NEW), "session")
        .decrypt(&fresh, None, 0)
        .expect("the current key alone opens it");
    assert_eq!(opened.key, flacon::KeyMatch::Current);
}

#[tokio::test]
async fn a_signed_cookie_from_before_the_switch_is_upgraded() {
    let (_, signed) = call(&app(ring(NEW), "session", false), "/set", None).await;
    let (body, upgraded) = call(
        &app(ring(NEW), "session", true),
        "/get",
        Some(("session", &signed.unwrap())),
    )
    .await;
    assert_eq!(body, "ada@example.com");
    assert!(upgraded.unwrap().starts_with("e1."));
}

#[tokio::test]
async fn encrypted_cookies_are_not_read_when_encryption_is_off() {
    let (_, cookie) = call(&app(ring(NEW), "session", true), "/set", None).await;
    let plain = app(ring(NEW), "session", false);
    assert_eq!(
        call(&plain, "/get", Some(("session", &cookie.unwrap())))
            .await
            .0,
        ""
    );
}
