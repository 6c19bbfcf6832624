//! The security review's findings, each against real `flacon serve` processes as it was
//! reproduced: remember-me cookies that bypassed sign-in bookkeeping (point 1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::http_client::Reply;
use support::{flacon_serve, form_token, pair, send, submit, temp_db, Server};

const KEY: &str = "security-review-key-4b8e2d6f1a9c";
const SIGNED_IN: &str = "<h1>Signed in as ada</h1>";
const SIGNED_OUT: &str = "<h1>Not signed in</h1>";

/// Signs ada in with "remember me": the session and remember-me cookies.
fn sign_in_remembered(server: &Server, cookies: &str) -> (String, String) {
    let reply = submit(server, "/login", "/login", cookies, "user=ada&remember=on");
    assert_eq!(reply.status, 302);
    (pair(&reply, "session"), pair(&reply, "remember_token"))
}

/// The revoke form's handle of the first row of a `/devices` page that is not this device.
fn other_device(page: &str) -> String {
    page.split("<tr")
        .filter(|row| !row.contains("(this device)"))
        .filter_map(|row| row.split("name=id value=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .next()
        .unwrap_or_else(|| panic!("no other device on {page}"))
        .to_owned()
}

fn whoami(server: &Server, cookies: &str) -> Reply {
    send(server, "GET", "/whoami", cookies, None)
}

/// The session a signed cookie holds, in Flask's tagged JSON.
fn cookie_json(cookie: &str) -> String {
    let value = cookie.strip_prefix("session=").unwrap();
    let codec =
        flacon::codec::CookieCodec::flask(&flacon::KeyRing::new(flacon::SecretKey::from_text(KEY)));
    flacon::codec::to_tagged_json(&codec.decode_unverified(value).unwrap())
}

/// Signed cookies with a registry: a login restored from the remember-me cookie is a real
/// sign-in (its own id and time, so a logout revokes it), a logout voids the remember-me
/// cookie too, and "log out everywhere" voids every remember-me cookie issued before it.
#[test]
fn point_1_remember_me_restores_are_sign_ins_that_revocation_ends() {
    let registry = temp_db("review-remember");
    let server = flacon_serve(&["--secret-key", KEY, "--revocations", &registry]);
    let (_, remember) = sign_in_remembered(&server, "");

    let restored = whoami(&server, &remember);
    assert_eq!(restored.body, SIGNED_IN);
    let session = pair(&restored, "session");
    let json = cookie_json(&session);
    assert!(
        json.contains("\"_flacon_sid\"") && json.contains("\"_flacon_login\""),
        "the restored session is stamped as a sign-in: {json}"
    );
    assert!(json.contains("\"_fresh\":false"), "{json}");

    // A logout of the restored session: its cookie and the remember-me cookie both die,
    // copies included.
    let both = format!("{session}; {remember}");
    assert_eq!(
        submit(&server, "/devices", "/logout", &both, "").status,
        302
    );
    assert_eq!(
        whoami(&server, &session).body,
        SIGNED_OUT,
        "the session copy"
    );
    assert_eq!(
        whoami(&server, &remember).body,
        SIGNED_OUT,
        "the remember-me copy"
    );

    // Log out everywhere: a remember-me cookie issued before it restores nothing.
    let (_, laptop_remember) = sign_in_remembered(&server, "");
    let (phone, _) = sign_in_remembered(&server, "");
    assert_eq!(whoami(&server, &laptop_remember).body, SIGNED_IN);
    let out = submit(&server, "/devices", "/logout-everywhere", &phone, "");
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&server, &laptop_remember).body, SIGNED_OUT);
    // A new sign-in after it is remembered again.
    let (_, fresh_remember) = sign_in_remembered(&server, "");
    assert_eq!(whoami(&server, &fresh_remember).body, SIGNED_IN);
}

/// Server-side sessions: restoring into a session the browser already had (an anonymous id
/// an attacker planted) gives it a new id and files it under the user, so the planted id
/// is worth nothing, `/devices` lists the session and "log out everywhere" ends it and the
/// remember-me cookies issued before.
#[test]
fn point_1_a_restore_rotates_the_planted_id_and_is_listed_and_revocable() {
    let store = temp_db("review-remember-store");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let (_, remember) = sign_in_remembered(&server, "");
    // The attacker's anonymous session, planted in the victim's browser.
    let planted = pair(&send(&server, "GET", "/cart/add/bait", "", None), "session");
    let restored = whoami(&server, &format!("{planted}; {remember}"));
    assert_eq!(restored.body, SIGNED_IN);
    let session = pair(&restored, "session");
    assert_ne!(session, planted, "a restore is a sign-in: a new id");
    assert_eq!(
        whoami(&server, &planted).body,
        SIGNED_OUT,
        "the planted id is dead"
    );
    let devices = send(&server, "GET", "/devices", &session, None).body;
    assert!(devices.contains("(this device)"), "{devices}");

    let out = submit(&server, "/devices", "/logout-everywhere", &session, "");
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&server, &session).body, SIGNED_OUT);
    assert_eq!(
        whoami(&server, &remember).body,
        SIGNED_OUT,
        "the remember-me cookie too"
    );
}

/// With an absolute timeout, the remember-me cookie lasts no longer: its `Expires` is
/// within the timeout, and a copy replayed after it restores nothing.
#[test]
fn point_1_the_absolute_timeout_covers_remember_me_cookies() {
    let server = flacon_serve(&["--secret-key", KEY, "--absolute-timeout", "2"]);
    let reply = submit(&server, "/login", "/login", "", "user=ada&remember=on");
    let header = reply
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("remember_token="))
        .unwrap()
        .to_owned();
    let expires = header
        .split("; ")
        .find_map(|p| p.strip_prefix("Expires="))
        .unwrap();
    let now = std::time::SystemTime::now();
    let expires_at = httpdate_secs(expires);
    let now_secs = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(expires_at <= now_secs + 3, "{header}");
    let remember = pair(&reply, "remember_token");
    assert_eq!(whoami(&server, &remember).body, SIGNED_IN);
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_eq!(whoami(&server, &remember).body, SIGNED_OUT);
}

/// An HTTP date's Unix seconds.
fn httpdate_secs(date: &str) -> u64 {
    let parsed = flacon::value::DateTime::parse_http_date(date)
        .unwrap_or_else(|| panic!("not an HTTP date: {date}"));
    u64::try_from(parsed.unix_seconds).unwrap()
}

/// `/devices` names each session by a handle, never by its id (with unsigned ids the id is
/// the cookie): nothing on device one's page signs in as device two, the page is never
/// cached, and the revoke button still ends device two (point 2).
#[test]
fn point_2_the_devices_page_shows_no_live_session_id() {
    let store = temp_db("review-devices");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let login = |form: &str| pair(&submit(&server, "/login", "/login", "", form), "session");
    let one = login("user=ada");
    let two = login("user=ada");
    let page = send(&server, "GET", "/devices", &one, None);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    for id in [&one, &two] {
        let id = id.strip_prefix("session=").unwrap();
        assert!(
            !page.body.contains(id),
            "a live id on the page: {}",
            page.body
        );
    }
    let handles: Vec<&str> = page
        .body
        .split("name=id value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(handles.len(), 2, "{}", page.body);
    for handle in &handles {
        let as_cookie = format!("session={handle}");
        assert_eq!(
            whoami(&server, &as_cookie).body,
            SIGNED_OUT,
            "a handle is no credential"
        );
    }
    assert_eq!(
        send(&server, "GET", "/whoami", &one, None).header("cache-control"),
        Some("no-store")
    );
    // Revoke each row that is not this device: device two is signed out, one is not.
    let other = other_device(&page.body);
    let token = form_token(&page.body).unwrap();
    let out = send(
        &server,
        "POST",
        "/devices/revoke",
        &one,
        Some(&format!("id={other}&csrf_token={token}")),
    );
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&server, &two).body, SIGNED_OUT);
    assert_eq!(whoami(&server, &one).body, SIGNED_IN);
    // A made-up handle revokes nothing.
    let out = send(
        &server,
        "POST",
        "/devices/revoke",
        &one,
        Some(&format!("id=0123456789abcdef&csrf_token={token}")),
    );
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&server, &one).body, SIGNED_IN);
}

/// A state-changing post with these request headers.
fn post_from(
    server: &Server,
    action: &str,
    headers: &[(&str, &str)],
    cookies: &str,
    form: &str,
) -> Reply {
    support::http_client::try_request_headers(
        server.port,
        "POST",
        action,
        headers,
        (!cookies.is_empty()).then_some(cookies),
        Some(form),
    )
    .unwrap()
}

/// The demo's state-changing posts (`/login`, `/logout`, `/logout-everywhere`,
/// `/devices/revoke`) need the Flask-WTF token their pages carry, and refuse a post another
/// site sends even with one (point 6): the review's cross-site "log out everywhere" and
/// login CSRF, reproduced with the headers a browser adds.
#[test]
fn point_6_cross_site_and_tokenless_posts_are_refused() {
    let store = temp_db("review-csrf");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let origin = format!("http://127.0.0.1:{}", server.port);
    // Without a token: refused, nobody signed in.
    let reply = send(&server, "POST", "/login", "", Some("user=eve"));
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains("The CSRF token is missing."),
        "{}",
        reply.body
    );
    assert!(reply.cookie_named("session").is_none());

    let phone = pair(
        &submit(&server, "/login", "/login", "", "user=ada"),
        "session",
    );
    let laptop = pair(
        &submit(&server, "/login", "/login", "", "user=ada"),
        "session",
    );
    let page = send(&server, "GET", "/devices", &laptop, None);
    let token = form_token(&page.body).unwrap();
    let form = format!("csrf_token={token}");
    for headers in [
        &[("Origin", "https://evil.example")][..],
        &[("Origin", "null")],
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", origin.as_str()),
        ],
        &[("Sec-Fetch-Site", "same-site")],
    ] {
        let reply = post_from(&server, "/logout-everywhere", headers, &laptop, &form);
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
        assert_eq!(whoami(&server, &phone).body, SIGNED_IN, "{headers:?}");
    }
    // A forged or another session's token is refused too.
    let forged = post_from(
        &server,
        "/logout-everywhere",
        &[],
        &laptop,
        "csrf_token=forged",
    );
    assert_eq!(forged.status, 400);
    let phones_token = form_token(&send(&server, "GET", "/devices", &phone, None).body).unwrap();
    let mismatched = format!("csrf_token={phones_token}");
    let reply = post_from(&server, "/logout-everywhere", &[], &laptop, &mismatched);
    assert_eq!(reply.status, 400);
    assert_eq!(whoami(&server, &phone).body, SIGNED_IN);
    // The same post from this site, as the browser sends it from the devices page: done.
    let headers = [
        ("Origin", origin.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let reply = post_from(&server, "/logout-everywhere", &headers, &laptop, &form);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(whoami(&server, &phone).body, SIGNED_OUT);
}

/// A token taken before signing in (say by whoever fixated the session) posts nothing
/// after it (point 9): the sign-in dropped the session's CSRF secret.
#[test]
fn point_9_a_token_from_before_the_sign_in_is_void_after_it() {
    let server = flacon_serve(&["--secret-key", KEY]);
    let page = send(&server, "GET", "/login", "", None);
    let before = form_token(&page.body).unwrap();
    let cookies = support::merge_cookies("", &page);
    let signed_in = send(
        &server,
        "POST",
        "/login",
        &cookies,
        Some(&format!("user=ada&csrf_token={before}")),
    );
    assert_eq!(signed_in.status, 302);
    let session = pair(&signed_in, "session");
    let reply = send(
        &server,
        "POST",
        "/logout",
        &session,
        Some(&format!("csrf_token={before}")),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(whoami(&server, &session).body, SIGNED_IN);
}

/// The demo's cookie is `SameSite=Lax` unless told otherwise (point 6); `--cookie-samesite
/// off`, or a Flask config file silent on it, gives Flask's default (no attribute), with
/// which the article's routes answer byte for byte as Flask does.
#[test]
fn point_6_the_demo_cookie_is_same_site_lax_by_default() {
    let cookie_of = |server: &Server| {
        let reply = send(
            server,
            "POST",
            "/set_email",
            "",
            Some("email_address=a%40b.c"),
        );
        reply
            .all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("session="))
            .unwrap()
            .to_owned()
    };
    let demo = support::flacon_serve_as_is(&["--secret-key", KEY], &[]);
    assert!(
        cookie_of(&demo).ends_with("; SameSite=Lax"),
        "{}",
        cookie_of(&demo)
    );
    let flask_like =
        support::flacon_serve_as_is(&["--secret-key", KEY, "--cookie-samesite", "off"], &[]);
    assert!(
        !cookie_of(&flask_like).contains("SameSite"),
        "{}",
        cookie_of(&flask_like)
    );
}

/// A registry whose store lost its data (a Redis restarted without persistence) is a new
/// generation: a cookie that logged out before is not accepted again, and neither is any
/// sign-in older than the new registry; sign-ins after it work (point 7).
#[test]
fn point_7_a_registry_that_lost_its_data_fails_closed() {
    let mut redis = support::redis_server::RedisServer::start();
    let registry = redis.url();
    let args = ["--secret-key", KEY, "--revocations", &registry];
    let server = flacon_serve(&args);
    let other = flacon_serve(&args);
    let sign_in = || {
        pair(
            &submit(&server, "/login", "/login", "", "user=ada"),
            "session",
        )
    };
    let logged_out = sign_in();
    let kept = sign_in();
    assert_eq!(
        submit(&server, "/devices", "/logout", &logged_out, "").status,
        302
    );
    assert_eq!(whoami(&server, &logged_out).body, SIGNED_OUT);
    assert_eq!(whoami(&server, &kept).body, SIGNED_IN);
    // The other server honours the logout within its staleness bound (1 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while whoami(&other, &logged_out).body != SIGNED_OUT {
        assert!(
            std::time::Instant::now() < deadline,
            "never seen by the other server"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    redis.restart_empty();
    // Once the server has read the new registry (within its staleness bound, 1 s), no
    // sign-in older than it is trusted; until then the old view (or a 503) answers. Never
    // is the logged-out cookie signed in again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let replayed = [whoami(&server, &logged_out), whoami(&other, &logged_out)];
        assert!(
            replayed.iter().all(|r| r.body != SIGNED_IN),
            "the lost logout is undone"
        );
        let replies = [whoami(&server, &kept), whoami(&other, &kept)];
        if replies
            .iter()
            .all(|r| r.status == 200 && r.body == SIGNED_OUT)
        {
            break;
        }
        let reply = &replies[0];
        assert!(
            std::time::Instant::now() < deadline,
            "a sign-in older than the new registry is still trusted: {}",
            reply.body
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(whoami(&server, &logged_out).body, SIGNED_OUT);
    // A server started after the loss never saw the old registry: the generation alone
    // keeps both cookies out.
    let late = flacon_serve(&args);
    assert_eq!(whoami(&late, &logged_out).body, SIGNED_OUT);
    assert_eq!(whoami(&late, &kept).body, SIGNED_OUT);
    let after = sign_in();
    assert_eq!(whoami(&late, &after).body, SIGNED_IN);
    assert_eq!(whoami(&other, &after).body, SIGNED_IN);
}

/// The review's reproduction of point 4: a registry holding a million denials, one process
/// serving a signed-in user while another signs an account in and out in a loop. Every read
/// of the signed-in user is answered (no 503: the view never falls behind its bound), every
/// logout is done, and the loop's denials stay under the per-user cap.
#[test]
fn point_4_a_million_denials_and_a_churning_process_stall_nobody() {
    let path = support::python::workspace_root().join(format!(
        "target/tmp/review-million-{}.db",
        std::process::id()
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    seed_denials(&path, 1_000_000);
    let registry = format!("sqlite:{}", path.display());
    let reader = flacon_serve(&["--secret-key", KEY, "--revocations", &registry]);
    let churner = flacon_serve(&["--secret-key", KEY, "--revocations", &registry]);
    let ada = pair(
        &submit(&reader, "/login", "/login", "", "user=ada"),
        "session",
    );

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let server = churner;
            let mut logouts = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let eve = pair(
                    &submit(&server, "/login", "/login", "", "user=eve"),
                    "session",
                );
                let out = submit(&server, "/devices", "/logout", &eve, "");
                assert_eq!(out.status, 302, "{}", out.body);
                logouts += 1;
            }
            logouts
        }
    });
    let started = std::time::Instant::now();
    let mut reads = 0;
    while started.elapsed() < std::time::Duration::from_secs(5) {
        let reply = whoami(&reader, &ada);
        assert_eq!(reply.status, 200, "read {reads}: {}", reply.body);
        assert_eq!(reply.body, SIGNED_IN);
        reads += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let logouts = churn.join().unwrap();
    eprintln!("1,000,000 denials: {reads} signed-in reads answered, {logouts} logouts done in 5 s");
    assert!(logouts > 100, "the loop ran: {logouts} logouts");
    assert!(reads > 100, "{reads} reads");
    // The loop's account holds no more denials than the cap, whatever it did.
    let live = count_rows(&path, "SELECT count(*) FROM flacon_revoked_tokens");
    assert!(
        live <= 1_000_000 + flacon::revocation::MAX_DENIALS_PER_USER as u64,
        "{live} denials"
    );
}

/// A registry in SQLite with `count` live denials (Unix seconds an hour from now), created
/// a day ago, as flacon lays it out.
fn seed_denials(path: &std::path::Path, count: u64) {
    let script = "import sqlite3, sys, time\n\
        db = sqlite3.connect(sys.argv[1])\n\
        now = int(time.time())\n\
        db.executescript('''\n\
        CREATE TABLE flacon_revoked_users (user TEXT PRIMARY KEY NOT NULL, before_ms INTEGER NOT NULL, logouts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;\n\
        CREATE TABLE flacon_revoked_tokens (token TEXT PRIMARY KEY NOT NULL, until INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;\n\
        CREATE TABLE flacon_revocation_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 0);\n\
        ''')\n\
        db.execute('INSERT INTO flacon_revocation_version VALUES (1, 1, ?)', ((now - 86400) * 1000,))\n\
        db.executemany('INSERT INTO flacon_revoked_tokens VALUES (?, ?, 1)', (('seed-%d' % i, now + 3600) for i in range(int(sys.argv[2]))))\n\
        db.commit()\n\
        print('[]')\n";
    support::python::json_lines(
        &["-c", script, path.to_str().unwrap(), &count.to_string()],
        String::new(),
    );
}

fn count_rows(path: &std::path::Path, sql: &str) -> u64 {
    let script = "import sqlite3, sys\nprint(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])\n";
    let out =
        support::python::json_lines(&["-c", script, path.to_str().unwrap(), sql], String::new());
    out[0].as_u64().unwrap()
}

/// A user signed in by a real Flask-Login app on the Flask side of one Redis is filed under
/// the user the first time flacon loads the session, so flacon's "log out everywhere" ends
/// that login too, on both sides (point 14).
#[test]
fn point_14_log_out_everywhere_ends_a_login_made_by_the_flask_app() {
    let redis = support::redis_server::RedisServer::start();
    let flask = support::flask_login_session_app(KEY, &redis.url());
    let flacon = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    let by_flask = pair(
        &send(&flask, "POST", "/login", "", Some("user=ada")),
        "session",
    );
    assert_eq!(
        send(&flask, "GET", "/whoami", &by_flask, None).body,
        SIGNED_IN
    );
    // flacon reads Flask's session: the same login, now on ada's list.
    assert_eq!(whoami(&flacon, &by_flask).body, SIGNED_IN);
    let by_flacon = pair(
        &submit(&flacon, "/login", "/login", "", "user=ada"),
        "session",
    );
    let devices = send(&flacon, "GET", "/devices", &by_flacon, None).body;
    assert_eq!(devices.matches("name=id value=").count(), 2, "{devices}");

    let out = submit(&flacon, "/devices", "/logout-everywhere", &by_flacon, "");
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&flacon, &by_flask).body, SIGNED_OUT);
    assert_eq!(
        send(&flask, "GET", "/whoami", &by_flask, None).body,
        SIGNED_OUT,
        "ended for the Flask app too"
    );
}

/// Flask-Login's session protection is checked, not only written (point 12): with `strong`
/// a session used from another browser is signed out; with the default `basic` it stays
/// signed in but is no longer a fresh login. `X-Forwarded-For` from a client that is not a
/// trusted proxy does not change who the client is.
#[test]
fn point_12_session_protection_is_checked() {
    let from = |server: &Server, agent: &str, cookies: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("User-Agent", agent)];
        headers.extend_from_slice(extra);
        support::http_client::try_request_headers(
            server.port,
            "GET",
            "/whoami",
            &headers,
            Some(cookies),
            None,
        )
        .unwrap()
    };
    let login_from = |server: &Server, agent: &str| {
        let page = support::http_client::try_request_headers(
            server.port,
            "GET",
            "/login",
            &[("User-Agent", agent)],
            None,
            None,
        )
        .unwrap();
        let token = form_token(&page.body).unwrap();
        let cookies = support::merge_cookies("", &page);
        let reply = support::http_client::try_request_headers(
            server.port,
            "POST",
            "/login",
            &[("User-Agent", agent)],
            Some(&cookies),
            Some(&format!("user=ada&csrf_token={token}")),
        )
        .unwrap();
        pair(&reply, "session")
    };
    let strong = flacon_serve(&["--secret-key", KEY, "--session-protection", "strong"]);
    let session = login_from(&strong, "Laptop/1.0");
    assert_eq!(from(&strong, "Laptop/1.0", &session, &[]).body, SIGNED_IN);
    // The same address pretending to be another through X-Forwarded-For: still the laptop.
    let forwarded = [("X-Forwarded-For", "203.0.113.9")];
    let strong_untrusting = flacon_serve(&[
        "--secret-key",
        KEY,
        "--session-protection",
        "strong",
        "--trusted-proxies",
        "none",
    ]);
    let kept = login_from(&strong_untrusting, "Laptop/1.0");
    assert_eq!(
        from(&strong_untrusting, "Laptop/1.0", &kept, &forwarded).body,
        SIGNED_IN
    );
    let stolen = from(&strong, "Thief/6.6", &session, &[]);
    assert_eq!(stolen.body, SIGNED_OUT, "another browser: signed out");
    let emptied = pair(&stolen, "session");
    assert_eq!(from(&strong, "Laptop/1.0", &emptied, &[]).body, SIGNED_OUT);

    let basic = flacon_serve(&["--secret-key", KEY]);
    let session = login_from(&basic, "Laptop/1.0");
    let elsewhere = from(&basic, "Thief/6.6", &session, &[]);
    assert_eq!(elsewhere.body, SIGNED_IN);
    assert!(cookie_json(&pair(&elsewhere, "session")).contains("\"_fresh\":false"));
}

/// Revoking a device from `/devices` ends its remember-me cookie too (point 1): a copy of it
/// restores nothing afterwards, while the other device's still does.
#[test]
fn point_1_revoking_a_device_ends_its_remember_me_cookie() {
    let store = temp_db("review-revoke-remembered");
    let server = flacon_serve(&["--secret-key", KEY, "--store", &store]);
    let (phone, phone_remember) = sign_in_remembered(&server, "");
    let (laptop, laptop_remember) = sign_in_remembered(&server, "");
    let page = send(&server, "GET", "/devices", &phone, None).body;
    let token = form_token(&page).unwrap();
    let laptop_row = other_device(&page);
    let out = send(
        &server,
        "POST",
        "/devices/revoke",
        &phone,
        Some(&format!("id={laptop_row}&csrf_token={token}")),
    );
    assert_eq!(out.status, 302);
    assert_eq!(whoami(&server, &laptop).body, SIGNED_OUT);
    assert_eq!(
        whoami(&server, &laptop_remember).body,
        SIGNED_OUT,
        "the revoked device's remember-me cookie"
    );
    assert_eq!(whoami(&server, &phone_remember).body, SIGNED_IN);
}
