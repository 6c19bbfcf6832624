//! Live interop with real Flask (installed from PyPI into a private venv): cookies flacon
//! signs load in Flask and Flask re-signs them to the same bytes; cookies Flask signs load
//! in flacon and re-encode to the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;

use common::{python, strategy};
use flacon::codec::{to_tagged_json, CookieCodec};
use flacon::{KeyRing, SecretKey};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRng, TestRunner};

const KEY: &str = "interop-key-3f9a1c77b2";
const TS: u64 = 1_700_000_000;

fn codec() -> CookieCodec {
    CookieCodec::flask(&KeyRing::new(SecretKey::from_text(KEY)))
}

fn json_field<'a>(line: &'a serde_json::Value, key: &str) -> &'a str {
    line.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("{key} in {line}"))
}

#[test]
fn flask_loads_flacon_cookies_and_signs_them_identically() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Default::default()),
    );
    let strategy = strategy::session();
    let sessions: Vec<_> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let cookies: Vec<String> = sessions.iter().map(|s| codec().encode(s, TS)).collect();

    let script = python::script("flask_codec.py");
    let input: String = cookies.iter().map(|c| format!("{c}\n")).collect();
    let lines = python::json_lines(
        &[script.to_str().unwrap(), "resign", KEY, &TS.to_string()],
        input,
    );
    assert_eq!(lines.len(), cookies.len());
    for ((session, cookie), line) in sessions.iter().zip(&cookies).zip(&lines) {
        assert_eq!(
            line.get("ok"),
            Some(&serde_json::Value::Bool(true)),
            "Flask rejected {cookie}: {line}"
        );
        assert_eq!(
            json_field(line, "payload"),
            to_tagged_json(session),
            "{cookie}"
        );
        assert_eq!(
            json_field(line, "cookie"),
            cookie,
            "Flask signs {session:?} differently"
        );
    }
}

#[test]
fn flacon_loads_flask_cookies_and_signs_them_identically() {
    let out = Command::new(python::python())
        .arg(python::script("flask_codec.py"))
        .args(["generate", KEY, &TS.to_string(), "400", "20261126"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut count = 0;
    for line in text.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let cookie = json_field(&line, "cookie");
        let decoded = codec()
            .decode(cookie, Some(31 * 24 * 3600), TS + 1)
            .unwrap_or_else(|e| panic!("{cookie}: {e}"));
        assert_eq!(to_tagged_json(&decoded.value), json_field(&line, "payload"));
        assert_eq!(codec().encode(&decoded.value, TS), cookie);
        count += 1;
    }
    assert_eq!(count, 400);
}

/// Payloads Flask never writes but loads: a Markup tag around a number, a bool or null
/// (Flask makes `Markup(str(value))`). Signed by Flask's serializer, read by flacon as
/// Flask reads them (Flask's re-serialization is the reference).
#[test]
fn markup_tags_around_scalars_read_as_flask_reads_them() {
    let payloads = [
        r#"{"a":{" m":5}}"#,
        r#"{"a":{" m":-1.5}}"#,
        r#"{"a":{" m":1e16}}"#,
        r#"{"a":{" m":true}}"#,
        r#"{"a":{" m":null}}"#,
        r#"{"a":{" m":123456789012345678901234567890}}"#,
    ];
    let script = python::script("flask_codec.py");
    let script = script.to_str().unwrap();
    let cookies = python::json_lines(
        &[script, "sign-raw", KEY, &TS.to_string()],
        payloads.join("\n") + "\n",
    );
    let cookies: Vec<&str> = cookies.iter().map(|c| c.as_str().unwrap()).collect();
    let flask = python::json_lines(
        &[script, "resign", KEY, &TS.to_string()],
        cookies.join("\n") + "\n",
    );
    assert_eq!(flask.len(), payloads.len());
    for ((payload, cookie), flask) in payloads.iter().zip(&cookies).zip(&flask) {
        assert_eq!(flask["ok"], serde_json::json!(true), "{payload}: {flask}");
        let decoded = codec()
            .decode(cookie, Some(31 * 24 * 3600), TS + 1)
            .unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(
            to_tagged_json(&decoded.value),
            json_field(flask, "payload"),
            "{payload}"
        );
    }
}

/// A Flask cookie holding strings with lone surrogates (`'x\udcff'`, which Python's JSON
/// reads): flacon reads the session rather than emptying it, and writes the strings back
/// exactly, as Flask reads them.
#[test]
fn lone_surrogates_survive_a_round_trip_through_flacon() {
    let payload = r#"{"s":"x\udcff","t":"\ud800\u0041","u":"\ud83d\ude00","v":["\udc80"]}"#;
    let script = python::script("flask_codec.py");
    let script = script.to_str().unwrap();
    let cookie = python::json_lines(
        &[script, "sign-raw", KEY, &TS.to_string()],
        format!("{payload}\n"),
    )[0]
    .as_str()
    .unwrap()
    .to_owned();
    let flask = &python::json_lines(
        &[script, "resign", KEY, &TS.to_string()],
        format!("{cookie}\n"),
    )[0];
    assert_eq!(flask["ok"], serde_json::json!(true), "{flask}");
    let decoded = codec()
        .decode(&cookie, Some(31 * 24 * 3600), TS + 1)
        .unwrap_or_else(|e| panic!("{cookie}: {e}"));
    assert_eq!(to_tagged_json(&decoded.value), json_field(flask, "payload"));
    // Changed by flacon and read by Flask: the surrogates are still there.
    let mut changed = decoded.value;
    if let flacon::Value::Dict(map) = &mut changed {
        map.insert("w".into(), flacon::Value::from("added"));
    }
    let ours = codec().encode(&changed, TS);
    let back = &python::json_lines(
        &[script, "resign", KEY, &TS.to_string()],
        format!("{ours}\n"),
    )[0];
    assert_eq!(
        json_field(back, "payload"),
        r#"{"s":"x\udcff","t":"\ud800A","u":"\ud83d\ude00","v":["\udc80"],"w":"added"}"#
    );
}
