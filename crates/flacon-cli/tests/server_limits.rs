//! `flacon serve`'s connection limits with real sockets: a slowloris head and an idle
//! keep-alive connection are closed at their timeouts, SIGTERM answers the request in
//! progress and then exits, and a client that stalls mid-request cannot hold shutdown past
//! its deadline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{flacon_serve, Server};

const KEY: &str = "server-limits-test-key-7c1d9e2f4a";

fn serve(extra: &[&str]) -> Server {
    let mut args = vec!["--secret-key", KEY];
    args.extend_from_slice(extra);
    flacon_serve(&args)
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; how long that took from `since`. Panics if
/// it stays open for the read timeout.
fn closed_after(stream: &mut TcpStream, since: Instant) -> (Duration, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (since.elapsed(), received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (since.elapsed(), received),
            Err(e) => panic!("connection still open after {:?}: {e}", since.elapsed()),
        }
    }
}

fn sigterm(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit; how long it took.
fn exit_within(server: &mut Server, limit: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "flacon serve exited with {status}");
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("flacon serve still running {limit:?} after SIGTERM");
}

#[test]
fn a_slowloris_head_is_closed_at_the_header_read_timeout() {
    let server = serve(&["--header-read-timeout", "1"]);
    let mut stream = connect(&server);
    let start = Instant::now();
    stream
        .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // One more header byte every 100 ms: always active, never done.
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b"X").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (after, _) = closed_after(&mut stream, start);
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
    trickle.join().unwrap();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_its_timeout() {
    let server = serve(&["--keep-alive-timeout", "1"]);
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let idle_since = Instant::now();
    let (after, rest) = closed_after(&mut stream, idle_since);
    assert!(rest.is_empty());
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
}

#[test]
fn a_busy_connection_outlives_the_keep_alive_timeout() {
    // Requests one after the other on one connection for three times the idle limit.
    let server = serve(&["--keep-alive-timeout", "1"]);
    let mut stream = connect(&server);
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(3) {
        stream
            .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let n = stream.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn sigterm_answers_the_request_in_progress_then_exits() {
    let mut server = serve(&[]);
    // A POST whose body is half sent: the request is in the app, waiting for the rest.
    let form = b"email_address=ada%40example.com";
    let mut stream = connect(&server);
    write!(
        stream,
        "POST /set_email HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    )
    .unwrap();
    stream.write_all(&form[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&server);
    server.wait_log("shutting down");
    // The listener is closed at once: new connections are refused.
    let refused = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        TcpStream::connect(("127.0.0.1", server.port)).is_err()
    });
    assert!(refused, "new connections still accepted during shutdown");
    stream.write_all(&form[10..]).unwrap();
    let (_, response) = closed_after(&mut stream, Instant::now());
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 302"), "{response}");
    assert!(response.contains("set-cookie: session="), "{response}");
    exit_within(&mut server, Duration::from_secs(5));
    server.wait_log("shut down cleanly");
}

#[test]
fn a_stalled_client_cannot_hold_shutdown_past_its_deadline() {
    // The head is complete and the body never comes: a request in progress that never ends.
    let mut server = serve(&["--shutdown-timeout", "1.5"]);
    let mut stalled = connect(&server);
    stalled
        .write_all(b"POST /set_email HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nemail")
        .unwrap();
    // And one that sent half a head.
    let mut half = connect(&server);
    half.write_all(b"GET /get_em").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&server);
    let took = exit_within(&mut server, Duration::from_secs(6));
    assert!(
        took >= Duration::from_millis(1400),
        "did not wait for the request: {took:?}"
    );
    server.wait_log("connection(s) still open");
    closed_after(&mut stalled, Instant::now());
    closed_after(&mut half, Instant::now());
}

#[test]
fn idle_connections_do_not_delay_shutdown() {
    let mut server = serve(&[]);
    let mut idle: Vec<TcpStream> = (0..20).map(|_| connect(&server)).collect();
    for stream in &mut idle[..10] {
        stream
            .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        assert!(stream.read(&mut buf).unwrap() > 0);
    }
    sigterm(&server);
    let took = exit_within(&mut server, Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(2),
        "idle connections held shutdown {took:?}"
    );
    server.wait_log("shut down cleanly");
}

/// The security review's reproduction (point 5): 200 connections send a `POST` head with
/// `Content-Length: 100` and part of the body, then stall. Every one is closed at the
/// body-read timeout, not held open by the handler waiting for the rest.
#[test]
fn stalled_request_bodies_are_closed_at_the_body_read_timeout() {
    let server = serve(&["--header-read-timeout", "1", "--body-read-timeout", "1"]);
    let start = Instant::now();
    let mut streams: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = connect(&server);
            stream
                .write_all(
                    b"POST /set_email HTTP/1.1\r\nHost: x\r\n\
                      Content-Type: application/x-www-form-urlencoded\r\n\
                      Content-Length: 100\r\n\r\nemail_address=",
                )
                .unwrap();
            stream
        })
        .collect();
    for stream in &mut streams {
        let (after, received) = closed_after(stream, start);
        assert!(
            received.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&received)
        );
        assert!(after < Duration::from_secs(5), "closed after {after:?}");
    }
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        start.elapsed()
    );
    // A body that keeps coming, slower than the timeout in all but its pauses, is read.
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST /set_email HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 22\r\n\r\nemail_address=",
        )
        .unwrap();
    for chunk in [b"a%40".as_slice(), b"b.c", b"o"] {
        std::thread::sleep(Duration::from_millis(600));
        stream.write_all(chunk).unwrap();
    }
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 302"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// Past `--max-connections` no connection is served until one closes: the extra one waits
/// (in the kernel's queue) and is answered as soon as a slot frees.
#[test]
fn connections_past_the_cap_wait_for_a_free_slot() {
    let server = serve(&["--max-connections", "5"]);
    let mut held: Vec<TcpStream> = (0..5).map(|_| connect(&server)).collect();
    // Each held connection has been accepted: it answers a request.
    for stream in &mut held {
        stream
            .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    let mut extra = connect(&server);
    extra
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    extra
        .write_all(b"GET /get_email HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let waited = extra.read(&mut buf);
    assert!(
        matches!(&waited, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "served past the cap: {waited:?}"
    );
    drop(held.pop());
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = extra.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}
