//! The sign-in routes of `flacon serve` (POST /login, /whoami, /logout, /logout-everywhere,
//! /devices) and `flacon store sessions|revoke --user`, against real processes: two servers
//! sharing one Redis for the cross-process revocation, Chromium for the devices page.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{flacon_serve, redis_server::RedisServer, submit, temp_db, Server};

const KEY: &str = "accounts-test-key-7f3a9c2e51d0";

fn sign_in(server: &Server, user: &str) -> String {
    let reply = submit(server, "/login", "/login", "", &format!("user={user}"));
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("/whoami"));
    reply.session_cookie().expect("a session cookie")
}

fn whoami(server: &Server, cookie: &str) -> String {
    server.get("/whoami", Some(cookie)).body
}

fn flacon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn signing_in_and_out_with_server_side_sessions_and_the_store_commands() {
    let store = temp_db("accounts");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    assert_eq!(server.get("/whoami", None).body, "<h1>Not signed in</h1>");
    let phone = sign_in(&server, "ada");
    let laptop = sign_in(&server, "ada");
    let other = sign_in(&server, "%3Cb%3Ebob%3C%2Fb%3E");
    assert_eq!(whoami(&server, &phone), "<h1>Signed in as ada</h1>");
    assert_eq!(
        whoami(&server, &other),
        "<h1>Signed in as &lt;b&gt;bob&lt;/b&gt;</h1>"
    );

    let listed = flacon(&["store", "sessions", "--user", "ada", "--store", &store]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.lines().any(|l| l.starts_with(&format!("{phone}\t"))));

    let out = flacon(&[
        "store", "revoke", "--user", "ada", "--except", &phone, "--store", &store,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("revoked 1 server-side session(s) of ada"));
    assert_eq!(whoami(&server, &laptop), "<h1>Not signed in</h1>");
    assert_eq!(whoami(&server, &phone), "<h1>Signed in as ada</h1>");

    let out = submit(
        &server,
        "/devices",
        "/logout",
        &format!("session={phone}"),
        "",
    );
    assert_eq!(out.status, 302);
    assert_eq!(
        out.session_cookie().as_deref(),
        Some(""),
        "the cookie is deleted"
    );
    assert_eq!(whoami(&server, &phone), "<h1>Not signed in</h1>");
    assert_eq!(
        whoami(&server, &other),
        "<h1>Signed in as &lt;b&gt;bob&lt;/b&gt;</h1>"
    );
}

#[test]
fn a_logout_on_one_server_is_seen_by_another_within_the_staleness_bound() {
    let redis = RedisServer::start();
    let registry = redis.url();
    let args = ["--secret-key", KEY, "--revocations", &registry];
    let one = flacon_serve(&args);
    let two = flacon_serve(&args);
    let cookie = sign_in(&one, "ada");
    let copy = cookie.clone();
    let tablet = sign_in(&two, "ada");
    assert_eq!(
        whoami(&two, &cookie),
        "<h1>Signed in as ada</h1>",
        "one cookie, both servers"
    );

    // A single logout on server one: the copied cookie dies on server two.
    let out = submit(
        &one,
        "/devices",
        "/logout",
        &format!("session={cookie}"),
        "",
    );
    assert_eq!(out.status, 302);
    let seen_after = time_until(|| whoami(&two, &copy) == "<h1>Not signed in</h1>");
    assert!(
        seen_after < Duration::from_millis(1500),
        "seen after {seen_after:?}"
    );
    assert_eq!(
        whoami(&two, &tablet),
        "<h1>Signed in as ada</h1>",
        "the other device is not"
    );

    // Everywhere, from server two: the tablet signed in on two, a phone on one.
    let phone = sign_in(&one, "ada");
    let bob = sign_in(&one, "bob");
    let out = submit(
        &two,
        "/devices",
        "/logout-everywhere",
        &format!("session={tablet}"),
        "",
    );
    assert_eq!(out.status, 302);
    let seen_after = time_until(|| whoami(&one, &phone) == "<h1>Not signed in</h1>");
    assert!(
        seen_after < Duration::from_millis(1500),
        "seen after {seen_after:?}"
    );
    assert_eq!(whoami(&two, &tablet), "<h1>Not signed in</h1>");
    assert_eq!(whoami(&one, &bob), "<h1>Signed in as bob</h1>");
    // The CLI voids a user on the same registry.
    let out = flacon(&["store", "revoke", "--user", "bob", "--store", &registry]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    time_until(|| whoami(&one, &bob) == "<h1>Not signed in</h1>");
}

/// How long until `done` holds; panics after 5 s.
fn time_until(mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(5), "never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn the_devices_page_in_chromium_revokes_another_device() {
    let store = temp_db("devices");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let (seen, shot) = support::browser_run("devices_e2e.py", &base, "devices.png");
    assert_eq!(seen["phone_signed_in"], "Signed in as ada");
    assert_eq!(seen["title"], "Sessions of ada");
    let before = seen["rows_before"].as_array().unwrap();
    assert_eq!(before.len(), 2, "{seen}");
    assert_eq!(
        before
            .iter()
            .filter(|r| r.as_str().unwrap().contains("(this device)"))
            .count(),
        1
    );
    assert_eq!(seen["rows_after"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["laptop_after"], "Not signed in");
    assert_eq!(seen["phone_after"], "Signed in as ada");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1000,
        "a screenshot"
    );
}

#[test]
fn timeouts_and_encryption_are_flags() {
    let server = flacon_serve(&["--secret-key", KEY, "--encrypt", "--idle-timeout", "600"]);
    let cookie = sign_in(&server, "ada");
    assert!(cookie.starts_with("e1."), "{cookie}");
    let reply = server.get("/whoami", Some(&cookie));
    assert_eq!(reply.body, "<h1>Signed in as ada</h1>");
    assert!(
        reply.session_cookie().is_some(),
        "re-sent on each use while an idle timeout is on"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--secret-key",
            KEY,
            "--store",
            "memory",
            "--encrypt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cookie sessions"));
}

/// `flacon store revoke --all` (ASVS 7.4.2, 7.4.5: an administrator ends every session):
/// with signed cookies, every sign-in before it is void on every server sharing the
/// registry, within the staleness bound; with a server-side store, every session is
/// deleted. A sign-in after it works.
#[test]
fn revoke_all_ends_every_session_of_every_user() {
    let registry = temp_db("accounts-revoke-all");
    let args = ["--secret-key", KEY, "--revocations", &registry];
    let one = flacon_serve(&args);
    let two = flacon_serve(&args);
    let ada = sign_in(&one, "ada");
    let bob = sign_in(&two, "bob");
    assert_eq!(whoami(&two, &ada), "<h1>Signed in as ada</h1>");
    let out = flacon(&["store", "revoke", "--all", "--store", &registry]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("every signed cookie signed in before now is void"));
    let seen_after = time_until(|| {
        [(&one, &ada), (&two, &ada), (&one, &bob), (&two, &bob)]
            .iter()
            .all(|(server, cookie)| whoami(server, cookie) == "<h1>Not signed in</h1>")
    });
    assert!(
        seen_after < Duration::from_millis(1500),
        "seen after {seen_after:?}"
    );
    let again = sign_in(&one, "ada");
    assert_eq!(whoami(&two, &again), "<h1>Signed in as ada</h1>");

    let store = temp_db("accounts-revoke-all-store");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let ada = sign_in(&server, "ada");
    let bob = sign_in(&server, "bob");
    let out = flacon(&["store", "revoke", "--all", "--store", &store]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("revoked 2 server-side session(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(whoami(&server, &ada), "<h1>Not signed in</h1>");
    assert_eq!(whoami(&server, &bob), "<h1>Not signed in</h1>");
}
