//! `flacon serve` with server-side stores: Flask-Session interop on one real Redis, an outage
//! and recovery, many concurrent clients, persistence across restarts, and `flacon store`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;

use support::redis_server::RedisServer;
use support::{flacon_serve, flask_session_app, python};

const KEY: &str = "server-side-test-key-9f8e7d6c5b";
const PROMPT: &str = "Welcome! Please enter your email";

fn flacon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flacon"))
        .args(args)
        .output()
        .unwrap()
}

/// A session created by Flask-Session is read and updated by flacon (same id), and one
/// created by flacon by Flask-Session; returns the two ids.
fn sessions_are_shared(flask: &support::Server, rust: &support::Server) -> (String, String) {
    let sid = flask.set_email(None, "email_address=from%2Bflask%40example.com");
    assert!(rust
        .get("/get_email", Some(&sid))
        .body
        .contains("Welcome from+flask@example.com!"));
    let reply = rust.get("/cart/add/bike", Some(&sid));
    assert_eq!(reply.body, "{\"cart\":[\"bike\"]}\n");
    assert_eq!(
        reply.session_cookie().as_deref(),
        Some(sid.as_str()),
        "same session, same id"
    );
    assert_eq!(
        flask.get("/cart", Some(&sid)).body,
        "{\"cart\":[\"bike\"]}\n"
    );
    let sid2 = rust.set_email(None, "email_address=from%2Bflacon%40example.com");
    assert!(flask
        .get("/get_email", Some(&sid2))
        .body
        .contains("Welcome from+flacon@example.com!"));
    flask.get("/cart/add/helmet", Some(&sid2));
    assert_eq!(
        rust.get("/cart", Some(&sid2)).body,
        "{\"cart\":[\"helmet\"]}\n"
    );
    (sid, sid2)
}

#[test]
fn flask_session_and_flacon_share_sessions_in_one_redis() {
    let redis = RedisServer::start();
    let flask = flask_session_app(KEY, &redis.url());
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);

    let (sid, sid2) = sessions_are_shared(&flask, &rust);
    assert_eq!(sid.len(), 43, "Flask-Session's cookie is the bare sid");
    assert_eq!(sid2.len(), 43);
    let record = redis.cli(&["--no-raw", "GET", &format!("session:{sid}")]);
    assert!(
        record.contains("cart"),
        "msgpack record in Flask-Session's key: {record}"
    );
    let ttl: u64 = redis
        .cli(&["TTL", &format!("session:{sid2}")])
        .parse()
        .unwrap();
    assert!(ttl > 2_678_000, "EX is the permanent lifetime: {ttl}");

    // A logout on either side ends the session on both.
    rust.get("/clear", Some(&sid2));
    assert!(flask.get("/get_email", Some(&sid2)).body.contains(PROMPT));

    // An unknown id is never adopted.
    let reply = rust.post_form(
        "/set_email",
        Some("attacker-chosen-session-id-0123456789abcdef"),
        "email_address=x%40y.z",
    );
    let issued = reply.session_cookie().unwrap();
    assert_ne!(issued, "attacker-chosen-session-id-0123456789abcdef");
    assert_eq!(
        redis.cli(&[
            "EXISTS",
            "session:attacker-chosen-session-id-0123456789abcdef"
        ]),
        "0"
    );
}

#[test]
fn anonymous_traffic_stores_nothing() {
    let redis = RedisServer::start();
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    for path in ["/get_email", "/set_email", "/cart", "/delete_email"] {
        let reply = rust.get(path, None);
        assert_eq!(reply.status, 200);
        assert!(reply.session_cookie().is_none(), "{path}");
    }
    assert_eq!(stored_keys(&redis), Vec::<String>::new());
}

/// Every key in Redis but the revocation registry's own (its generation is written when
/// `flacon serve` starts, whatever the traffic).
fn stored_keys(redis: &RedisServer) -> Vec<String> {
    redis
        .cli(&["--scan"])
        .lines()
        .filter(|key| !key.is_empty() && !key.starts_with("{flacon:revocations:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_redis_outage_is_an_explicit_503_and_sessions_return_with_redis() {
    let mut redis = RedisServer::start();
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    let sid = rust.set_email(None, "email_address=durable%40example.com");
    assert!(rust
        .get("/get_email", Some(&sid))
        .body
        .contains("Welcome durable@example.com!"));

    redis.stop();
    for _ in 0..3 {
        let reply = rust.get("/get_email", Some(&sid));
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("5"));
        assert!(
            reply.session_cookie().is_none(),
            "no cookie change during an outage"
        );
        assert!(
            !reply.body.contains("Welcome! Please"),
            "never an empty session"
        );
        let reply = rust.post_form("/set_email", Some(&sid), "email_address=lost%40example.com");
        assert_eq!(reply.status, 503);
    }
    rust.wait_log("cannot load the session");
    // Anonymous pages that never touch a stored session still work.
    assert_eq!(rust.get("/set_email", None).status, 200);

    redis.restart();
    let mut back = None;
    for _ in 0..50 {
        let reply = rust.get("/get_email", Some(&sid));
        if reply.status == 200 {
            back = Some(reply);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let reply = back.expect("flacon reconnects by itself");
    assert!(
        reply.body.contains("Welcome durable@example.com!"),
        "the session is intact: {}",
        reply.body
    );
}

#[test]
fn hundreds_of_concurrent_clients_keep_their_own_sessions() {
    let redis = RedisServer::start();
    for threads in ["1", "2"] {
        redis.cli(&["FLUSHALL"]);
        let rust = flacon_serve(&[
            "--secret-key",
            KEY,
            "--store",
            &redis.url(),
            "--threads",
            threads,
        ]);
        concurrent_clients_keep_their_own_sessions(rust.port);
        assert_eq!(stored_keys(&redis).len(), 200, "with {threads} threads");
    }
}

#[test]
fn hundreds_of_concurrent_clients_keep_their_own_sessions_in_sqlite() {
    let dir = python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    for threads in ["1", "2"] {
        let db = dir.join(format!("concurrent-{threads}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&db);
        let store = format!("sqlite:{}", db.display());
        let rust = flacon_serve(&["--secret-key", KEY, "--store", &store, "--threads", threads]);
        concurrent_clients_keep_their_own_sessions(rust.port);
    }
}

/// 200 clients at once each set an email and fill a cart of their own, then read both back.
fn concurrent_clients_keep_their_own_sessions(port: u16) {
    let clients: Vec<_> = (0..200)
        .map(|i| {
            std::thread::spawn(move || {
                let email = format!("user{i}@example.com");
                let sid = support::request(
                    port,
                    "POST",
                    "/set_email",
                    None,
                    Some(&format!("email_address=user{i}%40example.com")),
                )
                .session_cookie()
                .unwrap();
                for item in 0..3 {
                    support::request(
                        port,
                        "GET",
                        &format!("/cart/add/u{i}-{item}"),
                        Some(&sid),
                        None,
                    );
                }
                let page = support::request(port, "GET", "/get_email", Some(&sid), None);
                let cart = support::request(port, "GET", "/cart", Some(&sid), None);
                (sid, email, page.body, cart.body, i)
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for client in clients {
        let (sid, email, page, cart, i) = client.join().unwrap();
        assert!(page.contains(&format!("Welcome {email}!")), "{page}");
        assert_eq!(
            cart,
            format!("{{\"cart\":[\"u{i}-0\",\"u{i}-1\",\"u{i}-2\"]}}\n")
        );
        assert!(ids.insert(sid), "ids are unique");
    }
}

#[test]
fn sqlite_sessions_survive_a_restart_and_can_be_revoked() {
    let dir = python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("serve-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let store = format!("sqlite:{}", db.display());
    let sid = {
        let rust = flacon_serve(&["--secret-key", KEY, "--store", &store]);
        rust.set_email(None, "email_address=persist%40example.com")
    };
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    assert!(rust
        .get("/get_email", Some(&sid))
        .body
        .contains("Welcome persist@example.com!"));

    let out = flacon(&["store", "list", "--store", &store]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), sid);
    let out = flacon(&["store", "show", "--store", &store, &sid]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"_permanent":true,"email":"persist@example.com"}"#,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flacon(&["store", "revoke", "--store", &store, &sid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        rust.get("/get_email", Some(&sid)).body.contains(PROMPT),
        "revoked at once"
    );
    let out = flacon(&["store", "revoke", "--store", &store, &sid]);
    assert_eq!(out.status.code(), Some(1));
}

/// Session ids are URL-safe base64, so one in 64 starts with `-`: it must be read as the id,
/// not as an option.
#[test]
fn store_commands_take_an_id_that_starts_with_a_hyphen() {
    let dir = python::workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("hyphen-{}.db", std::process::id()));
    let store = format!("sqlite:{}", db.display());
    for command in ["show", "revoke"] {
        let out = flacon(&["store", command, "--store", &store, "-LxQ3_unknown"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains("no live session"), "{command}: {stderr}");
    }
}

#[test]
fn store_commands_work_on_redis() {
    let redis = RedisServer::start();
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    let sids: Vec<String> = (0..5)
        .map(|i| rust.set_email(None, &format!("email_address=r{i}%40x.com")))
        .collect();
    let out = flacon(&["store", "list", "--store", &redis.url()]);
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    let mut want = sids.clone();
    want.sort();
    assert_eq!(listed, want);
    assert!(
        flacon(&["store", "revoke", "--store", &redis.url(), &sids[0]])
            .status
            .success()
    );
    assert!(rust.get("/get_email", Some(&sids[0])).body.contains(PROMPT));
    assert!(rust
        .get("/get_email", Some(&sids[1]))
        .body
        .contains("Welcome r1@x.com!"));
}

#[test]
fn serve_finds_its_redis_through_sentinel() {
    let sentinel = support::redis_server::RedisSentinel::start();
    let spec = format!(
        "redis+sentinel://127.0.0.1:{}/flacon-primary",
        sentinel.port
    );
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &spec]);
    let sid = rust.set_email(None, "email_address=watched%40example.com");
    assert!(rust
        .get("/get_email", Some(&sid))
        .body
        .contains("Welcome watched@example.com!"));
    assert_eq!(
        sentinel.primary.cli(&["EXISTS", &format!("session:{sid}")]),
        "1"
    );
}

/// A message flashed by Flask-Session's app shows on flacon and back, through one Redis
/// (msgspec keeps Flask's `(category, message)` tuples as lists).
#[test]
fn flashed_messages_cross_between_flask_session_and_flacon() {
    let redis = RedisServer::start();
    let flask = flask_session_app(KEY, &redis.url());
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    support::flashes_cross(&flask, &rust);
}

/// `flacon serve --store postgres://` beside a Flask-Session app on the same PostgreSQL
/// (its SQLAlchemy interface): sessions shared both ways, `flacon store` reads them, and an
/// outage is a 503 with the session back once PostgreSQL is.
#[test]
fn flask_session_and_flacon_share_sessions_in_one_postgresql() {
    let mut pg = support::postgres_server::PostgresServer::start();
    let flask = flask_session_app(KEY, &pg.url());
    let rust = flacon_serve(&["--secret-key", KEY, "--store", &pg.url()]);
    let (sid, sid2) = sessions_are_shared(&flask, &rust);
    let listed = flacon(&["store", "list", "--store", &pg.url()]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains(&sid) && listed.contains(&sid2), "{listed}");

    pg.stop();
    let down = rust.get("/get_email", Some(&sid2));
    assert_eq!(down.status, 503);
    assert!(
        down.session_cookie().is_none(),
        "no new session over the real one"
    );
    pg.restart();
    assert!(rust
        .get("/get_email", Some(&sid2))
        .body
        .contains("Welcome from+flacon@example.com!"));
}
