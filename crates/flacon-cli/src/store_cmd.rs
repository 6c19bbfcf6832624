//! `flacon store list | show | revoke`: administer server-side sessions in SQLite or Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use flacon::codec::to_tagged_json;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{SessionId, SessionStore, StoreError};
use flacon::Value;
use indicatif::{ProgressBar, ProgressStyle};

use crate::store_spec::StoreSpec;
use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Print the id of every live session, one per line (a progress bar on stderr).
    List {
        /// `sqlite:PATH` or `redis://HOST:PORT/DB`.
        #[arg(long)]
        store: StoreSpec,
    },
    /// Print one session's data (as JSON) and when it expires.
    Show {
        /// `sqlite:PATH` or `redis://HOST:PORT/DB`.
        #[arg(long)]
        store: StoreSpec,
        /// The session id (the cookie value; one starting with `-` is taken as it is).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete a session now: its cookie stops working on the next request.
    Revoke {
        /// `sqlite:PATH` or `redis://HOST:PORT/DB`.
        #[arg(long)]
        store: StoreSpec,
        /// The session id (the cookie value; one starting with `-` is taken as it is).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

fn store_error(e: StoreError) -> CliError {
    CliError::new("store", e)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn parse_id(text: &str) -> Result<SessionId, CliError> {
    SessionId::parse(text).ok_or_else(|| CliError::new("usage", "not a session id"))
}

pub(crate) fn run(cmd: &StoreCommand) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new("io", e))?;
    runtime.block_on(async {
        let spec = match cmd {
            StoreCommand::List { store } | StoreCommand::Show { store, .. } | StoreCommand::Revoke { store, .. } => store,
        };
        match spec {
            StoreSpec::Sqlite(path) => run_on(&SqliteStore::open(path).await.map_err(store_error)?, cmd).await,
            StoreSpec::Redis(_) | StoreSpec::RedisCluster(_) | StoreSpec::RedisSentinel { .. } => {
                run_on(&crate::store_spec::open_redis(spec).map_err(store_error)?, cmd).await
            }
            StoreSpec::Cookie | StoreSpec::Memory => Err(CliError::new(
                "usage",
                "cookie and memory sessions cannot be reached from outside the server: use sqlite:PATH or redis://",
            )),
        }
    })
}

async fn run_on<S: SessionStore>(store: &S, cmd: &StoreCommand) -> Result<(), CliError> {
    match cmd {
        StoreCommand::List { .. } => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} scanned {pos} sessions ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            let mut cursor = None;
            loop {
                let page = store.scan(cursor, 500).await.map_err(store_error)?;
                for id in &page.ids {
                    bar.suspend(|| println!("{}", id.as_str()));
                }
                bar.inc(page.ids.len() as u64);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            bar.finish_and_clear();
            Ok(())
        }
        StoreCommand::Show { id, .. } => {
            let now = now();
            let record = store
                .load(&parse_id(id)?, None, now)
                .await
                .map_err(store_error)?
                .ok_or_else(|| CliError::new("not-found", "no live session with that id"))?;
            println!("{}", to_tagged_json(&Value::Dict(record.data)));
            eprintln!("expires in {} s", record.expires_at.saturating_sub(now));
            Ok(())
        }
        StoreCommand::Revoke { id, .. } => {
            let id = parse_id(id)?;
            let existed = store
                .load(&id, None, now())
                .await
                .map_err(store_error)?
                .is_some();
            store.delete(&id).await.map_err(store_error)?;
            if existed {
                println!("revoked");
                Ok(())
            } else {
                Err(CliError::new("not-found", "no live session with that id"))
            }
        }
    }
}
