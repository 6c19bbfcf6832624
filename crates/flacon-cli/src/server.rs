//! The HTTP server under `flacon serve`: hyper on tokio with the limits a server facing the
//! internet needs and axum's `serve` does not set (it runs hyper without a timer).
//!
//! - **Header-read timeout**: once a client has sent the first byte of a request, its whole
//!   head must arrive within this time, or the connection is closed (slowloris).
//! - **Body-read timeout**: while the app waits for a request's body, the client must send
//!   some of it within this time, or the connection is closed (a stalled upload holds a
//!   handler and its memory; nginx's `client_body_timeout`).
//! - **Keep-alive timeout**: a connection with no request in progress and no byte received is
//!   closed after this long.
//! - **Connection cap**: past this many open connections no more are accepted until one
//!   closes (they wait in the kernel's queue), so file descriptors cannot run out.
//! - **Shutdown deadline**: on SIGTERM or Ctrl-C the listener closes at once, idle
//!   connections are closed, requests in progress are answered, and whatever still runs at
//!   the deadline is cut so the process always ends (before `docker stop`'s SIGKILL).
//!
//! A request counts as in progress from the moment hyper hands it to the app until its
//! response body has been written out; only the body-read timeout cuts it, and only while
//! the app is waiting on the client.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

/// At shutdown, how long a connection that has not sent a byte yet may still start its
/// first request (counted from its accept): a client that has just connected has its
/// request on the wire, and closing under it would reset it.
const NEW_CONNECTION_GRACE: Duration = Duration::from_millis(250);

const BODY_STALLED: &str = "request body stalled past the body-read timeout";

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read: Duration,
    pub(crate) body_read: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) shutdown: Duration,
    pub(crate) max_connections: usize,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Connections still open at the deadline, closed without waiting further.
    pub(crate) cut: usize,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains within
/// `limits.shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Drained {
    // Turns every handler into a route once, as `axum::serve` does: a router that is only
    // cloned per connection would clone and box each handler (with its layers) per request.
    let app = app.with_state(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let spawn = |stream: TcpStream| {
        connection(
            stream,
            app.clone(),
            builder.clone(),
            limits,
            stop_rx.clone(),
        )
    };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept(), if connections.len() < limits.max_connections => accepted,
            // Reap finished connections so the set stays the size of the open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                connections.spawn(spawn(stream));
            }
            Err(error) => {
                // Out of file descriptors and the like: the listener itself is fine; back off
                // rather than spin.
                tracing::error!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // Connections the kernel already accepted for us would be reset with the listener:
    // take them in, to be answered like the others. Real accept calls until the queue is
    // empty (tokio's would wait for a readiness event the reactor may not have seen yet).
    for stream in drain_accept_queue(listener) {
        connections.spawn(spawn(stream));
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let cut = if drained.is_ok() {
        0
    } else {
        let open = connections.len();
        connections.shutdown().await;
        open
    };
    Drained { cut }
}

/// Accepts every connection waiting in the kernel's queue, then closes the listener.
fn drain_accept_queue(listener: TcpListener) -> Vec<TcpStream> {
    let Ok(listener) = listener.into_std() else {
        return Vec::new();
    };
    let mut streams = Vec::new();
    // The listener is non-blocking: the loop ends with WouldBlock once the queue is empty.
    while let Ok((stream, _)) = listener.accept() {
        // Accepted sockets start blocking; tokio needs them non-blocking.
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        if let Ok(stream) = TcpStream::from_std(stream) {
            let _ = stream.set_nodelay(true);
            streams.push(stream);
        }
    }
    streams
}

/// One connection: hyper drives the protocol, a watchdog closes it when a deadline passes.
async fn connection(
    stream: TcpStream,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let peer = stream.peer_addr().ok();
    let io = TokioIo::new(WatchedIo {
        inner: stream,
        activity: activity.clone(),
    });
    let service = TrackedApp {
        app,
        activity: activity.clone(),
        peer,
    };
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    let mut told_to_finish = false;
    // One timer per connection, reset only when it fires: a timer per request would cost
    // the runtime a timer-wheel entry (and, parked, a driver wake-up) on every request.
    let watchdog = tokio::time::sleep_until(activity.next_check(limits, stopping));
    tokio::pin!(watchdog);
    loop {
        // hyper-util drops a connection told to shut down before it has read which protocol
        // it speaks, request bytes in flight or not: tell it once it has read something. One
        // that never sends a byte is closed by the watchdog instead.
        if stopping && !told_to_finish && activity.has_read() {
            conn.as_mut().graceful_shutdown();
            told_to_finish = true;
        }
        tokio::select! {
            // The connection first: a request whose bytes have arrived is read before a
            // shutdown is passed on.
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = &mut watchdog => {
                if let Some(reason) = activity.expired(limits, stopping) {
                    tracing::debug!(reason, "closing connection");
                    return;
                }
                watchdog.as_mut().reset(activity.next_check(limits, stopping));
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                watchdog.as_mut().reset(activity.next_check(limits, stopping));
            }
        }
    }
}

/// What a connection is doing, as the watchdog needs to know it.
struct Activity {
    /// Requests handed to the app whose response body is not yet written out.
    in_flight: AtomicU32,
    /// Whether a byte arrived since the connection last became idle.
    head_started: AtomicBool,
    /// Whether the connection has carried a request.
    served_any: AtomicBool,
    /// Milliseconds since `origin` when the current phase (idle, or reading a head) began.
    phase_since: AtomicU64,
    /// Milliseconds since `origin`, plus one, since the app has been waiting for body bytes
    /// that have not come; 0 while it is not waiting.
    body_wait_since: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicU32::new(0),
            head_started: AtomicBool::new(false),
            served_any: AtomicBool::new(false),
            phase_since: AtomicU64::new(0),
            body_wait_since: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bytes_read(&self) {
        // A plain load first: most reads belong to a head already started or a request in
        // progress, and need no read-modify-write.
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.head_started.load(Ordering::Relaxed)
            && !self.head_started.swap(true, Ordering::Relaxed)
        {
            self.phase_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Whether any byte has arrived on the connection.
    fn has_read(&self) -> bool {
        self.head_started.load(Ordering::Relaxed) || self.served_any.load(Ordering::Relaxed)
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.body_wait_since.store(0, Ordering::Relaxed);
        self.head_started.store(false, Ordering::Relaxed);
        self.served_any.store(true, Ordering::Relaxed);
    }

    fn request_finished(&self) {
        self.body_wait_since.store(0, Ordering::Relaxed);
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.phase_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// The app polled the body and no bytes were there.
    fn body_waiting(&self) {
        if self.body_wait_since.load(Ordering::Relaxed) == 0 {
            self.body_wait_since
                .store(self.now_ms().saturating_add(1), Ordering::Relaxed);
        }
    }

    /// Body bytes (or its end) arrived.
    fn body_arrived(&self) {
        self.body_wait_since.store(0, Ordering::Relaxed);
    }

    /// The limit of the current phase and when it began: the body-read limit while the app
    /// waits for body bytes, none while a request is otherwise in progress, the header-read
    /// limit while a head arrives, the keep-alive limit while idle (none once stopping).
    fn limit(&self, limits: Limits, stopping: bool) -> Option<(Duration, &'static str, Instant)> {
        let since = |ms: u64| self.origin + Duration::from_millis(ms);
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            let waiting = self.body_wait_since.load(Ordering::Relaxed);
            return (waiting > 0).then(|| (limits.body_read, BODY_STALLED, since(waiting - 1)));
        }
        let phase = since(self.phase_since.load(Ordering::Relaxed));
        let (limit, reason) = if self.head_started.load(Ordering::Relaxed) {
            (
                limits.header_read,
                "request head not received within the header-read timeout",
            )
        } else if stopping && self.served_any.load(Ordering::Relaxed) {
            (Duration::ZERO, "idle at shutdown")
        } else if stopping {
            // Just connected: its first request may be on the wire.
            (NEW_CONNECTION_GRACE, "no request at shutdown")
        } else {
            (limits.keep_alive, "idle past the keep-alive timeout")
        };
        Some((limit, reason, phase))
    }

    /// When the watchdog looks again: the current phase's deadline, but no later than one
    /// header-read interval from now (nothing wakes it when a phase changes, and a head may
    /// start any time, so a slow head is closed within one to two header-read limits), and
    /// every 50 ms while shutting down (to pass the shutdown on once a byte has come).
    fn next_check(&self, limits: Limits, stopping: bool) -> Instant {
        let now = Instant::now();
        let soonest = if stopping {
            Duration::from_millis(50)
        } else {
            limits.header_read.min(limits.body_read)
        };
        let latest = now + soonest;
        match self.limit(limits, stopping) {
            Some((limit, _, since)) => (since + limit).min(latest),
            None => latest,
        }
    }

    /// Why the connection must close now, if it must.
    fn expired(&self, limits: Limits, stopping: bool) -> Option<&'static str> {
        let (limit, reason, since) = self.limit(limits, stopping)?;
        (since + limit <= Instant::now()).then_some(reason)
    }
}

pin_project! {
    /// The socket, noting when bytes arrive.
    struct WatchedIo {
        #[pin]
        inner: TcpStream,
        activity: Arc<Activity>,
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// The app, counting each request as in progress until its response body is dropped (hyper
/// drops it once written out, or when the connection ends).
#[derive(Clone)]
struct TrackedApp {
    app: Router,
    activity: Arc<Activity>,
    /// The client's address, for handlers that need it (Flask-Login's session identifier).
    peer: Option<std::net::SocketAddr>,
}

struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

impl hyper::service::Service<Request<Incoming>> for TrackedApp {
    // Named types, not a boxed future and a re-boxed body: two allocations per request.
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = TrackedResponse;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let activity = self.activity.clone();
        let mut request = request.map(|inner| WatchedBody { inner, activity });
        if let Some(peer) = self.peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        TrackedResponse {
            inner: self.app.clone().oneshot(request),
            guard: Some(InFlight(self.activity.clone())),
        }
    }
}

pin_project! {
    /// A request's body, noting when the app waits for bytes the client has not sent.
    struct WatchedBody {
        #[pin]
        inner: Incoming,
        activity: Arc<Activity>,
    }
}

impl http_body::Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if polled.is_pending() {
            this.activity.body_waiting();
        } else {
            this.activity.body_arrived();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// The app's response, its body holding the request's [`InFlight`] guard.
    struct TrackedResponse {
        #[pin]
        inner: tower::util::Oneshot<Router, Request<WatchedBody>>,
        guard: Option<InFlight>,
    }
}

impl Future for TrackedResponse {
    type Output = Result<Response<GuardedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| GuardedBody {
            inner: body,
            _guard: guard,
        })))
    }
}

pin_project! {
    struct GuardedBody {
        #[pin]
        inner: Body,
        _guard: Option<InFlight>,
    }
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
