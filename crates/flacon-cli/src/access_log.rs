//! The request log of `flacon serve`: one compact line per request
//! (`2026-12-02T17:20:01.123Z  INFO flacon::access: GET /get_email 200 0.12ms`), in the
//! layout of the rest of the log.
//!
//! A tower layer: one `Instant` and one line per request, built by hand into a per-thread
//! buffer (the date reformatted once a second) and appended to a shared [`AccessSink`],
//! which a writer thread empties into stderr every 20 ms. Requests never wait on stderr and
//! never wake a thread (a wake-up per line, on the cores the server runs on, cost more than
//! the line); what a full sink cannot take is dropped and counted, and what it holds at
//! exit is written.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// How long a line may wait in the sink.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// The most the sink holds; lines past it are dropped and counted.
const MAX_PENDING: usize = 4 << 20;
/// A pipe takes writes up to this size whole: batches are cut at line ends below it, so
/// another writer's line never lands inside one of these.
const PIPE_BUF: usize = 4096;

/// Lines waiting for the writer thread.
#[derive(Debug, Default)]
pub(crate) struct AccessSink {
    state: Mutex<SinkState>,
}

#[derive(Debug, Default)]
struct SinkState {
    pending: Vec<u8>,
    dropped: u64,
    closed: bool,
}

/// Stops the writer thread, after it wrote what was left, when dropped.
pub(crate) struct SinkFlusher {
    sink: Arc<AccessSink>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AccessSink {
    /// A sink and its writer thread, writing to stderr.
    pub(crate) fn start() -> (Arc<AccessSink>, SinkFlusher) {
        let sink = Arc::new(AccessSink::default());
        let writer = sink.clone();
        let thread = std::thread::Builder::new()
            .name("flacon-access-log".to_owned())
            .spawn(move || writer.write_loop())
            .ok();
        (sink.clone(), SinkFlusher { sink, thread })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.pending.len() + line.len() > MAX_PENDING {
            state.dropped += 1;
        } else {
            state.pending.extend_from_slice(line);
        }
    }

    fn write_loop(&self) {
        let mut batch = Vec::new();
        loop {
            std::thread::park_timeout(FLUSH_EVERY);
            let closed = {
                let mut state = self.lock();
                std::mem::swap(&mut batch, &mut state.pending);
                state.closed
            };
            write_lines(&batch);
            batch.clear();
            if closed {
                return;
            }
        }
    }
}

/// Writes `batch` (whole lines) to stderr in pieces of at most [`PIPE_BUF`] bytes that end
/// at a line's end.
fn write_lines(mut batch: &[u8]) {
    let mut stderr = std::io::stderr().lock();
    while !batch.is_empty() {
        let cut = if batch.len() <= PIPE_BUF {
            batch.len()
        } else {
            batch
                .get(..PIPE_BUF)
                .and_then(|head| head.iter().rposition(|b| *b == b'\n'))
                .map_or(batch.len().min(PIPE_BUF), |end| end + 1)
        };
        let (piece, rest) = batch.split_at(cut);
        if stderr.write_all(piece).is_err() {
            return;
        }
        batch = rest;
    }
}

impl SinkFlusher {
    /// Writes what is left and stops the writer thread; the lines dropped under load.
    pub(crate) fn finish(mut self) -> u64 {
        self.stop();
        self.sink.lock().dropped
    }

    fn stop(&mut self) {
        self.sink.lock().closed = true;
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for SinkFlusher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Logs each request's method, path, status and duration into a sink.
#[derive(Clone)]
pub(crate) struct AccessLogLayer {
    sink: Arc<AccessSink>,
}

impl AccessLogLayer {
    pub(crate) fn new(sink: Arc<AccessSink>) -> Self {
        AccessLogLayer { sink }
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            sink: self.sink.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AccessLog<S> {
    inner: S,
    sink: Arc<AccessSink>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = request.method().clone();
        // The path only: a query string may carry what should not be in a log.
        let path = request.uri().path().to_owned();
        AccessLogFuture {
            inner: self.inner.call(request),
            method,
            path,
            started: Instant::now(),
            sink: self.sink.clone(),
        }
    }
}

pin_project! {
    /// The inner response, logged when it is ready.
    pub(crate) struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        method: Method,
        path: String,
        started: Instant,
        sink: Arc<AccessSink>,
    }
}

impl<F, ResBody, E> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let micros = this.started.elapsed().as_micros();
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.write(this.method.as_str(), this.path, status, micros);
            this.sink.push(line.text.as_bytes());
        });
        Poll::Ready(result)
    }
}

thread_local! {
    static LINE: RefCell<Line> = RefCell::new(Line::default());
}

/// One thread's line buffer and the date part of its last timestamp.
#[derive(Default)]
struct Line {
    text: String,
    second: u64,
    date: String,
}

impl Line {
    fn write(&mut self, method: &str, path: &str, status: Option<u16>, micros: u128) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if self.date.is_empty() || now.as_secs() != self.second {
            self.second = now.as_secs();
            // `YYYY-MM-DDTHH:MM:SS`, as the formatter writes the rest of the log.
            let rfc = flacon::value::DateTime::from_unix(i64::try_from(self.second).unwrap_or(0))
                .to_rfc3339();
            self.date = rfc.trim_end_matches('Z').to_owned();
        }
        let text = &mut self.text;
        text.clear();
        text.push_str(&self.date);
        text.push('.');
        push_padded(text, u64::from(now.subsec_millis()), 3);
        text.push_str("Z  INFO flacon::access: ");
        text.push_str(method);
        text.push(' ');
        text.push_str(path);
        match status {
            Some(code) => {
                text.push(' ');
                text.push_str(itoa::Buffer::new().format(code));
            }
            None => text.push_str(" failed"),
        }
        // Milliseconds with two decimals.
        let hundredths = micros / 10;
        text.push(' ');
        text.push_str(itoa::Buffer::new().format(hundredths / 100));
        text.push('.');
        push_padded(text, u64::try_from(hundredths % 100).unwrap_or(0), 2);
        text.push_str("ms\n");
    }
}

fn push_padded(text: &mut String, value: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value);
    for _ in digits.len()..width {
        text.push('0');
    }
    text.push_str(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_like_the_rest_of_the_log() {
        let mut line = Line::default();
        line.write("GET", "/get_email", Some(200), 1234);
        let text = &line.text;
        assert!(
            text.ends_with("Z  INFO flacon::access: GET /get_email 200 1.23ms\n"),
            "{text}"
        );
        assert_eq!(text.find('T'), Some(10), "{text}");
        line.write("POST", "/x", None, 5);
        assert!(
            line.text.ends_with(" POST /x failed 0.00ms\n"),
            "{}",
            line.text
        );
    }
}
