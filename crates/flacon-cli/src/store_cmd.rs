//! `flacon store list | show | revoke`: administer server-side sessions in SQLite or Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use flacon::codec::to_tagged_json;
use flacon::revocation::RevocationBackend;
use flacon::store::postgres::PostgresStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{users, SessionId, SessionStore, StoreError};
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
    /// Delete a session now (its cookie stops working on the next request), or every
    /// session of a user: their server-side sessions in the store's per-user index, and
    /// their signed cookies through the revocation registry kept in the same store.
    Revoke {
        /// `sqlite:PATH` or `redis://HOST:PORT/DB`.
        #[arg(long)]
        store: StoreSpec,
        /// Every session of this user instead of one id.
        #[arg(long, value_name = "U", conflicts_with = "id")]
        user: Option<String>,
        /// Every session of every user: the store's sessions deleted, and every sign-in
        /// before now void for signed cookies and remember-me cookies (a new generation of
        /// the registry kept in the same store; every server honours it within its
        /// staleness bound). Also the step after restoring a registry from a backup.
        #[arg(long, conflicts_with_all = ["id", "user"])]
        all: bool,
        /// With --user: keep this server-side session ("log out my other devices").
        #[arg(long, value_name = "ID", requires = "user")]
        except: Option<String>,
        /// The session id (the cookie value; one starting with `-` is taken as it is).
        #[arg(allow_hyphen_values = true, required_unless_present_any = ["user", "all"])]
        id: Option<String>,
    },
    /// List a user's sessions (id, signed in, last seen, expires; tab-separated, Unix
    /// seconds), and whether their signed cookies were voided.
    Sessions {
        /// `sqlite:PATH` or `redis://HOST:PORT/DB`.
        #[arg(long)]
        store: StoreSpec,
        /// The user.
        #[arg(long, value_name = "U")]
        user: String,
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
            StoreCommand::List { store }
            | StoreCommand::Show { store, .. }
            | StoreCommand::Revoke { store, .. }
            | StoreCommand::Sessions { store, .. } => store,
        };
        match spec {
            StoreSpec::Sqlite(path) => run_on(&SqliteStore::open(path).await.map_err(store_error)?, cmd).await,
            StoreSpec::Redis(_) | StoreSpec::RedisCluster(_) | StoreSpec::RedisSentinel { .. } => {
                run_on(&crate::store_spec::open_redis(spec).map_err(store_error)?, cmd).await
            }
            StoreSpec::Postgres(url) => {
                run_on(&PostgresStore::connect(url).await.map_err(store_error)?, cmd).await
            }
            StoreSpec::Cookie | StoreSpec::Memory => Err(CliError::new(
                "usage",
                "cookie and memory sessions cannot be reached from outside the server: use sqlite:PATH, redis:// or postgres://",
            )),
        }
    })
}

async fn run_on<S: SessionStore + RevocationBackend>(
    store: &S,
    cmd: &StoreCommand,
) -> Result<(), CliError> {
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
        StoreCommand::Sessions { user, .. } => {
            for session in users::sessions_of(store, user, now())
                .await
                .map_err(store_error)?
            {
                println!(
                    "{}\t{}\t{}\t{}",
                    session.id.as_str(),
                    session.created,
                    session.last_seen,
                    session.expires_at
                );
            }
            let voided = store
                .revocations_since(None, now(), now().saturating_mul(1000))
                .await
                .map_err(store_error)?
                .and_then(|r| r.users.into_iter().find(|(u, _)| u == user));
            if let Some((_, revoked)) = voided {
                eprintln!(
                    "signed cookies of {user} signed in before {} ms (Unix) are void ({} time(s) logged out everywhere)",
                    revoked.before_ms, revoked.logouts
                );
            }
            Ok(())
        }
        StoreCommand::Revoke { all: true, .. } => {
            let mut deleted = 0;
            // Pages of ids from a scan that deletions do not disturb: each page starts
            // after the last id of the one before.
            let mut cursor = None;
            loop {
                let page = store.scan(cursor, 500).await.map_err(store_error)?;
                for id in &page.ids {
                    store.delete(id).await.map_err(store_error)?;
                }
                deleted += page.ids.len();
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            store
                .start_generation(now_ms())
                .await
                .map_err(store_error)?;
            println!(
                "revoked {deleted} server-side session(s); every signed cookie signed in before now is void"
            );
            Ok(())
        }
        StoreCommand::Revoke {
            user: Some(user),
            except,
            ..
        } => {
            let except = except.as_deref().map(parse_id).transpose()?;
            let revoked = users::revoke_all(store, user, except.as_ref())
                .await
                .map_err(store_error)?;
            // Signed cookies carry no id the store could list: they are voided by time.
            store
                .void_user_before(user, now_ms())
                .await
                .map_err(store_error)?;
            println!(
                "revoked {revoked} server-side session(s) of {user}; their signed cookies are void"
            );
            if except.is_some() {
                eprintln!("note: --except keeps a server-side session; signed cookies are voided all at once");
            }
            Ok(())
        }
        StoreCommand::Revoke { id, .. } => {
            let id = parse_id(id.as_deref().unwrap_or_default())?;
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
