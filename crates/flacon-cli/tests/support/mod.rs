//! Test support: start `flacon serve` and the reference Flask app on free ports, and a
//! minimal HTTP/1.1 client that shows exactly what went over the wire.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Stdio};

pub use http_client::*;

#[path = "../../../flacon/tests/common/http_client.rs"]
pub mod http_client;
#[path = "../../../flacon/tests/common/postgres_server.rs"]
pub mod postgres_server;
#[path = "../../../flacon/tests/common/python.rs"]
pub mod python;
#[path = "../../../flacon/tests/common/redis_server.rs"]
pub mod redis_server;

/// One request with a whole `Cookie` header (`name=value; ...`, empty for none).
pub fn send(server: &Server, method: &str, path: &str, cookies: &str, form: Option<&str>) -> Reply {
    let header = (!cookies.is_empty()).then_some(cookies);
    try_request_with(server.port, method, path, header, form).unwrap()
}

/// `name=value` of the cookie `name` a reply sets.
pub fn pair(reply: &Reply, name: &str) -> String {
    format!(
        "{name}={}",
        reply
            .cookie_named(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", reply.headers))
    )
}

/// A form post as a browser on the site makes it: `GET page` first (with `cookies`), then
/// `POST action` with `form` plus the page's CSRF token, and the cookies as the page left
/// them. The reply of the post.
pub fn submit(server: &Server, page: &str, action: &str, cookies: &str, form: &str) -> Reply {
    let shown = send(server, "GET", page, cookies, None);
    let token = form_token(&shown.body)
        .unwrap_or_else(|| panic!("no CSRF token on {page}: {}", shown.body));
    let cookies = merge_cookies(cookies, &shown);
    let form = if form.is_empty() {
        format!("csrf_token={token}")
    } else {
        format!("{form}&csrf_token={token}")
    };
    send(server, "POST", action, &cookies, Some(&form))
}

/// The value of the first `csrf_token` field of a page.
pub fn form_token(body: &str) -> Option<String> {
    let rest = body.split("name=csrf_token value=\"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

/// A `Cookie` header: `cookies` with what `reply` set in place of the old values (a deleted
/// cookie left out).
pub fn merge_cookies(cookies: &str, reply: &Reply) -> String {
    let mut jar: Vec<(String, String)> = cookies
        .split("; ")
        .filter_map(|c| c.split_once('='))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    for header in reply.all("set-cookie") {
        let Some((name, value)) = header.split(';').next().and_then(|c| c.split_once('=')) else {
            continue;
        };
        jar.retain(|(n, _)| n != name);
        if !value.is_empty() {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A fresh SQLite store under `target/tmp`, as `--store` takes it.
pub fn temp_db(name: &str) -> String {
    let path =
        python::workspace_root().join(format!("target/tmp/{name}-{}.db", std::process::id()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    format!("sqlite:{}", path.display())
}

/// `flacon serve` on a free port with `args`.
pub fn flacon_serve(args: &[&str]) -> Server {
    flacon_serve_with_env(args, &[])
}

/// `flacon serve` on a free port with `args` and the environment variables `env`, its
/// cookie configured as the Flask apps beside it are: Flask's `SameSite` default (no
/// attribute) unless `args` say otherwise (`flacon_serve_as_is` keeps the demo's own).
pub fn flacon_serve_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    let configured = args
        .iter()
        .any(|a| *a == "--cookie-samesite" || *a == "--config");
    let flask_default: &[&str] = if configured {
        &[]
    } else {
        &["--cookie-samesite", "off"]
    };
    let args: Vec<&str> = flask_default.iter().chain(args).copied().collect();
    flacon_serve_as_is(&args, env)
}

/// `flacon serve` on a free port with exactly `args` (and `--addr`).
pub fn flacon_serve_as_is(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flacon"))
        .envs(env.iter().copied())
        .arg("serve")
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("FLACON_SECRET_KEY")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flacon serve starts");
    let (rest, log) = wait_for_line(
        child.stderr.take().unwrap(),
        "listening on http://127.0.0.1:",
    );
    let port = rest.split('/').next().unwrap().parse().unwrap();
    Server { child, port, log }
}

/// The reference Flask app (`tests/python/article_app.py`) with `key`.
pub fn flask_app(key: &str) -> Server {
    flask_app_with(&[key])
}

/// The reference Flask app with Flask-Session on the Redis at `redis_url`.
pub fn flask_session_app(key: &str, redis_url: &str) -> Server {
    flask_app_with(&[key, redis_url])
}

/// The reference Flask app with `config` (a JSON object) added to its `app.config`, on
/// Flask-Session's Redis at `redis_url` if given.
pub fn flask_app_configured(key: &str, redis_url: Option<&str>, config: &str) -> Server {
    let args: Vec<&str> = std::iter::once(key).chain(redis_url).collect();
    flask_app_env(&args, &[("ARTICLE_APP_CONFIG", config)])
}

/// The reference Flask app with Flask-Login on (`/login`, `/whoami`, `/logout`).
pub fn flask_login_app(key: &str) -> Server {
    flask_app_env(&[key], &[("ARTICLE_APP_FLASK_LOGIN", "1")])
}

/// The reference Flask app with Flask-Login on, its sessions in Flask-Session's Redis at
/// `redis_url`.
pub fn flask_login_session_app(key: &str, redis_url: &str) -> Server {
    flask_app_env(&[key, redis_url], &[("ARTICLE_APP_FLASK_LOGIN", "1")])
}

fn flask_app_with(args: &[&str]) -> Server {
    flask_app_env(args, &[])
}

fn flask_app_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    python_app("article_app.py", args, env)
}

/// A message flashed on `flask` shows on `flacon`'s `/messages` and one flashed on `flacon`
/// on Flask's; once shown, it is gone.
pub fn flashes_cross(flask: &Server, flacon: &Server) {
    let ways = [
        (
            flask,
            flacon,
            "message=From+Flask&category=error",
            "<p class=\"error\">From Flask</p>",
        ),
        (
            flacon,
            flask,
            "message=From+flacon",
            "<p class=\"message\">From flacon</p>",
        ),
    ];
    for (from, to, form, want) in ways {
        let cookie = from
            .post_form("/flash", None, form)
            .session_cookie()
            .unwrap();
        let shown = to.get("/messages", Some(&cookie));
        assert!(shown.body.contains(want), "{}", shown.body);
        // A cookie session emptied by showing is deleted; a server-side one keeps its id.
        let after = match shown.session_cookie() {
            Some(value) if value.is_empty() => None,
            Some(value) => Some(value),
            None => Some(cookie),
        };
        let again = to.get("/messages", after.as_deref());
        assert!(again.body.contains("No messages."), "{}", again.body);
    }
}

/// Runs the browser script `script` (tests/python) against `base`, its screenshot saved as
/// `target/e2e/<screenshot>`; returns what the browsers saw (the script's JSON) and the
/// screenshot's path.
pub fn browser_run(
    script: &str,
    base: &str,
    screenshot: &str,
) -> (serde_json::Value, std::path::PathBuf) {
    let shot_dir = python::workspace_root().join("target/e2e");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join(screenshot);
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(python::python())
        .arg(python::script(script))
        .arg(base)
        .arg(&shot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), shot)
}
