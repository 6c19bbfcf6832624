//! A handler that never touches the session: Flask still re-sends a permanent session on
//! every response (and flacon re-signs cookies signed with a fallback key), but a
//! non-permanent one is left alone, whatever text its values hold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use flacon::codec::{from_tagged_json, CookieCodec};
use flacon::{KeyMatch, KeyRing, SecretKey, SessionLayer};
use http::header::{COOKIE, VARY};
use http::Request;
use tower::ServiceExt as _;

const NOW: u64 = 1_700_000_000;

fn current() -> SecretKey {
    SecretKey::from_text("untouched-current-key-0123456789")
}

fn old() -> SecretKey {
    SecretKey::from_text("untouched-old-key-9876543210abc")
}

fn cookie(key: SecretKey, tagged_json: &str) -> String {
    let value = from_tagged_json(tagged_json).unwrap();
    CookieCodec::flask(&KeyRing::new(key)).encode(&value, NOW - 10)
}

/// Requests `/` (which ignores the session) with `cookie`; returns the new cookie, if any,
/// and whether the response varies on Cookie.
async fn untouched_request(cookie: &str) -> (Option<String>, bool) {
    let layer = SessionLayer::new(KeyRing::new(current()).with_fallback(old())).with_clock(|| NOW);
    let app = Router::new()
        .route("/", get(|| async { "no session here" }))
        .layer(layer);
    let request = Request::get("/")
        .header(COOKIE, format!("session={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let set = common::set_session_cookie(response.headers());
    (set, response.headers().contains_key(VARY))
}

fn verify(cookie: &str) -> KeyMatch {
    CookieCodec::flask(&KeyRing::new(current()))
        .decode(cookie, Some(60), NOW)
        .unwrap()
        .key
}

#[tokio::test]
async fn a_permanent_session_is_re_sent_though_untouched() {
    let held = cookie(current(), r#"{"_permanent":true,"email":"a@b.c"}"#);
    let (set, _) = untouched_request(&held).await;
    let set = set.expect("re-sent, as Flask does for permanent sessions");
    assert_eq!(
        CookieCodec::payload_segment(&set),
        CookieCodec::payload_segment(&held)
    );
    assert_eq!(verify(&set), KeyMatch::Current);
}

#[tokio::test]
async fn a_plain_session_is_left_alone() {
    let held = cookie(current(), r#"{"email":"a@b.c"}"#);
    assert_eq!(untouched_request(&held).await, (None, false));
}

#[tokio::test]
async fn the_word_permanent_in_a_value_changes_nothing() {
    let held = cookie(current(), r#"{"note":"_permanent","_permanent":false}"#);
    assert_eq!(untouched_request(&held).await, (None, false));
}

#[tokio::test]
async fn a_permanent_flag_spelled_with_escapes_is_still_found() {
    // Python's json.dumps never writes this, but another writer with the key may: the JSON
    // text is signed as is.
    use base64::Engine as _;
    use flacon::codec::{KeyDerivation, Signer, TimestampSigner, FLASK_SALT};
    let signer = TimestampSigner::new(Signer::new(
        &KeyRing::new(current()),
        FLASK_SALT,
        KeyDerivation::Hmac,
    ));
    let mut held =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"\u005fpermanent":true}"#);
    signer.sign_in_place(&mut held, NOW - 10);
    assert!(untouched_request(&held).await.0.is_some());
}

#[tokio::test]
async fn a_truthy_flag_counts_as_permanent() {
    let held = cookie(current(), r#"{"_permanent":1}"#);
    assert!(untouched_request(&held).await.0.is_some());
}

#[tokio::test]
async fn a_compressed_permanent_session_is_re_sent() {
    let long = "x".repeat(400);
    let held = cookie(
        current(),
        &format!(r#"{{"_permanent":true,"pad":"{long}"}}"#),
    );
    assert!(
        CookieCodec::payload_segment(&held)
            .unwrap()
            .starts_with('.'),
        "compressed"
    );
    assert!(untouched_request(&held).await.0.is_some());
}

#[tokio::test]
async fn a_cookie_signed_with_an_old_key_is_re_signed_though_untouched() {
    let held = cookie(old(), r#"{"email":"a@b.c"}"#);
    let (set, _) = untouched_request(&held).await;
    assert_eq!(verify(&set.expect("re-signed")), KeyMatch::Current);
}

#[tokio::test]
async fn a_forged_or_expired_cookie_is_not_re_signed() {
    let forged = cookie(
        SecretKey::from_text("somebody-else-entirely-0000000"),
        r#"{"_permanent":true}"#,
    );
    assert_eq!(untouched_request(&forged).await, (None, false));
    let value = from_tagged_json(r#"{"_permanent":true}"#).unwrap();
    let expired = CookieCodec::flask(&KeyRing::new(current())).encode(&value, NOW - 40 * 24 * 3600);
    assert_eq!(untouched_request(&expired).await, (None, false));
}
