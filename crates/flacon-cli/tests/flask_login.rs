//! Flask-Login across a real Flask-Login app and `flacon serve` with one key: a login on
//! either side is a login on the other (fresh, with Flask-Login's session protection
//! satisfied), a remember-me cookie alone restores it on either side, the two issue the same
//! remember-me cookie, and a logout on flacon clears it as Flask-Login does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::{flacon_serve, flask_login_app, try_request_with, Reply, Server};

const KEY: &str = "flask-login-interop-key-7e6d5c4b3a";

fn send(server: &Server, method: &str, path: &str, cookies: &str, form: Option<&str>) -> Reply {
    let header = (!cookies.is_empty()).then_some(cookies);
    try_request_with(server.port, method, path, header, form).unwrap()
}

/// `name=value` of the cookie `name` a reply sets.
fn pair(reply: &Reply, name: &str) -> String {
    format!(
        "{name}={}",
        reply
            .cookie_named(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", reply.headers))
    )
}

/// A `Set-Cookie` header with its `Expires` date masked.
fn undated(reply: &Reply, name: &str) -> String {
    let header = reply
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"));
    header
        .split("; ")
        .map(|p| {
            if p.starts_with("Expires=") && !p.contains("1970") {
                "Expires=<date>"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

const SIGNED_IN: &str = "<h1>Signed in as ada</h1>";

#[test]
fn logins_and_remember_me_cookies_cross_between_flask_login_and_flacon() {
    let flask = flask_login_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let form = Some("user=ada&remember=on");
    let by_flask = send(&flask, "POST", "/login", "", form);
    let by_flacon = send(&flacon, "POST", "/login", "", form);
    assert_eq!(
        undated(&by_flask, "remember_token"),
        undated(&by_flacon, "remember_token"),
        "the same remember-me cookie, byte for byte"
    );
    for (signed_in_by, reader) in [(&by_flask, &flacon), (&by_flacon, &flask)] {
        // The session alone: signed in, and nothing to rewrite (flacon's `_id` is what
        // Flask-Login's session protection computes, so the login stays fresh).
        let session = pair(signed_in_by, "session");
        let reply = send(reader, "GET", "/whoami", &session, None);
        assert_eq!(reply.body, SIGNED_IN);
        assert!(
            reply.cookie_named("session").is_none(),
            "{:?}",
            reply.headers
        );
        // The remember-me cookie alone: signed in again, not fresh.
        let remember = pair(signed_in_by, "remember_token");
        let reply = send(reader, "GET", "/whoami", &remember, None);
        assert_eq!(reply.body, SIGNED_IN, "restored from {remember}");
        let restored = pair(&reply, "session");
        // ...and that restored session is a login for the other side too.
        let back = if std::ptr::eq(reader, &flacon) {
            &flask
        } else {
            &flacon
        };
        assert_eq!(
            send(back, "GET", "/whoami", &restored, None).body,
            SIGNED_IN
        );
    }
    // A forged remember-me cookie signs nobody in on either side.
    let forged = pair(&by_flacon, "remember_token").replace("ada|", "eve|");
    for server in [&flask, &flacon] {
        assert_eq!(
            send(server, "GET", "/whoami", &forged, None).body,
            "<h1>Not signed in</h1>"
        );
    }
    // Logging out with both cookies clears the remember-me cookie, as Flask-Login does.
    let both = format!(
        "{}; {}",
        pair(&by_flacon, "session"),
        pair(&by_flacon, "remember_token")
    );
    let out_flacon = send(&flacon, "POST", "/logout", &both, None);
    let both = format!(
        "{}; {}",
        pair(&by_flask, "session"),
        pair(&by_flask, "remember_token")
    );
    let out_flask = send(&flask, "POST", "/logout", &both, None);
    assert_eq!(
        undated(&out_flacon, "remember_token"),
        undated(&out_flask, "remember_token")
    );
    let after = out_flacon.cookie_named("session").unwrap_or_default();
    let after = if after.is_empty() {
        String::new()
    } else {
        format!("session={after}")
    };
    assert_eq!(
        send(&flask, "GET", "/whoami", &after, None).body,
        "<h1>Not signed in</h1>"
    );
}

/// Flask-Login's session identifier (a SHA-512 over Python `bytes` reprs of the client's
/// address and User-Agent) and its remember-me cookie for odd user ids (Werkzeug quotes
/// them), computed by real Flask-Login and by flacon.
#[test]
fn identifiers_and_quoted_remember_cookies_match_flask_login() {
    let cases: [(Option<&str>, Option<&str>, &str); 5] = [
        (None, None, "ada"),
        (
            Some("10.0.0.1, 10.0.0.2"),
            Some("Mozilla/5.0 (X11) \"quoted\" 'single'"),
            "a b",
        ),
        (Some("2001:db8::1"), Some("it's"), "semi;colon"),
        (None, Some("caf\u{e9} \\ tab\t"), "comma,\"quote\""),
        (Some("192.0.2.7"), Some(""), "\u{e9}t\u{e9}"),
    ];
    let script = r#"
import json, sys
from flask import Flask
from flask_login import LoginManager
from flask_login.utils import _create_identifier, encode_cookie
app = Flask(__name__)
app.secret_key = sys.argv[1]
LoginManager(app)
for line in sys.stdin:
    forwarded, agent, user = json.loads(line)
    headers = {}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if agent is not None:
        headers["User-Agent"] = agent
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        resp = app.make_response("")
        resp.set_cookie("remember_token", encode_cookie(user))
        print(json.dumps([_create_identifier(), resp.headers["Set-Cookie"]]))
"#;
    let input: String = cases
        .iter()
        .map(|case| serde_json::json!(case).to_string() + "\n")
        .collect();
    let flask = support::python::json_lines(&["-c", script, KEY], input);
    let login = flacon::flask_login::FlaskLogin::new(&flacon::KeyRing::new(
        flacon::SecretKey::from_text(KEY),
    ));
    for ((forwarded, agent, user), flask) in cases.iter().zip(&flask) {
        let addr = forwarded.unwrap_or("127.0.0.1");
        assert_eq!(
            flacon::flask_login::session_identifier(Some(addr), *agent),
            flask[0].as_str().unwrap(),
            "{forwarded:?} {agent:?}"
        );
        let ours = login.remember_cookie(user, std::time::Duration::from_secs(60), 0);
        let value = |header: &str| header.split("; ").next().unwrap().to_owned();
        assert_eq!(value(&ours), value(flask[1].as_str().unwrap()), "{user:?}");
    }
}
