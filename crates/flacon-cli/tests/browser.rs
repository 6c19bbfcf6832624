//! The article's walkthrough in a real headless Chromium, against `flacon serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::{flacon_serve, python};

#[test]
fn the_articles_five_steps_in_chromium_with_two_isolated_browsers() {
    walkthrough(&[], "welcome.png");
}

#[test]
fn the_same_walkthrough_with_server_side_sessions_in_sqlite() {
    let db = python::workspace_root().join(format!("target/tmp/browser-{}.db", std::process::id()));
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&db);
    walkthrough(
        &["--store", &format!("sqlite:{}", db.display())],
        "welcome-sqlite.png",
    );
}

fn walkthrough(store: &[&str], screenshot: &str) {
    let mut args = vec!["--secret-key", "browser-test-key-51c0ffee2026"];
    args.extend_from_slice(store);
    let server = flacon_serve(&args);
    let base = format!("http://127.0.0.1:{}", server.port);
    let (seen, shot) = support::browser_run("browser_e2e.py", &base, screenshot);
    let text = |key: &str| {
        seen[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing in {seen}"))
            .to_owned()
    };

    assert_eq!(text("a_first"), "Welcome! Please enter your email here.");
    assert_eq!(text("a_form_url"), format!("{base}/set_email"));
    assert_eq!(text("a_after_submit_url"), format!("{base}/get_email"));
    assert_eq!(text("a_welcome"), "Welcome ada@example.com!");
    assert_eq!(seen["a_cookie_names"], serde_json::json!(["session"]));
    assert_eq!(seen["a_cookie_http_only"], serde_json::json!(true));
    assert_eq!(text("b_welcome"), "Welcome grace@example.com!");
    assert_eq!(
        text("a_again"),
        "Welcome ada@example.com!",
        "browser B did not leak into A"
    );
    assert_eq!(text("a_deleted"), "Session deleted!");
    assert_eq!(
        text("a_after_delete"),
        "Welcome! Please enter your email here."
    );
    assert_eq!(text("b_after_a_deleted"), "Welcome grace@example.com!");

    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    println!(
        "screenshot of the welcome page: {} ({} bytes)",
        shot.display(),
        png.len()
    );
}
