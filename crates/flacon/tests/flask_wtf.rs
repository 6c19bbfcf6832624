//! Flask-WTF's CSRF tokens, live against real Flask-WTF: tokens it issues validate in
//! flacon, tokens flacon issues validate in Flask-WTF, and for every bad token both refuse
//! it with the same message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::python;
use flacon::csrf::Csrf;
use flacon::{KeyRing, SecretKey, Session, Value};

const KEY: &str = "flask-wtf-interop-key-51d0c9a2";

fn csrf() -> Csrf {
    Csrf::new(&KeyRing::new(SecretKey::from_text(KEY)))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn session_with(secret: Option<&str>) -> Session {
    let session = Session::detached();
    if let Some(secret) = secret {
        session.insert_value("csrf_token", Value::from(secret));
    }
    session
}

/// A session holding a fresh CSRF secret, and flacon's token for it signed at `at`.
fn flacon_token(at: u64) -> (String, String) {
    let session = Session::detached();
    let token = csrf().generate(&session, at).unwrap();
    let Some(Value::Str(secret)) = session.get_value("csrf_token") else {
        panic!("generate stores the secret");
    };
    (secret, token)
}

#[test]
fn flask_wtf_tokens_validate_in_flacon() {
    let script = python::script("wtf_csrf.py");
    let issued = python::json_lines(
        &[script.to_str().unwrap(), "generate", KEY, "20"],
        String::new(),
    );
    assert_eq!(issued.len(), 20);
    for pair in &issued {
        let secret = pair["secret"].as_str().unwrap();
        let token = pair["token"].as_str().unwrap();
        assert_eq!(secret.len(), 40);
        assert_eq!(
            csrf().validate(&session_with(Some(secret)), token, now()),
            Ok(()),
            "{token}"
        );
    }
}

#[test]
fn flacon_tokens_validate_in_flask_wtf_and_both_refuse_the_same_way() {
    let (secret, token) = flacon_token(now());
    let (other_secret, _) = flacon_token(now());
    let (old_secret, old_token) = flacon_token(now() - 3700);
    // The signature's first character: all six of its bits are signature bits. (The last
    // one's low bits are base64 padding, which itsdangerous ignores and flacon refuses, so
    // changing only those is not a tampering both sides see.)
    let signature_at = token.rfind('.').unwrap() + 1;
    let first = token.as_bytes()[signature_at];
    let mut tampered = token.clone();
    tampered.replace_range(
        signature_at..=signature_at,
        if first == b'A' { "B" } else { "A" },
    );
    let foreign = Csrf::new(&KeyRing::new(SecretKey::from_text(
        "another app's key 0b1c2d3e4f",
    )))
    .generate(&session_with(Some(&secret)), now())
    .unwrap();
    let cases: Vec<(Option<&str>, &str, &str)> = vec![
        (Some(&secret), &token, "valid"),
        (Some(&other_secret), &token, "another session's token"),
        (Some(&old_secret), &old_token, "an hour and more old"),
        (Some(&secret), &tampered, "tampered"),
        (Some(&secret), &foreign, "signed with another key"),
        (None, &token, "no secret in the session"),
        (Some(&secret), "", "no token"),
        (Some(&secret), "not-a-token", "garbage"),
    ];
    let input: String = cases
        .iter()
        .map(|(secret, token, _)| {
            serde_json::json!({"secret": secret, "token": token}).to_string() + "\n"
        })
        .collect();
    let script = python::script("wtf_csrf.py");
    let verdicts = python::json_lines(&[script.to_str().unwrap(), "validate", KEY], input);
    assert_eq!(verdicts.len(), cases.len());
    for ((secret, token, what), flask) in cases.iter().zip(&verdicts) {
        let ours = csrf()
            .validate(&session_with(*secret), token, now())
            .err()
            .map(|e| e.to_string());
        assert_eq!(ours.as_deref(), flask.as_str(), "{what}");
    }
    assert!(verdicts[0].is_null(), "Flask-WTF accepts flacon's token");
}
