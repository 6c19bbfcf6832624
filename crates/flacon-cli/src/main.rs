//! `flacon`: serve the article's demo app, inspect, verify and sign Flask session cookies,
//! and generate or check secret keys.

mod access_log;
mod accounts;
mod audit;
mod cookie_cmd;
mod demo;
mod flask_config;
mod key_cmd;
mod messages;
mod serve;
mod server;
mod store_cmd;
mod store_spec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_appender::non_blocking::ErrorCounter;

/// Flask-compatible sessions for Rust.
#[derive(Debug, Parser)]
#[command(name = "flacon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the article's demo app (`/set_email`, `/get_email`, `/delete_email`, ...).
    Serve(Box<serve::ServeArgs>),
    /// Sign, decode and verify Flask session cookies.
    #[command(subcommand)]
    Cookie(cookie_cmd::CookieCommand),
    /// List, show and revoke server-side sessions (SQLite or Redis).
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Generate and check secret keys.
    #[command(subcommand)]
    Key(key_cmd::KeyCommand),
}

/// A failure the CLI reports as `error: <kind>: <detail>` with exit status 1.
#[derive(Debug)]
pub(crate) struct CliError {
    kind: &'static str,
    detail: String,
}

impl CliError {
    pub(crate) fn new(kind: &'static str, detail: impl std::fmt::Display) -> Self {
        CliError {
            kind,
            detail: detail.to_string(),
        }
    }
}

/// Lines the log queue holds before it drops (and counts) what comes next.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Request logs and session warnings on stderr; `RUST_LOG` overrides the level.
///
/// Lines go through a bounded queue to a writer thread, so a request never waits on stderr:
/// under more load than the terminal or the log collector can take, lines beyond the
/// queue are dropped and counted (reported at exit) instead of slowing every request. The
/// returned guard flushes what is queued when dropped, at exit.
fn init_logging() -> (tracing_appender::non_blocking::WorkerGuard, ErrorCounter) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .thread_name("flacon-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    (guard, dropped)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            let (flush_at_exit, dropped) = init_logging();
            let (access_log, access_flusher) = access_log::AccessSink::start();
            let served = serve::run(&args, access_log);
            let dropped_requests = access_flusher.finish();
            drop(flush_at_exit);
            let dropped = dropped.dropped_lines() as u64 + dropped_requests;
            if dropped > 0 {
                eprintln!("flacon: the log dropped {dropped} line(s) under load");
            }
            served
        }
        Command::Cookie(cmd) => cookie_cmd::run(cmd),
        Command::Key(cmd) => key_cmd::run(&cmd),
        Command::Store(cmd) => store_cmd::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == audit::FOUND => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}: {}", e.kind, e.detail);
            ExitCode::FAILURE
        }
    }
}
