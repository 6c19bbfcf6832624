//! Every Flask and Flask-Session session setting, set the same way on `flacon serve` (as
//! flags, and as Flask's config keys in `--config flacon.toml`) and on the article's app on
//! real Flask / Flask-Session: the same `Set-Cookie` headers attribute by attribute, and on
//! Redis the same keys, the same record bytes and the same expiry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::redis_server::RedisServer;
use support::{flacon_serve, flask_app_configured, shape, Client, Reply, Server};

const KEY: &str = "flask-settings-key-3f9a0c1d7e";

/// One configuration, as Flask's config (JSON), as serve's flags and as a config file.
struct Case {
    name: &'static str,
    cookie_name: &'static str,
    flask: &'static str,
    flags: &'static [&'static str],
    toml: &'static str,
    redis: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "signed cookie, every cookie attribute changed",
        cookie_name: "flask_sid",
        flask: r#"{"SESSION_COOKIE_NAME": "flask_sid", "SESSION_COOKIE_DOMAIN": "example.test",
                  "SESSION_COOKIE_SECURE": true, "SESSION_COOKIE_SAMESITE": "Strict",
                  "SESSION_COOKIE_HTTPONLY": false, "SESSION_COOKIE_PARTITIONED": true,
                  "SESSION_REFRESH_EACH_REQUEST": false, "PERMANENT_SESSION_LIFETIME": 600}"#,
        flags: &[
            "--cookie-name",
            "flask_sid",
            "--cookie-domain",
            "example.test",
            "--cookie-secure",
            "--cookie-samesite",
            "Strict",
            "--no-cookie-httponly",
            "--cookie-partitioned",
            "--no-refresh-each-request",
            "--permanent-lifetime",
            "600",
        ],
        toml: r#"
            SECRET_KEY = "flask-settings-key-3f9a0c1d7e"
            SESSION_COOKIE_NAME = "flask_sid"
            SESSION_COOKIE_DOMAIN = "example.test"
            SESSION_COOKIE_SECURE = true
            SESSION_COOKIE_SAMESITE = "Strict"
            SESSION_COOKIE_HTTPONLY = false
            SESSION_COOKIE_PARTITIONED = true
            SESSION_REFRESH_EACH_REQUEST = false
            PERMANENT_SESSION_LIFETIME = 600
        "#,
        redis: false,
    },
    Case {
        name: "signed cookie, a path and SameSite=Lax",
        cookie_name: "session",
        flask: r#"{"SESSION_COOKIE_PATH": "/app", "SESSION_COOKIE_SAMESITE": "Lax"}"#,
        flags: &["--cookie-path", "/app", "--cookie-samesite", "Lax"],
        toml: r#"
            SECRET_KEY = "flask-settings-key-3f9a0c1d7e"
            SESSION_COOKIE_PATH = "/app"
            SESSION_COOKIE_SAMESITE = "Lax"
        "#,
        redis: false,
    },
    Case {
        name: "Flask-Session on Redis: signer, prefix, not permanent, short ids, JSON",
        cookie_name: "sid",
        flask: r#"{"SESSION_COOKIE_NAME": "sid", "SESSION_COOKIE_SAMESITE": "Lax",
                  "SESSION_KEY_PREFIX": "app:", "SESSION_USE_SIGNER": true,
                  "SESSION_PERMANENT": false, "SESSION_ID_LENGTH": 24,
                  "SESSION_SERIALIZATION_FORMAT": "json", "SESSION_REFRESH_EACH_REQUEST": false}"#,
        flags: &[
            "--cookie-name",
            "sid",
            "--cookie-samesite",
            "Lax",
            "--key-prefix",
            "app:",
            "--use-signer",
            "--non-permanent",
            "--id-length",
            "24",
            "--serialization",
            "json",
            "--no-refresh-each-request",
        ],
        toml: r#"
            SECRET_KEY = "flask-settings-key-3f9a0c1d7e"
            SESSION_TYPE = "redis"
            SESSION_REDIS = "REDIS_URL"
            SESSION_COOKIE_NAME = "sid"
            SESSION_COOKIE_SAMESITE = "Lax"
            SESSION_KEY_PREFIX = "app:"
            SESSION_USE_SIGNER = true
            SESSION_PERMANENT = false
            SESSION_ID_LENGTH = 24
            SESSION_SERIALIZATION_FORMAT = "json"
            SESSION_REFRESH_EACH_REQUEST = false
        "#,
        redis: true,
    },
    Case {
        name: "Flask-Session on Redis: long ids, a lifetime, secure, msgpack",
        cookie_name: "session",
        flask: r#"{"SESSION_ID_LENGTH": 48, "PERMANENT_SESSION_LIFETIME": 900,
                  "SESSION_COOKIE_SECURE": true, "SESSION_KEY_PREFIX": "s/"}"#,
        flags: &[
            "--id-length",
            "48",
            "--permanent-lifetime",
            "900",
            "--cookie-secure",
            "--key-prefix",
            "s/",
            "--serialization",
            "msgpack",
        ],
        toml: r#"
            SECRET_KEY = "flask-settings-key-3f9a0c1d7e"
            SESSION_TYPE = "redis"
            SESSION_REDIS = "REDIS_URL"
            SESSION_ID_LENGTH = 48
            PERMANENT_SESSION_LIFETIME = 900
            SESSION_COOKIE_SECURE = true
            SESSION_KEY_PREFIX = "s/"
            SESSION_SERIALIZATION_FORMAT = "msgpack"
        "#,
        redis: true,
    },
];

/// The requests each side answers, in order.
const STEPS: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/get_email", None),
    (
        "POST",
        "/set_email",
        Some("email_address=someone%40example.com"),
    ),
    ("GET", "/get_email", None),
    ("GET", "/permanent", None),
    ("GET", "/get_email", None),
    ("GET", "/cart/add/bike", None),
    ("GET", "/delete_email", None),
    ("GET", "/clear", None),
    ("GET", "/get_email", None),
];

fn comparable(reply: &Reply, case: &Case) -> Vec<String> {
    let mut out = vec![
        format!("status {}", reply.status),
        format!("body {:?}", reply.body),
        format!("vary {:?}", reply.header("vary")),
    ];
    for cookie in reply.all("set-cookie") {
        out.push(format!(
            "set-cookie: {}",
            shape(cookie, case.cookie_name, case.redis)
        ));
    }
    out
}

/// What a Redis database holds: each key with the session id masked to its length, the
/// record's bytes (hex) and its expiry to the nearest 10 s.
fn redis_contents(redis: &RedisServer, db: u32) -> Vec<(String, String, i64)> {
    let db = db.to_string();
    let keys = redis.cli(&["-n", &db, "--raw", "KEYS", "*"]);
    let mut out: Vec<_> = keys
        .lines()
        // flacon's own keys (the per-user index, the registry under its hash tag) stand
        // beside Flask-Session's records; only the records are compared.
        .filter(|k| !k.is_empty() && !k.starts_with("flacon:") && !k.starts_with("{flacon:"))
        .map(|key| {
            let value = redis.cli(&["-n", &db, "--no-raw", "GET", key]);
            let ttl: i64 = redis.cli(&["-n", &db, "TTL", key]).trim().parse().unwrap();
            let cut = key.len() - key.rsplit(['/', ':']).next().unwrap().len();
            let masked = format!("{}<{} chars>", &key[..cut], key.len() - cut);
            (masked, value.trim_end().to_owned(), (ttl + 5) / 10 * 10)
        })
        .collect();
    out.sort();
    out
}

fn run_side_by_side(case: &Case, flask: &Server, flacon: &Server, check_redis: impl Fn(usize)) {
    let mut a = Client::named(flask.port, case.cookie_name);
    let mut b = Client::named(flacon.port, case.cookie_name);
    for (n, (method, path, form)) in STEPS.iter().enumerate() {
        let (ra, rb) = (a.send(method, path, *form), b.send(method, path, *form));
        assert_eq!(
            comparable(&ra, case),
            comparable(&rb, case),
            "{}: step {n}, {method} {path}",
            case.name
        );
        check_redis(n);
    }
}

#[test]
fn serve_is_configured_like_the_flask_app_beside_it() {
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("flacon-flask-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for case in CASES {
        let flask_url = redis.url();
        let flacon_url = format!("{}/1", flask_url.trim_end_matches("/0"));
        let flask = flask_app_configured(KEY, case.redis.then_some(flask_url.as_str()), case.flask);
        let config = dir.join("flacon.toml");
        std::fs::write(&config, case.toml.replace("REDIS_URL", &flacon_url)).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let mut with_flags: Vec<&str> = vec!["--secret-key", KEY];
        if case.redis {
            with_flags.extend(["--store", &flacon_url]);
        }
        with_flags.extend(case.flags);
        for args in [with_flags, vec!["--config", &config]] {
            redis.cli(&["FLUSHALL"]);
            let flacon = flacon_serve(&args);
            run_side_by_side(case, &flask, &flacon, |step| {
                if case.redis {
                    assert_eq!(
                        redis_contents(&redis, 0),
                        redis_contents(&redis, 1),
                        "{}: Redis after step {step}, serve {args:?}",
                        case.name
                    );
                }
            });
        }
    }
}

/// The settings a signed cookie has no use for are refused rather than ignored, and a
/// config file with a key Flask would not know names it.
#[test]
fn settings_that_cannot_apply_are_refused() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flacon"))
            .arg("serve")
            .args(["--addr", "127.0.0.1:0", "--secret-key", KEY])
            .args(args)
            .output()
            .unwrap()
    };
    for flag in [
        &["--use-signer"][..],
        &["--key-prefix", "x:"],
        &["--non-permanent"],
        &["--id-length", "20"],
        &["--serialization", "json"],
    ] {
        let out = run(flag);
        assert!(!out.status.success(), "{flag:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("server-side --store"),
            "{flag:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&["--store", "memory", "--key-prefix", "x:"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("redis://"));
    let out = run(&["--cookie-samesite", "Sometimes"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Lax, Strict or None"));
    let dir = std::env::temp_dir().join(format!("flacon-bad-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flacon.toml");
    std::fs::write(&file, "SESSION_COOKIE_NAM = \"sid\"\n").unwrap();
    let out = run(&["--config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("SESSION_COOKIE_NAM"), "{stderr}");
}

/// `MAX_COOKIE_SIZE` is applied: a session that fits is sent, one that does not is refused
/// by flacon's oversize policy (Flask would send it and let the browser drop it).
#[test]
fn max_cookie_size_is_applied() {
    let flacon = flacon_serve(&["--secret-key", KEY, "--max-cookie-size", "200"]);
    let small = flacon.post_form("/set_email", None, "email_address=a%40b.c");
    assert!(small.session_cookie().is_some());
    // Letters that do not repeat, so that compression cannot bring them under the limit.
    let mut state = 7_u32;
    let letters: String = (0..300)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + (state >> 16) as u8 % 26)
        })
        .collect();
    let long = format!("email_address={letters}%40b.c");
    let big = flacon.post_form("/set_email", None, &long);
    assert_eq!(big.status, 500);
    assert!(big.session_cookie().is_none());
}

/// `SECRET_KEY_FALLBACKS` in the config file: a cookie Flask signed with the old key is read,
/// and re-signed with the new one.
#[test]
fn fallback_keys_from_the_config_file_read_old_cookies() {
    let old = "the-old-flask-key-5e4d3c2b1a09";
    let flask = support::flask_app(old);
    let cookie = flask.set_email(None, "email_address=kept%40example.com");
    let dir = std::env::temp_dir().join(format!("flacon-fallbacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flacon.toml");
    std::fs::write(
        &file,
        format!("SECRET_KEY = \"{KEY}\"\nSECRET_KEY_FALLBACKS = [\"{old}\"]\n"),
    )
    .unwrap();
    let flacon = flacon_serve(&["--config", file.to_str().unwrap()]);
    let reply = flacon.get("/get_email", Some(&cookie));
    assert!(
        reply.body.contains("Welcome kept@example.com!"),
        "{}",
        reply.body
    );
    let resigned = reply
        .session_cookie()
        .expect("re-signed with the current key");
    assert_ne!(resigned, cookie);
    let with_new_key_only = flacon_serve(&["--secret-key", KEY]);
    assert!(with_new_key_only
        .get("/get_email", Some(&resigned))
        .body
        .contains("Welcome kept@example.com!"));
}
