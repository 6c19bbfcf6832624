//! The `http` cases recorded from real Flask, replayed through `SessionLayer` on both
//! adapters (an axum router, an actix-web app) whose handler applies each case's actions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/adapters.rs"]
mod adapters;
mod common;

use adapters::action_routes;
use adapters::Adapter;
use common::actions::{case_request, config_of};
use common::*;
use flacon::config::{OversizePolicy, SessionConfig};
use flacon::{Map, SessionLayer, Value};
use http::header::{SET_COOKIE, VARY};

struct Outcome {
    status: u16,
    set_cookie: Vec<String>,
    vary: Option<String>,
}

async fn replay(adapter: Adapter, case: &Map, config: SessionConfig) -> Outcome {
    let now = int_of(case, "now").unwrap();
    let layer = SessionLayer::new(ring_of(case))
        .with_config(config.clone())
        .with_clock(move || now);
    let app = crate::test_app!(adapter, layer, action_routes(case));
    let response = app.send(case_request(case, config.cookie_name())).await;
    Outcome {
        status: response.status().as_u16(),
        set_cookie: response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
        vary: response
            .headers()
            .get(VARY)
            .map(|v| v.to_str().unwrap().to_owned()),
    }
}

fn expected(case: &Map) -> Outcome {
    let expect = dict_of(case, "expect");
    Outcome {
        status: u16::try_from(int_of(expect, "status").unwrap()).unwrap(),
        set_cookie: match expect.get("set_cookie") {
            Some(Value::List(items)) => items
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            _ => Vec::new(),
        },
        vary: expect
            .get("vary")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn case(id: &str) -> Map {
    cases_of("http")
        .into_iter()
        .find(|c| str_of(c, "id") == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn assert_same(id: &str, got: &Outcome, want: &Outcome) {
    assert_eq!(got.status, want.status, "{id}: status");
    assert_eq!(got.set_cookie, want.set_cookie, "{id}: Set-Cookie");
    assert_eq!(got.vary, want.vary, "{id}: Vary");
}

/// Where flacon's defaults knowingly differ from Flask, each case below pins both sides.
const DIFFERS: &[&str] = &[
    "pub-http-set",
    "pub-http-nested-mutation",
    "pub-http-too-large",
    "pub-http-no-secret",
];

crate::on_both_adapters! {
async fn flask_http_cases_replay_identically(adapter: Adapter) {
    let cases = cases_of("http");
    assert_eq!(cases.len(), 15);
    let mut replayed = 0;
    for case in &cases {
        let id = str_of(case, "id");
        if DIFFERS.contains(&id) {
            continue;
        }
        assert_same(id, &replay(adapter, case, config_of(case)).await, &expected(case));
        replayed += 1;
    }
    assert_eq!(replayed, 11);
}

async fn equal_assignment_is_not_a_change_unless_flask_mode(adapter: Adapter) {
    let case = case("pub-http-set");
    let flask_mode = config_of(&case)
        .to_builder()
        .rewrite_on_equal_assignment(true)
        .build()
        .unwrap();
    assert_same(
        "set (Flask mode)",
        &replay(adapter, &case, flask_mode).await,
        &expected(&case),
    );
    let default = replay(adapter, &case, config_of(&case)).await;
    assert!(default.set_cookie.is_empty(), "same value: nothing to send");
    assert_eq!(default.vary.as_deref(), Some("Cookie"));
}

async fn in_place_mutation_is_detected_without_a_flag(adapter: Adapter) {
    // Flask needs `session.modified = True`; flacon sends what Flask sends with the flag.
    let without_flag = replay(adapter, &case("pub-http-nested-mutation"), SessionConfig::default()).await;
    assert_same(
        "nested mutation",
        &without_flag,
        &expected(&case("pub-http-nested-mutation-flag")),
    );
}

async fn oversized_cookie_is_an_error_by_default_and_flasks_warning_on_request(adapter: Adapter) {
    let case = case("pub-http-too-large");
    let default = replay(adapter, &case, config_of(&case)).await;
    assert_eq!(default.status, 500);
    assert!(
        default.set_cookie.is_empty(),
        "the old cookie stays; nothing is half-written"
    );
    let warn = config_of(&case)
        .to_builder()
        .oversize_policy(OversizePolicy::Warn)
        .build()
        .unwrap();
    assert_same(
        "too large (warn)",
        &replay(adapter, &case, warn).await,
        &expected(&case),
    );
}

async fn key_rotation_re_signs_old_cookies_with_the_same_payload(adapter: Adapter) {
    use flacon::codec::CookieCodec;
    use flacon::{KeyRing, SecretKey};
    let old = SecretKey::from_text("the-old-key-from-2025-0123");
    let new = SecretKey::from_text("the-new-key-from-2026-4567");
    let case = case("pub-http-read-only");
    let request_cookie = str_of(&case, "request_cookie");
    // The vector's cookie re-signed with the old key, as a browser would still hold it.
    let old_codec = CookieCodec::flask(&KeyRing::new(old.clone()));
    let data = CookieCodec::flask(&ring_of(&case))
        .decode(request_cookie, None, 0)
        .unwrap()
        .value;
    let held = old_codec.encode(&data, 1_699_999_000);
    let layer = SessionLayer::new(KeyRing::new(new.clone()).with_fallback(old))
        .with_clock(|| 1_700_000_000);
    let app = crate::test_app!(adapter, layer, action_routes(&case));
    let mut request = case_request(&case, "session");
    request.headers_mut().insert(
        http::header::COOKIE,
        format!("session={held}").parse().unwrap(),
    );
    let response = app.send(request).await;
    let cookie = common::set_session_cookie(response.headers()).expect("re-signed");
    let cookie = cookie.as_str();
    assert_eq!(
        CookieCodec::payload_segment(cookie),
        CookieCodec::payload_segment(&held),
        "same payload, not re-serialized"
    );
    let fresh = CookieCodec::flask(&KeyRing::new(new))
        .decode(cookie, Some(60), 1_700_000_000)
        .unwrap();
    assert_eq!(fresh.key, flacon::KeyMatch::Current);
    assert_eq!(fresh.timestamp, 1_700_000_000);
}
}
