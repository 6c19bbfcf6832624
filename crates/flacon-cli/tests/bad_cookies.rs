//! Cookies from attackers: every malformed, tampered, truncated, expired or oversized cookie
//! gives the empty-session page (never a 5xx), is logged with its kind, and is not deleted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flacon::codec::TimestampSigner;
use flacon::codec::{from_tagged_json, CookieCodec, KeyDerivation, Signer, FLASK_SALT};
use flacon::{KeyRing, SecretKey};
use support::{flacon_serve, flacon_serve_with_env};

const KEY: &str = "bad-cookie-test-key-0a1b2c3d4e";
const PROMPT: &str = "<h1>Welcome! Please enter your email <a href=\"/set_email\">here.</a></h1>";

fn sign(key: &str, json: &str, timestamp: u64) -> String {
    CookieCodec::flask(&KeyRing::new(SecretKey::from_text(key)))
        .encode(&from_tagged_json(json).unwrap(), timestamp)
}

/// A validly signed cookie around any payload text, even one Flask would never write.
fn sign_raw(json: &str) -> String {
    let ring = KeyRing::new(SecretKey::from_text(KEY));
    let mut cookie = URL_SAFE_NO_PAD.encode(json);
    TimestampSigner::new(Signer::new(&ring, FLASK_SALT, KeyDerivation::Hmac))
        .sign_in_place(&mut cookie, now());
    cookie
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn bad_cookies_give_an_empty_session_and_a_log_line() {
    // Each rejection has its line at debug level; at the default level they are throttled
    // (next test).
    let server = flacon_serve_with_env(
        &["--secret-key", KEY, "--permanent-lifetime", "3600"],
        &[("RUST_LOG", "info,flacon=debug")],
    );
    let good = sign(KEY, r#"{"email":"someone@example.com"}"#, now());
    assert!(server
        .get("/get_email", Some(&good))
        .body
        .contains("Welcome someone@example.com!"));

    let mut flipped = good.clone().into_bytes();
    flipped[3] ^= 1;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "tampered",
            String::from_utf8(flipped).unwrap(),
            "bad-signature",
        ),
        (
            "truncated",
            good[..good.len() - 5].to_owned(),
            "bad-signature",
        ),
        (
            "wrong key",
            sign("some-other-key-entirely-123", r#"{"email":"x@y.z"}"#, now()),
            "bad-signature",
        ),
        (
            "expired",
            sign(KEY, r#"{"email":"old@example.com"}"#, now() - 7200),
            "expired",
        ),
        (
            "from the future",
            sign(KEY, r#"{"email":"future@example.com"}"#, now() + 600),
            "expired",
        ),
        (
            "oversized",
            format!("{}.{}", "A".repeat(20_000), &good),
            "too-large",
        ),
        ("not a dict", sign(KEY, "[1,2]", now()), "bad-payload"),
        ("bad tag", sign_raw(r#"{"b":{" b":"A"}}"#), "bad-payload"),
        ("not JSON", sign_raw("not json"), "bad-payload"),
        ("no dots", "garbage".to_owned(), "bad-signature"),
        (
            "deep nesting",
            sign_raw(&format!(
                "{{\"a\":{}1{}}}",
                "[".repeat(200),
                "]".repeat(200)
            )),
            "bad-payload",
        ),
    ];
    for (name, cookie, kind) in &cases {
        let reply = server.get("/get_email", Some(cookie));
        assert_eq!(reply.status, 200, "{name}");
        assert!(reply.body.contains(PROMPT), "{name}: {}", reply.body);
        assert!(
            reply.session_cookie().is_none(),
            "{name}: a bad cookie is left alone, as in Flask"
        );
        assert_eq!(reply.header("vary"), Some("Cookie"), "{name}");
        let log = server.wait_log("rejected session cookie").join("\n");
        assert!(
            log.contains(&format!("kind=\"{kind}\"")),
            "{name}: log lacks {kind}:\n{log}"
        );
        assert!(!log.contains(KEY), "{name}: the key leaked into the log");
        // Writing over a bad cookie replaces it.
        let reply = server.post_form(
            "/set_email",
            Some(cookie),
            "email_address=fresh%40example.com",
        );
        assert_eq!(reply.status, 302, "{name}");
        assert!(
            reply.session_cookie().is_some_and(|c| !c.is_empty()),
            "{name}"
        );
        server.wait_log("rejected session cookie");
    }
}

#[test]
fn a_flood_of_bad_cookies_is_one_warning_per_kind_and_interval() {
    let server = flacon_serve(&["--secret-key", KEY]);
    let good = sign(KEY, r#"{"email":"someone@example.com"}"#, now());
    for i in 0..300 {
        let mut forged = good.clone().into_bytes();
        forged[i % 20] ^= 1;
        let reply = server.get("/get_email", Some(&String::from_utf8(forged).unwrap()));
        assert!(reply.body.contains(PROMPT));
    }
    // Another kind has its own line; everything logged before it is in by then.
    let expired = sign(
        KEY,
        r#"{"email":"old@example.com"}"#,
        now() - 40 * 24 * 3600,
    );
    server.get("/get_email", Some(&expired));
    let log = server.wait_log("kind=\"expired\"");
    let forged_lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("kind=\"bad-signature\""))
        .collect();
    assert_eq!(forged_lines.len(), 1, "{forged_lines:#?}");
    assert!(forged_lines[0].contains("WARN"), "{}", forged_lines[0]);
    assert!(forged_lines[0].contains("total=1"), "{}", forged_lines[0]);
}

#[test]
fn an_oversized_session_is_an_explicit_error_naming_the_culprit() {
    let server = flacon_serve(&["--secret-key", KEY]);
    // Random-looking text does not compress: a few KB exceed the 4093-byte cookie limit.
    let mut state = 0x2545_f491_u32;
    let item: String = (0..8000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let reply = server.get(&format!("/cart/add/{item}"), None);
    assert_eq!(reply.status, 500);
    assert!(reply.session_cookie().is_none(), "nothing half-written");
    assert!(!reply.body.contains(&item[..50]));
    let log = server.wait_log("over the 4093-byte limit").join("\n");
    assert!(
        log.contains("\"cart\""),
        "the log names the biggest key: {log}"
    );
}

#[test]
fn each_request_has_one_compact_access_line() {
    let server = flacon_serve(&["--secret-key", "access-log-test-key-0123456789"]);
    server.get("/get_email?secret=do-not-log", None);
    let log = server.wait_log("GET /get_email 200 ").join("\n");
    assert!(
        !log.contains("do-not-log"),
        "the query string stays out of the log: {log}"
    );
}
