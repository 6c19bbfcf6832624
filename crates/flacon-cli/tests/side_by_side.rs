//! `flacon serve` and the article's app on real Flask, with one key, answer the same request
//! sequences the same way, and each honours the other's cookies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::{flacon_serve, flask_app, page_and_cookies, Client, Reply};

const KEY: &str = "side-by-side-key-7c1e0b9d4a";

enum Step {
    Get(&'static str),
    Post(&'static str, &'static str),
    Tamper,
}

#[test]
fn same_requests_same_responses() {
    let flask = flask_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let steps = [
        Step::Get("/get_email"),
        Step::Get("/set_email"),
        Step::Post("/set_email", "email_address=someone%40example.com"),
        Step::Get("/get_email"),
        Step::Post(
            "/set_email",
            "email_address=%3Ca%26b%3E%22%27%2F%C3%A9%40x.com",
        ),
        Step::Get("/get_email"),
        Step::Get("/cart"),
        Step::Get("/cart/add/bike"),
        Step::Get("/cart/add/h%C3%A9lmet"),
        Step::Get("/cart"),
        Step::Get("/permanent"),
        Step::Get("/get_email"),
        Step::Get("/cart"),
        Step::Get("/delete_email"),
        Step::Get("/get_email"),
        Step::Get("/clear"),
        Step::Get("/get_email"),
        Step::Post("/set_email", "email_address=back%40example.com"),
        Step::Tamper,
        Step::Get("/get_email"),
        Step::Get("/nope"),
    ];
    let mut a = Client::new(flask.port);
    let mut b = Client::new(flacon.port);
    for (i, step) in steps.iter().enumerate() {
        let (ra, rb) = match step {
            Step::Get(path) => (a.get(path), b.get(path)),
            Step::Post(path, form) => (a.post(path, form), b.post(path, form)),
            Step::Tamper => {
                for c in [&mut a, &mut b] {
                    let cookie = c.cookie.take().unwrap();
                    c.cookie = Some(format!("x{}", &cookie[1..]));
                }
                continue;
            }
        };
        if matches!(step, Step::Get("/nope")) {
            assert_eq!((ra.status, rb.status), (404, 404));
            continue;
        }
        assert_eq!(page_and_cookies(&ra), page_and_cookies(&rb), "step {i}");
    }
}

#[test]
fn an_equal_assignment_is_the_one_documented_difference() {
    let flask = flask_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let mut a = Client::new(flask.port);
    let mut b = Client::new(flacon.port);
    a.post("/set_email", "email_address=same%40example.com");
    b.post("/set_email", "email_address=same%40example.com");
    let (ra, rb) = (
        a.post("/set_email", "email_address=same%40example.com"),
        b.post("/set_email", "email_address=same%40example.com"),
    );
    assert!(
        ra.session_cookie().is_some(),
        "Flask re-sends an unchanged session"
    );
    assert!(
        rb.session_cookie().is_none(),
        "flacon does not: nothing changed"
    );
    assert_eq!((ra.status, &ra.body), (rb.status, &rb.body));
}

#[test]
fn each_honours_the_others_cookie() {
    let flask = flask_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let minted_by_flask = flask.set_email(None, "email_address=from%2Bflask%40example.com");
    let minted_by_flacon = flacon.set_email(None, "email_address=from%2Bflacon%40example.com");
    assert!(flacon
        .get("/get_email", Some(&minted_by_flask))
        .body
        .contains("<h1>Welcome from+flask@example.com!</h1>"));
    assert!(flask
        .get("/get_email", Some(&minted_by_flacon))
        .body
        .contains("<h1>Welcome from+flacon@example.com!</h1>"));
    // A cart started on one side and extended on the other.
    let cart = flask
        .get("/cart/add/bike", Some(&minted_by_flask))
        .session_cookie()
        .unwrap();
    let reply = flacon.get("/cart/add/helmet", Some(&cart));
    assert_eq!(reply.body, "{\"cart\":[\"bike\",\"helmet\"]}\n");
    let back = flask.get("/cart", Some(&reply.session_cookie().unwrap()));
    assert_eq!(back.body, "{\"cart\":[\"bike\",\"helmet\"]}\n");
}

#[test]
fn weak_keys_are_refused_unless_allowed() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--secret-key",
            "BAD_SECRET_KEY",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: weak-key: "));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("FLACON_SECRET_KEY", "dev")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the environment variable is checked too"
    );
    let flacon = flacon_serve(&["--secret-key", "BAD_SECRET_KEY", "--allow-weak-key"]);
    assert_eq!(flacon.get("/get_email", None).status, 200);
}

/// A weak fallback key is refused as a weak signing key is (security review, point 3): the
/// state after rotating away from a tutorial key, where a cookie forged with the old key
/// would be accepted and re-signed with the new one.
#[test]
fn weak_fallback_keys_are_refused_unless_allowed() {
    let config =
        std::env::temp_dir().join(format!("flacon-weak-fallback-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!("SECRET_KEY = \"{KEY}\"\nSECRET_KEY_FALLBACKS = [\"BAD_SECRET_KEY\"]\n"),
    )
    .unwrap();
    let config_path = config.to_str().unwrap();
    for args in [
        vec!["--secret-key", KEY, "--fallback-key", "dev"],
        vec![
            "--secret-key",
            KEY,
            "--fallback-key",
            KEY,
            "--fallback-key",
            "secret",
        ],
        vec!["--config", config_path],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flacon"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(&args)
            .env_remove("FLACON_SECRET_KEY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: weak-key: refusing to serve: fallback key "),
            "{stderr}"
        );
    }
    // Allowed for a demo: the forged cookie then works, which is what the flag says.
    std::fs::remove_file(&config).unwrap();
    let forged = flacon::codec::CookieCodec::flask(&flacon::KeyRing::new(
        flacon::SecretKey::from_text("dev"),
    ))
    .encode(
        &flacon::codec::from_tagged_json(r#"{"_user_id":"admin"}"#).unwrap(),
        now(),
    );
    let flacon = flacon_serve(&[
        "--secret-key",
        KEY,
        "--fallback-key",
        "dev",
        "--allow-weak-key",
    ]);
    let reply = flacon.get("/whoami", Some(&forged));
    assert_eq!(reply.body, "<h1>Signed in as admin</h1>");
}

/// Flashed messages: the same flashes, pages and cookies on both sides (categories, a
/// category filter, messages shown once), and a message flashed on one side shows on the
/// other.
#[test]
fn flashed_messages_show_once_on_either_side() {
    let flask = flask_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let mut a = Client::new(flask.port);
    let mut b = Client::new(flacon.port);
    let steps: [(&str, Option<&str>); 7] = [
        ("/messages", None),
        ("/flash", Some("message=Saved+%3Cdraft%3E")),
        ("/flash", Some("message=Card+declined&category=error")),
        ("/messages?only=error", None),
        ("/messages", None),
        ("/flash", Some("message=Welcome+back")),
        ("/messages", None),
    ];
    for (n, (path, form)) in steps.iter().enumerate() {
        let (ra, rb) = match form {
            Some(form) => (a.post(path, form), b.post(path, form)),
            None => (a.get(path), b.get(path)),
        };
        assert_eq!(
            page_and_cookies(&ra),
            page_and_cookies(&rb),
            "step {n}: {path}"
        );
        if n == 3 {
            assert!(
                rb.body.contains("<p class=\"error\">Card declined</p>"),
                "{}",
                rb.body
            );
            assert!(
                !rb.body.contains("Saved"),
                "filtered out, and gone as in Flask"
            );
        }
    }
    // Flashed on Flask, shown by flacon; flashed on flacon, shown by Flask.
    support::flashes_cross(&flask, &flacon);
}

/// The token in a feedback form page.
fn form_token(page: &Reply) -> String {
    let start = page.body.find("name=csrf_token value=\"").unwrap() + 23;
    let len = page.body[start..].find('"').unwrap();
    page.body[start..start + len].to_owned()
}

/// A Flask-WTF CSRF form served by one side is accepted when posted to the other, and a bad
/// token is refused by both with Flask-WTF's message.
#[test]
fn a_form_from_one_side_posts_to_the_other_with_its_csrf_token() {
    let flask = flask_app(KEY);
    let flacon = flacon_serve(&["--secret-key", KEY]);
    let form = "text=fast+and+friendly";
    for (serves, takes) in [(&flask, &flacon), (&flacon, &flask)] {
        let page = serves.get("/feedback", None);
        let cookie = page.session_cookie().unwrap();
        let token = form_token(&page);
        assert_eq!(
            page.body.replace(&token, "<token>"),
            "<!doctype html>\n<title>Feedback</title>\n<form method=post action=/feedback>\n<input type=hidden name=csrf_token value=\"<token>\">\n<textarea name=text required></textarea>\n<button type=submit>Send</button>\n</form>"
        );
        let posted = takes.post_form(
            "/feedback",
            Some(&cookie),
            &format!("csrf_token={token}&{form}"),
        );
        assert_eq!(posted.status, 302, "{}", posted.body);
        let shown = serves.get("/messages", Some(&posted.session_cookie().unwrap()));
        assert!(
            shown.body.contains("Thanks for your feedback (3 words)"),
            "{}",
            shown.body
        );
    }
    // Refused alike: no token, another session's token, a forged one.
    let other = flask.get("/feedback", None);
    let page = flacon.get("/feedback", None);
    let cookie = page.session_cookie().unwrap();
    for (body, want) in [
        (form.to_owned(), "The CSRF token is missing."),
        (
            format!("csrf_token={}&{form}", form_token(&other)),
            "The CSRF tokens do not match.",
        ),
        (
            format!("csrf_token={}x&{form}", form_token(&page)),
            "The CSRF token is invalid.",
        ),
    ] {
        for server in [&flask, &flacon] {
            let reply = server.post_form("/feedback", Some(&cookie), &body);
            assert_eq!((reply.status, reply.body.as_str()), (400, want));
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
