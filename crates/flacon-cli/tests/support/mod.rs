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

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../../../flacon/tests/common/postgres_server.rs"]
pub mod postgres_server;
#[path = "../../../flacon/tests/common/python.rs"]
pub mod python;
#[path = "../../../flacon/tests/common/redis_server.rs"]
pub mod redis_server;

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        request(self.port, "GET", path, cookie, None)
    }

    pub fn post_form(&self, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        request(self.port, "POST", path, cookie, Some(form))
    }

    /// Submits the article's form and returns the session cookie the answer sets.
    pub fn set_email(&self, cookie: Option<&str>, form: &str) -> String {
        self.post_form("/set_email", cookie, form)
            .session_cookie()
            .expect("set_email sets the session cookie")
    }

    /// Log lines printed so far.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Log lines up to and including the first that contains `needle` (the server writes
    /// its log from another thread, so a line may arrive after the response). Panics with
    /// what was seen if no such line comes within 10 seconds.
    pub fn wait_log(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line containing {needle:?}; saw:\n{}",
            seen.join("\n")
        );
    }
}

/// Reads lines from a child's pipe until one contains `marker`; returns the text after it.
fn wait_for_line(
    reader: impl std::io::Read + Send + 'static,
    marker: &'static str,
) -> (String, mpsc::Receiver<String>) {
    let (found_tx, found_rx) = mpsc::channel();
    let (log_tx, log_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find(marker) {
                let _ = found_tx.send(line[i + marker.len()..].to_owned());
            }
            let _ = log_tx.send(line);
        }
    });
    let found = found_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("server never printed {marker:?}"));
    (found, log_rx)
}

/// `flacon serve` on a free port with `args`.
pub fn flacon_serve(args: &[&str]) -> Server {
    flacon_serve_with_env(args, &[])
}

/// `flacon serve` on a free port with `args` and the environment variables `env`.
pub fn flacon_serve_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
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

fn flask_app_with(args: &[&str]) -> Server {
    flask_app_env(args, &[])
}

fn flask_app_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    python_app("article_app.py", args, env)
}

/// A Python web app from `tests/python` that prints `listening on PORT`.
pub fn python_app(script: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(python::python())
        .arg(python::script(script))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flask app starts");
    let (rest, log) = wait_for_line(child.stdout.take().unwrap(), "listening on ");
    Server {
        child,
        port: rest.trim().parse().unwrap(),
        log,
    }
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

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The session cookie value this response sets (`Some("")` for a deletion).
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie_named("session")
    }

    /// The value this response sets for the cookie `name` (`Some("")` for a deletion).
    pub fn cookie_named(&self, name: &str) -> Option<String> {
        self.all("set-cookie").iter().find_map(|c| {
            c.strip_prefix(name)?
                .strip_prefix('=')
                .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        })
    }
}

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Reply {
    try_request(port, method, path, cookie, form).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One request on a new connection; an error (refused, reset, cut short, malformed) instead
/// of a panic, for tests that expect the server to go away. A reply is only returned whole:
/// its body as long as its `Content-Length` says.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Result<Reply, String> {
    let header = cookie.map(|value| format!("session={value}"));
    try_request_with(port, method, path, header.as_deref(), form)
}

/// [`try_request`] with a whole `Cookie` header (`name=value; ...`).
pub fn try_request_with(
    port: u16,
    method: &str,
    path: &str,
    cookie_header: Option<&str>,
    form: Option<&str>,
) -> Result<Reply, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie_header {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = form.unwrap_or_default();
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("receive: {e}"))?;
    let text = String::from_utf8(raw).map_err(|_| "response is not UTF-8".to_owned())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let reply = Reply {
        status,
        headers,
        body: body.to_owned(),
    };
    if let Some(length) = reply.header("content-length") {
        if length.parse::<usize>().ok() != Some(reply.body.len()) {
            return Err(format!(
                "body cut short: {} of {length} bytes",
                reply.body.len()
            ));
        }
    }
    Ok(reply)
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
