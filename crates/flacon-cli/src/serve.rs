//! `flacon serve`: the article's app with cookie sessions.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use flacon::config::{ServerSideConfig, SessionConfig};
use std::sync::Arc;

use flacon::flask_login::{FlaskLogin, SessionProtection};
use flacon::revocation::RevocationRegistry;
use flacon::store::postgres::PostgresStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::{purge_expired_every, MemoryStore, StoreError};
use flacon::{KeyRing, SecretKey, SessionLayer, StoreLayer};
use tracing::Level;

use crate::accounts::Revoker;
use crate::flask_config::{FlaskFlags, Settings};
use crate::store_spec::StoreSpec;

/// How often expired memory, SQLite and PostgreSQL sessions are dropped (Redis expires keys
/// itself).
const PURGE_EVERY: Duration = Duration::from_secs(300);
use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Where sessions live: `cookie` (signed cookies, Flask's default), `memory`,
    /// `sqlite:PATH`, or Redis in Flask-Session's layout: `redis://HOST:PORT/DB`,
    /// `redis+cluster://HOST:PORT,...`, `redis+sentinel://HOST:PORT,.../SERVICE`.
    #[arg(long)]
    store: Option<StoreSpec>,
    /// The signing key (default: a random one, announced on stderr).
    #[arg(long, env = "FLACON_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// An older key whose cookies are still accepted, and re-signed (repeatable). Each one
    /// passes the same weak-key check as the signing key.
    #[arg(long = "fallback-key", value_name = "K")]
    fallback_keys: Vec<String>,
    /// `PERMANENT_SESSION_LIFETIME` in seconds (31 days).
    #[arg(long, value_name = "SECS")]
    permanent_lifetime: Option<u64>,
    /// End sessions unused for this many seconds (default: no idle limit).
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// End sessions this many seconds after they began, however active (default: none).
    #[arg(long, value_name = "SECS")]
    absolute_timeout: Option<u64>,
    /// Encrypt the session cookie (AES-256-GCM-SIV) instead of only signing it; Flask
    /// cannot read such cookies. Cookie sessions only.
    #[arg(long)]
    encrypt: bool,
    /// Where signed cookies are revoked (logout, "log out everywhere"): `sqlite:PATH` or
    /// `redis://HOST:PORT/DB`, shared by every process serving the site. Cookie sessions
    /// only: server-side sessions are revoked in their store.
    #[arg(long, value_name = "STORE")]
    revocations: Option<StoreSpec>,
    /// Accept a weak signing or fallback key (short, repetitive, or a published example).
    /// Never in production.
    #[arg(long)]
    allow_weak_key: bool,
    /// Worker threads (default: the CPUs this process may run on). With one, the server
    /// runs on a single-threaded runtime: no work stealing to pay for, and the Redis
    /// commands of concurrent requests leave in one write instead of one write each.
    #[arg(long, value_name = "N")]
    threads: Option<std::num::NonZeroUsize>,
    /// Seconds a client has to send a whole request head once it started one; slower
    /// connections (slowloris) are closed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    header_read_timeout: f64,
    /// Seconds a client may leave a request's body unsent while the app waits for it; a
    /// stalled upload is closed.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    body_read_timeout: f64,
    /// Open connections at most; more wait in the kernel's queue until one closes. By
    /// default, what this process's file-descriptor limit leaves room for.
    #[arg(long, value_name = "N")]
    max_connections: Option<std::num::NonZeroUsize>,
    /// Seconds an idle keep-alive connection stays open. Above 60 s by default, so that a
    /// proxy in front (nginx keeps upstream connections 60 s) closes first.
    #[arg(long, value_name = "SECS", default_value_t = 75.0)]
    keep_alive_timeout: f64,
    /// Seconds SIGTERM or Ctrl-C waits for requests in progress before closing what is
    /// left. Below 10 s by default, so that `docker stop` never needs its SIGKILL.
    #[arg(long, value_name = "SECS", default_value_t = 8.0)]
    shutdown_timeout: f64,
    /// Flask-Login's `SESSION_PROTECTION`: `basic` (a session used from another address or
    /// browser is no longer a fresh login), `strong` (it is signed out) or `none`.
    #[arg(long, value_name = "MODE", default_value = "basic", value_parser = ["basic", "strong", "none"])]
    session_protection: String,
    /// Proxies whose `X-Forwarded-For` names the client (addresses or networks, comma
    /// separated; `none` for no proxy). A client elsewhere cannot name its own address.
    #[arg(long, value_name = "LIST", default_value = "127.0.0.0/8,::1")]
    trusted_proxies: String,
    /// Serve Prometheus metrics at `/metrics`: sessions loaded and created, rejected cookies
    /// by kind, fallback-key hits, oversized cookies, store errors and latency.
    #[arg(long)]
    metrics: bool,
    #[command(flatten)]
    flask: FlaskFlags,
}

fn seconds(flag: &str, value: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::new(
                "usage",
                format!("--{flag} takes a positive number of seconds, not {value}"),
            )
        })
}

/// The connections the process's open-file limit has room for, keeping some descriptors
/// for the stores, the log and the listener: 1024 where the limit cannot be read.
fn default_max_connections() -> usize {
    const RESERVED: usize = 64;
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            let soft = line.split_whitespace().nth(3)?;
            if soft == "unlimited" {
                Some(usize::MAX)
            } else {
                soft.parse::<usize>().ok()
            }
        });
    soft_limit.map_or(1024, |limit| {
        limit.saturating_sub(RESERVED).clamp(64, 65_536)
    })
}

/// A runtime with `threads` workers; a single-threaded one for one.
fn runtime(threads: Option<std::num::NonZeroUsize>) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    // Tokio's multi-threaded scheduler runs a task woken by the running one next (its LIFO
    // slot), so a connection's writer task flushes after every single command; a
    // single-threaded scheduler queues it behind the other ready requests, which add theirs.
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder.enable_all().build()
}

fn signing_key(args: &ServeArgs, settings: &Settings) -> Result<SecretKey, CliError> {
    let Some(text) = args
        .secret_key
        .as_deref()
        .or(settings.file.secret_key.as_deref())
    else {
        let key = SecretKey::generate().map_err(|e| CliError::new("random", e))?;
        eprintln!(
            "notice: no --secret-key or FLACON_SECRET_KEY given: generated a random key; \
             sessions will not survive a restart"
        );
        return Ok(key);
    };
    Ok(SecretKey::from_text(text))
}

/// The signing key and the fallbacks, every one of them through the weak-key gate: a cookie
/// forged with a weak fallback is accepted (and re-signed) as surely as one forged with a
/// weak current key.
fn key_ring(args: &ServeArgs, settings: &Settings) -> Result<KeyRing, CliError> {
    let file_fallbacks = settings.file.secret_key_fallbacks.iter().flatten();
    let fallbacks = args.fallback_keys.iter().chain(file_fallbacks);
    let ring = fallbacks.fold(KeyRing::new(signing_key(args, settings)?), |ring, key| {
        ring.with_fallback(SecretKey::from_text(key))
    });
    if let Err(weak) = ring.check_strength() {
        if !args.allow_weak_key {
            return Err(CliError::new(
                "weak-key",
                format!(
                    "refusing to serve: {weak}. \
                     Generate one with `flacon key generate`, or pass --allow-weak-key for a demo"
                ),
            ));
        }
        eprintln!("warning: serving with a weak key ({weak}); anyone may forge sessions");
    }
    Ok(ring)
}

pub(crate) fn run(
    args: &ServeArgs,
    access_log: std::sync::Arc<crate::access_log::AccessSink>,
) -> Result<(), CliError> {
    let limits = crate::server::Limits {
        header_read: seconds("header-read-timeout", args.header_read_timeout)?,
        body_read: seconds("body-read-timeout", args.body_read_timeout)?,
        keep_alive: seconds("keep-alive-timeout", args.keep_alive_timeout)?,
        shutdown: seconds("shutdown-timeout", args.shutdown_timeout)?,
        max_connections: args
            .max_connections
            .map_or_else(default_max_connections, usize::from),
    };
    let settings = args.flask.resolve()?;
    let store = args
        .store
        .clone()
        .or_else(|| settings.store.clone())
        .unwrap_or(StoreSpec::Cookie);
    settings.check_store(&store)?;
    let ring = key_ring(args, &settings)?;
    let config = settings
        .apply(SessionConfig::builder())
        .permanent_lifetime(settings.permanent_lifetime(args.permanent_lifetime))
        .idle_timeout(args.idle_timeout.map(Duration::from_secs))
        .absolute_timeout(args.absolute_timeout.map(Duration::from_secs))
        .encrypted(args.encrypt)
        .build()
        .map_err(|e| CliError::new("usage", e))?;
    let server_config = settings.server.clone();
    let cookie_mode = matches!(store, StoreSpec::Cookie);
    if !cookie_mode && (args.encrypt || args.revocations.is_some()) {
        return Err(CliError::new(
            "usage",
            "--encrypt and --revocations are for cookie sessions; a server-side session's cookie holds only its id, and its store revokes it",
        ));
    }
    let runtime = runtime(args.threads).map_err(|e| CliError::new("io", e))?;
    let csrf = flacon::csrf::Csrf::new(&ring);
    let router = crate::demo::router()
        .and_then(|demo| Ok(demo.merge(crate::messages::routes(csrf.clone())?)))
        .map_err(|e| CliError::new("template", e))?;
    let flask_login = flask_login(args, &ring)?;
    let proxies = flacon::flask_login::TrustedProxies::parse(&args.trusted_proxies)
        .map_err(|e| CliError::new("usage", format!("--trusted-proxies: {e}")))?;
    let handle_key = ring.current().clone();
    // The registry that voids remember-me cookies: the cookie registry, or one over the
    // server-side store itself.
    let with_accounts =
        |router: axum::Router, revoker, registry: Option<Arc<RevocationRegistry>>| {
            let flask_login = match registry {
                Some(registry) => flask_login.clone().with_revocations(registry),
                None => flask_login.clone(),
            };
            let sign_in = crate::accounts::SignIn {
                flask_login,
                proxies: proxies.clone(),
                handle_key: handle_key.clone(),
                csrf: csrf.clone(),
            };
            crate::accounts::routes(revoker, sign_in)
                .map(|accounts| router.merge(accounts))
                .map_err(|e| CliError::new("template", e))
        };
    let app = runtime.block_on(async {
        let store_error = |e: StoreError| CliError::new("store", e);
        Ok::<_, CliError>(match &store {
            StoreSpec::Cookie => {
                let mut layer = SessionLayer::new(ring).with_config(config);
                let (revoker, registry) = match &args.revocations {
                    Some(spec) => {
                        let registry = open_registry(spec).await.map_err(store_error)?;
                        layer = layer.with_revocations(registry.clone());
                        (Revoker::Registry(registry.clone()), Some(registry))
                    }
                    None => (Revoker::Nothing, None),
                };
                with_accounts(router, revoker, registry)?.layer(layer)
            }
            StoreSpec::Memory => {
                let store = Arc::new(MemoryStore::default());
                purge_expired_every(store.clone(), PURGE_EVERY);
                server_side_app(
                    store,
                    flacon::revocation::MemoryRevocations::default(),
                    router,
                    ring,
                    (config, server_config),
                    with_accounts,
                )
                .await?
            }
            StoreSpec::Sqlite(path) => {
                let store = Arc::new(SqliteStore::open(path).await.map_err(store_error)?);
                purge_expired_every(store.clone(), PURGE_EVERY);
                server_side_app(
                    store.clone(),
                    store,
                    router,
                    ring,
                    (config, server_config),
                    with_accounts,
                )
                .await?
            }
            StoreSpec::Postgres(url) => {
                let prefix = settings.key_prefix.as_deref().unwrap_or("session:");
                let store = PostgresStore::connect_with(url, "sessions", prefix)
                    .await
                    .map_err(store_error)?
                    .with_serialization(settings.serialization);
                let store = Arc::new(store);
                purge_expired_every(store.clone(), PURGE_EVERY);
                server_side_app(
                    store.clone(),
                    store,
                    router,
                    ring,
                    (config, server_config),
                    with_accounts,
                )
                .await?
            }
            StoreSpec::Redis(_) | StoreSpec::RedisCluster(_) | StoreSpec::RedisSentinel { .. } => {
                let mut redis = crate::store_spec::open_redis(&store).map_err(store_error)?;
                if let Some(prefix) = &settings.key_prefix {
                    redis = redis.with_prefix(prefix.clone());
                }
                let redis = Arc::new(redis.with_serialization(settings.serialization));
                server_side_app(
                    redis.clone(),
                    redis,
                    router,
                    ring,
                    (config, server_config),
                    with_accounts,
                )
                .await?
            }
        })
    })?;
    // Outside the session layers: scraping has no session.
    let app = if args.metrics {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| CliError::new("metrics", e))?;
        app.route(
            "/metrics",
            axum::routing::get(move || std::future::ready(recorder.render())),
        )
    } else {
        app
    };
    // The log filter is fixed at startup: when it drops request lines, skip the layer that
    // writes them rather than time and discard every request.
    let app = if tracing::enabled!(target: "flacon::access", Level::INFO) {
        app.layer(crate::access_log::AccessLogLayer::new(access_log))
    } else {
        app
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| CliError::new("io", format!("cannot listen on {}: {e}", args.addr)))?;
        let local = listener.local_addr().map_err(|e| CliError::new("io", e))?;
        eprintln!("flacon: listening on http://{local}/get_email");
        let drained = crate::server::serve(listener, app, limits, async {
            shutdown_signal().await;
            eprintln!(
                "flacon: shutting down: finishing requests in progress (at most {} s)",
                limits.shutdown.as_secs_f64()
            );
        })
        .await;
        if drained.cut == 0 {
            eprintln!("flacon: shut down cleanly");
        } else {
            eprintln!(
                "flacon: shut down at the deadline; closed {} connection(s) still open",
                drained.cut
            );
        }
        Ok(())
    })
}

/// The app over a server-side store: the sign-in routes revoking through the store's
/// per-user index (and remember-me cookies through a registry over `revocations`, the store
/// itself where it can keep one), all under the store layer.
async fn server_side_app<S: flacon::store::SessionStore>(
    store: Arc<S>,
    revocations: impl flacon::revocation::RevocationBackend,
    router: axum::Router,
    keys: KeyRing,
    (config, server): (SessionConfig, ServerSideConfig),
    with_accounts: impl FnOnce(
        axum::Router,
        Revoker,
        Option<Arc<RevocationRegistry>>,
    ) -> Result<axum::Router, CliError>,
) -> Result<axum::Router, CliError> {
    let registry = RevocationRegistry::start(revocations)
        .await
        .map_err(|e| CliError::new("store", e))?;
    let revoker = Revoker::Store(Arc::new(store.clone()));
    let layer = StoreLayer::new(store, keys)
        .with_config(config)
        .with_server_config(server);
    Ok(with_accounts(router, revoker, Some(registry))?.layer(layer))
}

/// Flask-Login's rules for the demo: its session protection, and remember-me cookies that
/// never outlive the absolute timeout.
fn flask_login(args: &ServeArgs, ring: &KeyRing) -> Result<FlaskLogin, CliError> {
    let protection = match args.session_protection.as_str() {
        "strong" => SessionProtection::Strong,
        "none" => SessionProtection::Off,
        _ => SessionProtection::Basic,
    };
    Ok(FlaskLogin::new(ring)
        .with_session_protection(protection)
        .with_max_age(args.absolute_timeout.map(Duration::from_secs)))
}

/// The revocation registry of signed cookies, in SQLite or Redis.
async fn open_registry(spec: &StoreSpec) -> Result<Arc<RevocationRegistry>, StoreError> {
    match spec {
        StoreSpec::Sqlite(path) => RevocationRegistry::start(SqliteStore::open(path).await?).await,
        StoreSpec::Redis(_) | StoreSpec::RedisCluster(_) | StoreSpec::RedisSentinel { .. } => {
            RevocationRegistry::start(crate::store_spec::open_redis(spec)?).await
        }
        StoreSpec::Postgres(url) => RevocationRegistry::start(PostgresStore::connect(url).await?).await,
        StoreSpec::Cookie | StoreSpec::Memory => Err(StoreError::Corrupt(
            "--revocations needs a store every process shares: sqlite:PATH, redis:// or postgres://".to_owned(),
        )),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
