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

use support::{flacon_serve, flask_login_app, pair, send, submit, Reply};

const KEY: &str = "flask-login-interop-key-7e6d5c4b3a";

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
    let form = "user=ada&remember=on";
    let by_flask = send(&flask, "POST", "/login", "", Some(form));
    let by_flacon = submit(&flacon, "/login", "/login", "", form);
    // The same cookie attributes; flacon's value signs `ada|issued.id` with Flask-Login's
    // digest (a token of this sign-in, which a logout can void), Flask-Login's the bare id.
    let masked = |reply: &Reply| {
        let header = undated(reply, "remember_token");
        let (value, attributes) = header.split_once("; ").unwrap();
        (value.to_owned(), attributes.to_owned())
    };
    let (flask_value, flask_attributes) = masked(&by_flask);
    let (flacon_value, flacon_attributes) = masked(&by_flacon);
    assert_eq!(flask_attributes, flacon_attributes);
    assert!(
        flask_value.starts_with("remember_token=ada|"),
        "{flask_value}"
    );
    let stamp = flacon_value
        .strip_prefix("remember_token=ada|")
        .and_then(|rest| rest.rsplit_once('|'))
        .map(|(stamp, _)| stamp)
        .unwrap_or_else(|| panic!("{flacon_value}"));
    let (issued, id) = stamp.split_once('.').unwrap();
    assert!(issued.parse::<u64>().is_ok() && id.len() == 22, "{stamp}");
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
    let out_flacon = submit(&flacon, "/devices", "/logout", &both, "");
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
/// address and User-Agent, the header read as latin-1) computed by real Flask-Login and by
/// flacon, and flacon's remember-me cookies for odd user ids (Werkzeug quotes them) read by
/// Werkzeug's cookie parser and verified by Flask-Login's `decode_cookie`.
#[test]
fn identifiers_and_quoted_remember_cookies_match_flask_login() {
    /// `X-Forwarded-For`, the `User-Agent` bytes, the user id.
    type Case<'a> = (Option<&'a str>, Option<&'a [u8]>, &'a str);
    let cases: [Case<'_>; 6] = [
        (None, None, "ada"),
        (
            Some("10.0.0.1, 10.0.0.2"),
            Some(b"Mozilla/5.0 (X11) \"quoted\" 'single'"),
            "a b",
        ),
        (Some("2001:db8::1"), Some(b"it's"), "semi;colon"),
        (None, Some(b"caf\xe9 \\ tab\t"), "comma,\"quote\""),
        (Some("192.0.2.7"), Some(b""), "\u{e9}t\u{e9}"),
        // Bytes above 0x7f, as a browser may send them: UTF-8 and plain latin-1.
        (
            None,
            Some("Mozilla/5.0 (caf\u{e9}) \u{2603}".as_bytes()),
            "ada",
        ),
    ];
    let script = r#"
import json, sys
from flask import Flask
from flask_login import LoginManager
from flask_login.utils import _create_identifier, decode_cookie
from werkzeug.http import parse_cookie
app = Flask(__name__)
app.secret_key = sys.argv[1]
LoginManager(app)
for line in sys.stdin:
    forwarded, agent, set_cookie = json.loads(line)
    headers = {}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if agent is not None:
        # The header's bytes, as a WSGI server hands them over: one character per byte.
        headers["User-Agent"] = bytes(agent).decode("latin-1")
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        value = parse_cookie(set_cookie.split("; ")[0]).get("remember_token")
        print(json.dumps([_create_identifier(), decode_cookie(value)]))
"#;
    let login = flacon::flask_login::FlaskLogin::new(&flacon::KeyRing::new(
        flacon::SecretKey::from_text(KEY),
    ));
    let ours: Vec<String> = cases
        .iter()
        .map(|(_, _, user)| login.remember_cookie(user, std::time::Duration::from_secs(60), 0))
        .collect();
    let input: String = cases
        .iter()
        .zip(&ours)
        .map(|((forwarded, agent, _), cookie)| {
            serde_json::json!([forwarded, agent.map(<[u8]>::to_vec), cookie]).to_string() + "\n"
        })
        .collect();
    let flask = support::python::json_lines(&["-c", script, KEY], input);
    let proxies = flacon::flask_login::TrustedProxies::default();
    let peer = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 40000)));
    for ((forwarded, agent, user), flask) in cases.iter().zip(&flask) {
        let mut headers = http::HeaderMap::new();
        if let Some(forwarded) = forwarded {
            headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        }
        if let Some(agent) = agent {
            headers.insert("user-agent", http::HeaderValue::from_bytes(agent).unwrap());
        }
        assert_eq!(
            flacon::flask_login::client_identifier(&headers, peer, &proxies),
            flask[0].as_str().unwrap(),
            "{forwarded:?} {agent:?}"
        );
        let payload = flask[1]
            .as_str()
            .unwrap_or_else(|| panic!("Flask-Login refused {user:?}'s token"));
        assert!(payload.starts_with(&format!("{user}|")), "{payload}");
    }
}

/// `X-Forwarded-For` names the client only when the connection comes from a trusted proxy
/// (security review, point 12): elsewhere a client could name any address, and Flask-Login's
/// session protection would compare against an address of its choosing.
#[test]
fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
    use flacon::flask_login::{client_identifier, session_identifier, TrustedProxies};
    let mut headers = http::HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
    let proxy = Some(std::net::SocketAddr::from(([10, 1, 2, 3], 40000)));
    let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
    assert_eq!(
        client_identifier(&headers, proxy, &trusted),
        session_identifier(Some("203.0.113.9"), None)
    );
    let stranger = Some(std::net::SocketAddr::from(([198, 51, 100, 7], 40000)));
    assert_eq!(
        client_identifier(&headers, stranger, &trusted),
        session_identifier(Some("198.51.100.7"), None)
    );
    assert_eq!(
        client_identifier(&headers, proxy, &TrustedProxies::none()),
        session_identifier(Some("10.1.2.3"), None)
    );
    assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    assert!(TrustedProxies::parse("not-an-address").is_err());
}
