//! The article's app on actix-web (`examples/actix_article.rs`, served by a real actix-web
//! server on a free port) beside the article's app on real Flask, with one key: the same
//! request sequence gets the same pages and the same cookies, and each reads the other's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

#[allow(dead_code)] // its `main`; the test serves the example's app itself
#[path = "../examples/actix_article.rs"]
mod example;

use common::http_client::{page_and_cookies, python_app, request, Client};
use flacon::SecretKey;

const KEY: &str = "actix-article-key-5e2b7d19c3";

/// The example's server on a free port, on its own thread and actix runtime.
fn actix_article() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(example::serve(listener, SecretKey::from_text(KEY)))
            .unwrap();
    });
    port
}

#[test]
fn the_actix_app_answers_as_the_flask_app_does() {
    let flask = python_app("article_app.py", &[KEY], &[]);
    let actix = actix_article();
    let steps: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/get_email", None),
        ("GET", "/set_email", None),
        (
            "POST",
            "/set_email",
            Some("email_address=someone%40example.com"),
        ),
        ("GET", "/get_email", None),
        (
            "POST",
            "/set_email",
            Some("email_address=%3Ca%26b%3E%22%27%2F%C3%A9%40x.com"),
        ),
        ("GET", "/get_email", None),
        ("GET", "/delete_email", None),
        ("GET", "/get_email", None),
    ];
    let mut a = Client::new(flask.port);
    let mut b = Client::new(actix);
    for (i, (method, path, form)) in steps.iter().enumerate() {
        let (ra, rb) = (a.send(method, path, *form), b.send(method, path, *form));
        assert_eq!(
            page_and_cookies(&ra),
            page_and_cookies(&rb),
            "step {i}: {method} {path}"
        );
    }
}

#[test]
fn each_reads_the_cookie_the_other_set() {
    let flask = python_app("article_app.py", &[KEY], &[]);
    let actix = actix_article();
    let form = Some("email_address=from%2Bactix%40example.com");
    let by_actix = request(actix, "POST", "/set_email", None, form)
        .session_cookie()
        .unwrap();
    let page = request(flask.port, "GET", "/get_email", Some(&by_actix), None);
    assert!(
        page.body
            .contains("<h1>Welcome from+actix@example.com!</h1>"),
        "{}",
        page.body
    );

    let form = Some("email_address=from%2Bflask%40example.com");
    let by_flask = request(flask.port, "POST", "/set_email", None, form)
        .session_cookie()
        .unwrap();
    let page = request(actix, "GET", "/get_email", Some(&by_flask), None);
    assert!(
        page.body
            .contains("<h1>Welcome from+flask@example.com!</h1>"),
        "{}",
        page.body
    );
    // Deleted on one side, gone on the other.
    let emptied = request(actix, "GET", "/delete_email", Some(&by_flask), None)
        .session_cookie()
        .unwrap();
    let page = request(flask.port, "GET", "/get_email", Some(&emptied), None);
    assert!(
        page.body.contains("Please enter your email"),
        "{}",
        page.body
    );
}
