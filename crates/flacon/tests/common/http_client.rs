//! Test support shared by both crates' tests: server processes on free ports (a Python app
//! from `tests/python`, or a binary that prints where it listens) and a minimal HTTP/1.1
//! client that shows exactly what went over the wire.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::python;

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
pub fn wait_for_line(
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
    try_request_headers(port, method, path, &[], cookie_header, form)
}

/// [`try_request_with`] and more request headers (`Origin`, `Sec-Fetch-Site`, ...).
pub fn try_request_headers(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
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
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
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

/// A browser that keeps one cookie: sends back whatever value it was last given for it.
pub struct Client {
    pub port: u16,
    pub name: &'static str,
    pub cookie: Option<String>,
}

impl Client {
    /// A browser for the `session` cookie of the server on `port`.
    pub fn new(port: u16) -> Self {
        Client::named(port, "session")
    }

    /// A browser for the cookie `name`.
    pub fn named(port: u16, name: &'static str) -> Self {
        Client {
            port,
            name,
            cookie: None,
        }
    }

    pub fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Reply {
        let header = self.cookie.as_ref().map(|v| format!("{}={v}", self.name));
        let reply = try_request_with(self.port, method, path, header.as_deref(), form)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if let Some(value) = reply.cookie_named(self.name) {
            self.cookie = (!value.is_empty()).then_some(value);
        }
        reply
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    pub fn post(&mut self, path: &str, form: &str) -> Reply {
        self.send("POST", path, Some(form))
    }
}

/// A `Set-Cookie` header with what differs by the second or by chance masked: a signed
/// cookie's timestamp and signature (its payload is compared), a session id (its length is
/// compared), an `Expires` date in the future.
pub fn shape(set_cookie: &str, name: &str, server_side: bool) -> String {
    let mut parts: Vec<String> = set_cookie.split("; ").map(str::to_owned).collect();
    let value = parts[0]
        .strip_prefix(name)
        .and_then(|v| v.strip_prefix('='))
        .unwrap_or_else(|| panic!("{set_cookie} is not the {name} cookie"))
        .to_owned();
    let masked = match (value.is_empty(), server_side) {
        (true, _) => String::new(),
        (false, false) => format!(
            "{}.<ts>.<sig>",
            value.rsplitn(3, '.').nth(2).unwrap_or_default()
        ),
        (false, true) => value
            .split('.')
            .map(|part| format!("<{} chars>", part.len()))
            .collect::<Vec<_>>()
            .join("."),
    };
    parts[0] = format!("{name}={masked}");
    let deletion = value.is_empty();
    for p in &mut parts {
        if p.starts_with("Expires=") && p != "Expires=Thu, 01 Jan 1970 00:00:00 GMT" {
            *p = "Expires=<date>".into();
        }
    }
    // The one documented difference: Flask-Session deletes its cookie naming only domain
    // and path; flacon repeats the attributes it was set with (a browser ignores a
    // deletion of a Secure, SameSite=None or Partitioned cookie that lacks them).
    if server_side && deletion {
        parts.retain(|p| {
            !(p == "Secure" || p == "HttpOnly" || p == "Partitioned" || p.starts_with("SameSite="))
        });
    }
    parts.join("; ")
}

/// What two servers answering alike must agree on: status, body, the headers a page and a
/// redirect depend on, and each `Set-Cookie` header's shape.
pub fn page_and_cookies(reply: &Reply) -> Vec<String> {
    let mut out = vec![
        format!("status {}", reply.status),
        format!("body {:?}", reply.body),
    ];
    for name in ["content-type", "location", "vary"] {
        out.push(format!("{name}: {:?}", reply.header(name)));
    }
    for cookie in reply.all("set-cookie") {
        out.push(format!("set-cookie: {}", shape(cookie, "session", false)));
    }
    out
}
