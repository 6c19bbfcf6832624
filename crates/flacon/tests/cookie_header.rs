//! The `Cookie` request header as Flask reads it: flacon finds the same value as real
//! Werkzeug for random and hand-made headers, and a neighbour cookie with raw UTF-8 or other
//! non-ASCII bytes no longer hides the session on either layer.
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
use common::python;
use flacon::http::find_cookie;
use flacon::store::{MemoryStore, Record, SessionId, SessionStore};
use flacon::{CookieCodec, KeyRing, Map, SecretKey, Session, SessionLayer, StoreLayer, Value};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use tower::ServiceExt as _;

/// Pieces random headers are made of: every byte Werkzeug's grammar treats specially, quoted
/// and escaped forms, and non-ASCII text both as UTF-8 and as a lone latin-1 byte.
const PIECES: &[&[u8]] = &[
    b"session",
    b"sess",
    b"a",
    b"x.y-z_1",
    b"=",
    b" ",
    b"\t",
    b";",
    b"; ",
    b"\"",
    b"\\",
    b"\\\"",
    b"\\054",
    b"\\374",
    b"\\\\",
    "Zürich".as_bytes(),
    "é".as_bytes(),
    b"\"q v\"",
    b"==",
    b"abc.DEF-ghi_jkl",
];

fn header_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(PIECES), 1..14).prop_map(|pieces| pieces.concat())
}

const HAND_MADE: &[&[u8]] = &[
    b"session=abc",
    b"city=Z\xc3\xbcrich; session=abc",
    b" session = abc ; other=1",
    b"session=\"quoted\\\"inner\\054x\"",
    b"session=a b; session=second",
    b"session=\"unterminated; session=later",
    b"session; session=value",
    b"=x; session=ok",
    b"session=first; session=second",
    b"a=1;;; ;session=\t tab \t",
    b"sessionx=1; xsession=2; session=3",
    b"session=\"\\374\"",
];

/// What Werkzeug's `parse_cookie` returns for each header, in order: `None` where it raises.
fn werkzeug_parse(headers: &[Vec<u8>]) -> Vec<Option<Vec<(String, String)>>> {
    let script = python::script("werkzeug_cookies.py");
    let input: String = headers
        .iter()
        .map(|h| format!("{}\n", hex::encode(h)))
        .collect();
    let lines = python::json_lines(&[script.to_str().unwrap()], input);
    assert_eq!(lines.len(), headers.len());
    lines
        .iter()
        .map(|line| {
            line["ok"].as_bool().unwrap().then(|| {
                line["cookies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|pair| {
                        let name = pair[0].as_str().unwrap().to_owned();
                        (name, pair[1].as_str().unwrap().to_owned())
                    })
                    .collect()
            })
        })
        .collect()
}

fn header_map(raw: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_bytes(raw).unwrap());
    headers
}

#[test]
fn finds_what_werkzeug_finds() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Default::default()),
    );
    let strategy = header_strategy();
    let mut headers: Vec<Vec<u8>> = HAND_MADE.iter().map(|h| h.to_vec()).collect();
    headers.extend((0..1500).map(|_| strategy.new_tree(&mut runner).unwrap().current()));
    headers.retain(|h| HeaderValue::from_bytes(h).is_ok());

    let mut compared = 0;
    for (raw, expected) in headers.iter().zip(werkzeug_parse(&headers)) {
        let map = header_map(raw);
        // Werkzeug refuses a header that is not UTF-8 as a whole; flacon still reads it.
        let Some(expected) = expected else { continue };
        for (name, value) in &expected {
            assert_eq!(
                find_cookie(&map, name).as_deref(),
                Some(value.as_str()),
                "cookie {name:?} of header {:?}",
                String::from_utf8_lossy(raw)
            );
        }
        for absent in ["session", "sess", "a"] {
            if !expected.iter().any(|(name, _)| name == absent) {
                assert_eq!(find_cookie(&map, absent), None, "header {raw:?}");
            }
        }
        compared += 1;
    }
    assert!(compared > 1000, "only {compared} headers compared");
}

#[test]
fn non_utf8_neighbours_do_not_hide_the_session_cookie() {
    for raw in [
        &b"city=Z\xfcrich; session=abc"[..],
        b"session=abc; city=\xff\xfe",
        b"\x80\x81=1;session=abc",
    ] {
        assert_eq!(
            find_cookie(&header_map(raw), "session").as_deref(),
            Some("abc")
        );
    }
}

fn keys() -> KeyRing {
    KeyRing::new(SecretKey::from_text("cookie-header-test-key-9f8e7d"))
}

fn whoami_app() -> Router {
    Router::new().route(
        "/whoami",
        get(|s: Session| async move { s.get::<String>("user").unwrap_or_default() }),
    )
}

async fn whoami(app: Router, cookie_header: Vec<u8>) -> String {
    let request = Request::get("/whoami")
        .header(COOKIE, HeaderValue::from_bytes(&cookie_header).unwrap())
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// A browser sends `document.cookie` values as raw UTF-8 next to the session cookie.
fn with_utf8_neighbour(session_cookie: &str) -> Vec<u8> {
    let mut header = "city=Zürich; lang=\"fr-CH\"; session=".as_bytes().to_vec();
    header.extend_from_slice(session_cookie.as_bytes());
    header.extend_from_slice(b"; motto=\xe2\x9c\x93");
    header
}

#[tokio::test]
async fn cookie_session_survives_a_utf8_neighbour() {
    let mut data = Map::default();
    data.insert("user".to_owned(), Value::Str("ada".to_owned()));
    let cookie = CookieCodec::flask(&keys()).encode(&Value::Dict(data), 1_700_000_000);
    let app = whoami_app().layer(SessionLayer::new(keys()).with_clock(|| 1_700_000_100));
    assert_eq!(whoami(app, with_utf8_neighbour(&cookie)).await, "ada");
}

#[tokio::test]
async fn stored_session_survives_a_utf8_neighbour() {
    let store = std::sync::Arc::new(MemoryStore::new(10));
    let id = SessionId::generate().unwrap();
    let mut data = Map::default();
    data.insert("user".to_owned(), Value::Str("ada".to_owned()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let record = Record {
        data,
        expires_at: now + 3600,
    };
    assert!(store.create(&id, &record, now).await.unwrap());
    let app = whoami_app().layer(StoreLayer::new(store, keys()));
    assert_eq!(whoami(app, with_utf8_neighbour(id.as_str())).await, "ada");
}
