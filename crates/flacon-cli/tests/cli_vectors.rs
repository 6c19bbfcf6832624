//! The Flask vectors through the `flacon` binary, exactly as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../flacon/tests/common/mod.rs"]
mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use common::*;
use flacon::codec::to_tagged_json;
use flacon::Value;

fn flacon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flacon runs");
    if let Some(input) = stdin {
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        // A command that refuses its arguments exits before reading its input: what it
        // answered is what the tests check (a fresh clone's CI run met this race).
        if let Err(error) = written {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn sign_reproduces_every_sign_vector() {
    for case in cases_of("sign") {
        let id = str_of(&case, "id");
        let expect = dict_of(&case, "expect");
        let hex = key_hex(case.get("secret_key").unwrap());
        let timestamp = int_of(&case, "timestamp").unwrap().to_string();
        let out = flacon(
            &[
                "cookie",
                "sign",
                "--secret-key-hex",
                &hex,
                "--timestamp",
                &timestamp,
            ],
            Some(str_of(expect, "payload_json")),
        );
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("{}\n", str_of(expect, "cookie")),
            "{id}"
        );
    }
}

#[test]
fn decode_gives_flasks_result_for_every_verify_vector() {
    for case in cases_of("verify") {
        let id = str_of(&case, "id");
        let expect = dict_of(&case, "expect");
        let lenient = case.get("python_lenient") == Some(&Value::Bool(true));
        let mut args: Vec<String> =
            vec!["cookie".into(), "decode".into(), "--secret-key-hex".into()];
        args.push(key_hex(case.get("secret_key").unwrap()));
        if let Some(Value::List(fallbacks)) = case.get("fallback_keys") {
            for key in fallbacks {
                args.push("--fallback-key-hex".into());
                args.push(key_hex(key));
            }
        }
        match int_of(&case, "max_age") {
            Some(max_age) => args.extend(["--max-age".into(), max_age.to_string()]),
            None => args.push("--no-max-age".into()),
        }
        args.extend(["--now".into(), int_of(&case, "now").unwrap().to_string()]);
        args.push(str_of(&case, "cookie").to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = flacon(&args, None);
        let stderr = text(&out.stderr);
        if expect.get("ok") == Some(&Value::Bool(true)) {
            if lenient && !out.status.success() {
                continue;
            }
            assert!(out.status.success(), "{id}: {stderr}");
            let want = to_tagged_json(&from_convention(expect.get("session").unwrap()));
            assert_eq!(text(&out.stdout), format!("{want}\n"), "{id}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{id}");
            let first = stderr.lines().next().unwrap_or_default();
            let kind = match str_of(expect, "error") {
                "BadSignature" | "BadTimeSignature" => "bad-signature",
                "SignatureExpired" => "expired",
                "BadPayload" => "bad-payload",
                _ => "",
            };
            assert!(first.starts_with("error: "), "{id}: {first}");
            if !kind.is_empty() && !lenient {
                assert!(
                    first.starts_with(&format!("error: {kind}: ")),
                    "{id}: {first}"
                );
            }
            assert!(out.stdout.is_empty(), "{id}: nothing on stdout");
        }
    }
}

#[test]
fn unverified_decode_says_so() {
    let out = flacon(
        &[
            "cookie",
            "decode",
            "--unverified",
            "eyJhIjoxfQ.ZVPxAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{\"a\":1}\n");
    assert!(text(&out.stderr).contains("NOT checked"));
}

#[test]
fn sign_then_decode_with_a_fallback_key_reports_the_fallback() {
    let out = flacon(
        &[
            "cookie",
            "sign",
            "--secret-key",
            "old-key",
            "--timestamp",
            "1700000000",
        ],
        Some(r#"{"cart":{" t":["bike"]},"n":NaN}"#),
    );
    let cookie = text(&out.stdout);
    let out = flacon(
        &[
            "cookie",
            "decode",
            "--secret-key",
            "new-key",
            "--fallback-key",
            "old-key",
            "--now",
            "1700000001",
            cookie.trim(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"cart\":{\" t\":[\"bike\"]},\"n\":NaN}\n"
    );
    assert!(text(&out.stderr).contains("fallback key #1"));
}

#[test]
fn key_generate_and_check() {
    let out = flacon(&["key", "generate"], None);
    assert!(out.status.success());
    let key = text(&out.stdout);
    assert_eq!(key.trim().len(), 64);
    assert!(flacon(&["key", "check", key.trim()], None).status.success());
    for weak in ["BAD_SECRET_KEY", "dev", "secret", "changeme", "short"] {
        let out = flacon(&["key", "check", weak], None);
        assert_eq!(out.status.code(), Some(1), "{weak}");
        assert!(text(&out.stderr).starts_with("error: weak-key: "), "{weak}");
    }
}

#[test]
fn malformed_input_is_an_error_not_a_crash() {
    let out = flacon(&["cookie", "sign", "--secret-key", "k"], Some("{not json"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: bad-input: "));
    let out = flacon(
        &[
            "cookie",
            "decode",
            "--secret-key",
            "k",
            "\u{00e9}\u{00e9}.\u{00e9}",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: bad-signature: "));
}

#[test]
fn sign_refuses_what_no_flask_app_could_load() {
    for (payload, says) in [
        ("[1,2]", "this input is of type list"),
        ("\"just text\"", "this input is of type str"),
        ("42", "this input is of type int"),
    ] {
        let out = flacon(&["cookie", "sign", "--secret-key", "k"], Some(payload));
        assert_eq!(out.status.code(), Some(1), "{payload}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("error: bad-input: a session is a JSON object"),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{payload}: {stderr}");
        assert!(out.stdout.is_empty(), "{payload}: printed a cookie");
    }
    for key in [["--secret-key", ""], ["--secret-key-hex", ""]] {
        let out = flacon(&["cookie", "sign", key[0], key[1]], Some("{}"));
        assert_eq!(out.status.code(), Some(1), "{key:?}");
        assert!(
            text(&out.stderr).starts_with("error: usage: the key is empty"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_negative_timestamp_is_refused_by_name() {
    let out = flacon(
        &["cookie", "sign", "--secret-key", "k", "--timestamp", "-5"],
        Some("{}"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: usage: --timestamp is Unix seconds since 1970, not -5\n"
    );
}

#[test]
fn a_cookie_from_the_future_says_so() {
    let out = flacon(
        &[
            "cookie",
            "sign",
            "--secret-key",
            "k",
            "--timestamp",
            "1700000100",
        ],
        Some("{\"a\":1}"),
    );
    assert!(out.status.success());
    let cookie = text(&out.stdout);
    let out = flacon(
        &[
            "cookie",
            "decode",
            "--secret-key",
            "k",
            "--now",
            "1700000000",
            cookie.trim(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let first = text(&out.stderr).lines().next().unwrap().to_owned();
    assert_eq!(
        first,
        "error: expired: signed 100 s in the future (max age 2678400 s)"
    );
}

#[test]
fn a_redis_url_without_a_host_says_what_a_valid_one_looks_like() {
    for command in [
        &["serve", "--store", "redis://"][..],
        &["store", "list", "--store", "redis://"][..],
    ] {
        let out = flacon(command, None);
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("\"redis://\" names no host"), "{stderr}");
        assert!(stderr.contains("redis://127.0.0.1:6379/0"), "{stderr}");
        assert!(!stderr.contains("InvalidClientConfig"), "{stderr}");
    }
}

/// A cookie real Flask signs with `key`.
fn flask_cookie(key: &str) -> String {
    let script = python::script("flask_codec.py");
    let lines = python::json_lines(
        &[
            script.to_str().unwrap(),
            "generate",
            key,
            "1700000000",
            "1",
            "7",
        ],
        String::new(),
    );
    lines[0]["cookie"].as_str().unwrap().to_owned()
}

#[test]
fn cookie_audit_finds_a_published_key_in_a_flask_cookie() {
    let weak = flask_cookie("this-really-needs-to-be-changed");
    let strong_key = text(&flacon(&["key", "generate"], None).stdout);
    let strong = flask_cookie(strong_key.trim());
    let out = flacon(&["cookie", "audit", &weak, &strong], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let found = text(&out.stdout);
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.starts_with("weak key found: this-really-needs-to-be-changed "));

    let out = flacon(&["cookie", "audit", &strong], None);
    assert_eq!(out.status.code(), Some(0));
    let tried: u64 = text(&out.stdout)
        .strip_prefix("no weak key found (")
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(tried > 50_000, "{tried}");
}

#[test]
fn cookie_audit_reads_wordlists_in_flask_unsign_format() {
    let cookie = flask_cookie("our team's own key, 2026!");
    let dir = std::env::temp_dir().join(format!("flacon-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("wordlist.txt");
    let audit = |wordlist: &str| {
        std::fs::write(&list, wordlist).unwrap();
        let listed = [
            "cookie",
            "audit",
            "--no-built-in",
            "--wordlist",
            list.to_str().unwrap(),
        ];
        flacon(&[&listed[..], &[cookie.as_str()]].concat(), None)
    };
    let out = audit("plain-line\n'quoted\\tline'\n\"our team's own key, 2026!\"\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout).split(" (cookie").next(),
        Some("weak key found: our team's own key, 2026!")
    );
    let out = audit("plain-line\n");
    assert_eq!(text(&out.stdout), "no weak key found (1 keys tried)\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn published_keys_are_weak_for_key_check_and_serve() {
    // Long and varied, so only the published list can catch them.
    for key in ["this-really-needs-to-be-changed", "you-will-never-guess"] {
        let out = flacon(&["key", "check", key], None);
        assert_eq!(out.status.code(), Some(1), "{key}");
        let out = Command::new(env!("CARGO_BIN_EXE_flacon"))
            .args(["serve", "--addr", "127.0.0.1:0", "--secret-key", key])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "serve refused {key}");
        assert!(text(&out.stderr).contains("weak"), "{}", text(&out.stderr));
    }
}

#[test]
fn decode_opens_an_encrypted_cookie_with_its_key_and_says_so_without() {
    let keys = flacon::KeyRing::new(flacon::SecretKey::from_text(
        "an-encryption-test-key-0123456789",
    ));
    let session = flacon::codec::from_tagged_json(r#"{"email":"ada@example.com"}"#).unwrap();
    let cookie =
        flacon::codec::CookieCipher::new(&keys, "session").encrypt(&session, 1_700_000_000);
    let out = flacon(&["cookie", "decode", "--unverified", &cookie], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: encrypted: "),
        "{}",
        text(&out.stderr)
    );
    let key = [
        "--secret-key",
        "an-encryption-test-key-0123456789",
        "--no-max-age",
    ];
    let out = flacon(
        &[&["cookie", "decode"][..], &key, &[&cookie]].concat(),
        None,
    );
    assert_eq!(text(&out.stdout), "{\"email\":\"ada@example.com\"}\n");
    let moved = [
        &["cookie", "decode", "--cookie-name", "other"][..],
        &key,
        &[&cookie],
    ]
    .concat();
    let out = flacon(&moved, None);
    assert!(
        text(&out.stderr).starts_with("error: bad-signature: cannot decrypt"),
        "{}",
        text(&out.stderr)
    );
}
