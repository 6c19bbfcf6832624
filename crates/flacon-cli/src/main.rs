//! `flacon`: serve the article's demo app, inspect, verify and sign Flask session cookies,
//! and generate or check secret keys.

mod accounts;
mod audit;
mod cookie_cmd;
mod demo;
mod key_cmd;
mod serve;
mod server;
mod store_cmd;
mod store_spec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Serve(serve::ServeArgs),
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

/// Request logs and session warnings on stderr; `RUST_LOG` overrides the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging();
            serve::run(&args)
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
