//! Flask's and Flask-Session's session settings for `flacon serve`: flags named after them,
//! and `--config FILE`, a TOML file holding them under Flask's own config names, so that the
//! values of a Flask app's `config.py` carry over. A flag wins over the file; the file over
//! Flask's defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use flacon::config::{SameSite, ServerSideConfig, SessionConfigBuilder};
use flacon::store::flask_session::Serialization;
use serde::Deserialize;

use crate::store_spec::StoreSpec;
use crate::CliError;

/// The settings as flags, under the names of Flask's config keys.
#[derive(Debug, Default, Args)]
pub(crate) struct FlaskFlags {
    /// A TOML file of Flask config keys (`SECRET_KEY`, `SESSION_COOKIE_NAME`,
    /// `SESSION_TYPE`, ...), as in the Flask app's config; flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// `SESSION_COOKIE_NAME`: the session cookie's name (`session`).
    #[arg(long, value_name = "NAME")]
    cookie_name: Option<String>,
    /// `SESSION_COOKIE_DOMAIN`: the cookie's `Domain` (none: this host only).
    #[arg(long, value_name = "DOMAIN")]
    cookie_domain: Option<String>,
    /// `SESSION_COOKIE_PATH`: the cookie's `Path` (`/`).
    #[arg(long, value_name = "PATH")]
    cookie_path: Option<String>,
    /// `SESSION_COOKIE_SECURE`: send the cookie over HTTPS only.
    #[arg(long)]
    cookie_secure: bool,
    /// `SESSION_COOKIE_SAMESITE`: `Lax` (the default, unless `--config` is given: then
    /// Flask's default, no attribute), `Strict`, `None`, or `off` for no attribute (Flask's
    /// default: the article's routes then answer byte for byte as Flask does).
    #[arg(long, value_name = "VALUE")]
    cookie_samesite: Option<String>,
    /// `SESSION_COOKIE_PARTITIONED`: a CHIPS partitioned cookie (implies `Secure`).
    #[arg(long)]
    cookie_partitioned: bool,
    /// `SESSION_COOKIE_HTTPONLY = False`: let page scripts read the cookie.
    #[arg(long)]
    no_cookie_httponly: bool,
    /// `SESSION_REFRESH_EACH_REQUEST = False`: resend a permanent session's cookie only
    /// when the session changed.
    #[arg(long)]
    no_refresh_each_request: bool,
    /// `MAX_COOKIE_SIZE`: the largest `Set-Cookie` value in bytes (4093).
    #[arg(long, value_name = "BYTES")]
    max_cookie_size: Option<usize>,
    /// Flask-Session's `SESSION_USE_SIGNER`: the cookie carries the id signed with the key.
    #[arg(long)]
    use_signer: bool,
    /// Flask-Session's `SESSION_KEY_PREFIX`: prefix of the Redis keys (`session:`).
    #[arg(long, value_name = "PREFIX")]
    key_prefix: Option<String>,
    /// Flask-Session's `SESSION_PERMANENT = False`: new server-side sessions end with the
    /// browser session (no `Expires`) until made permanent.
    #[arg(long)]
    non_permanent: bool,
    /// Flask-Session's `SESSION_ID_LENGTH`: random bytes in a new session id (32).
    #[arg(long, value_name = "BYTES")]
    id_length: Option<usize>,
    /// Flask-Session's `SESSION_SERIALIZATION_FORMAT`: `msgpack` (default) or `json`.
    #[arg(long, value_name = "FORMAT")]
    serialization: Option<Serialization>,
}

/// The same settings in a config file, under Flask's names; any other key is refused, so a
/// typo is an error rather than a setting silently not applied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlaskFile {
    #[serde(rename = "SECRET_KEY")]
    pub(crate) secret_key: Option<String>,
    #[serde(rename = "SECRET_KEY_FALLBACKS")]
    pub(crate) secret_key_fallbacks: Option<Vec<String>>,
    /// Seconds, as Flask accepts an int for it.
    #[serde(rename = "PERMANENT_SESSION_LIFETIME")]
    pub(crate) permanent_session_lifetime: Option<u64>,
    #[serde(rename = "SESSION_COOKIE_NAME")]
    cookie_name: Option<String>,
    #[serde(rename = "SESSION_COOKIE_DOMAIN")]
    cookie_domain: Option<String>,
    #[serde(rename = "SESSION_COOKIE_PATH")]
    cookie_path: Option<String>,
    #[serde(rename = "SESSION_COOKIE_HTTPONLY")]
    cookie_http_only: Option<bool>,
    #[serde(rename = "SESSION_COOKIE_SECURE")]
    cookie_secure: Option<bool>,
    #[serde(rename = "SESSION_COOKIE_SAMESITE")]
    cookie_samesite: Option<String>,
    #[serde(rename = "SESSION_COOKIE_PARTITIONED")]
    cookie_partitioned: Option<bool>,
    #[serde(rename = "SESSION_REFRESH_EACH_REQUEST")]
    refresh_each_request: Option<bool>,
    #[serde(rename = "MAX_COOKIE_SIZE")]
    max_cookie_size: Option<usize>,
    /// `redis` (with `SESSION_REDIS`), `sqlalchemy` (with `SQLALCHEMY_DATABASE_URI`) or
    /// `sqlite` (with `SESSION_SQLITE`); absent: cookies.
    #[serde(rename = "SESSION_TYPE")]
    session_type: Option<String>,
    /// The Redis URL (`redis://HOST:PORT/DB`): Flask's `SESSION_REDIS` client, as a URL.
    #[serde(rename = "SESSION_REDIS")]
    session_redis: Option<String>,
    /// Flask-SQLAlchemy's database of `SESSION_TYPE = "sqlalchemy"` (PostgreSQL).
    #[serde(rename = "SQLALCHEMY_DATABASE_URI")]
    sqlalchemy_database_uri: Option<String>,
    /// flacon's own: the SQLite file of `SESSION_TYPE = "sqlite"`.
    #[serde(rename = "SESSION_SQLITE")]
    session_sqlite: Option<PathBuf>,
    #[serde(rename = "SESSION_USE_SIGNER")]
    use_signer: Option<bool>,
    #[serde(rename = "SESSION_KEY_PREFIX")]
    key_prefix: Option<String>,
    #[serde(rename = "SESSION_PERMANENT")]
    permanent: Option<bool>,
    #[serde(rename = "SESSION_ID_LENGTH")]
    id_length: Option<usize>,
    #[serde(rename = "SESSION_SERIALIZATION_FORMAT")]
    serialization: Option<String>,
}

impl FlaskFile {
    fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new("config", format!("{}: {e}", path.display())))?;
        toml::from_str(&text)
            .map_err(|e| CliError::new("config", format!("{}: {e}", path.display())))
    }
}

/// What serve runs with, flags and file merged.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The file's keys (the key and the lifetime are merged by the caller, beside their own
    /// flags).
    pub(crate) file: FlaskFile,
    /// The store the file names, if `--store` was not given.
    pub(crate) store: Option<StoreSpec>,
    pub(crate) server: ServerSideConfig,
    pub(crate) key_prefix: Option<String>,
    pub(crate) serialization: Serialization,
    cookie: CookieSettings,
}

#[derive(Debug, Default)]
struct CookieSettings {
    name: Option<String>,
    domain: Option<String>,
    path: Option<String>,
    http_only: Option<bool>,
    secure: Option<bool>,
    same_site: Option<Option<SameSite>>,
    partitioned: Option<bool>,
    refresh_each_request: Option<bool>,
    max_cookie_size: Option<usize>,
}

/// `meaning` when the flag is given (`--cookie-secure` means true, `--no-cookie-httponly`
/// false), else what the file says.
fn flag_or(flag: bool, meaning: bool, file: Option<bool>) -> Option<bool> {
    if flag {
        Some(meaning)
    } else {
        file
    }
}

/// `--cookie-samesite off`: no attribute, Flask's `SESSION_COOKIE_SAMESITE = None`.
fn is_off(text: &str) -> bool {
    text.eq_ignore_ascii_case("off")
}

fn same_site(text: &str) -> Result<SameSite, CliError> {
    SameSite::parse(text).ok_or_else(|| {
        CliError::new(
            "usage",
            format!("SESSION_COOKIE_SAMESITE is Lax, Strict or None, not {text:?}"),
        )
    })
}

impl FlaskFlags {
    /// Merges the flags over the file (if any) over Flask's defaults.
    pub(crate) fn resolve(&self) -> Result<Settings, CliError> {
        let file = match &self.config {
            Some(path) => FlaskFile::read(path)?,
            None => FlaskFile::default(),
        };
        let same_site = match (&self.cookie_samesite, &file.cookie_samesite) {
            (Some(text), _) if is_off(text) => Some(None),
            (Some(text), _) | (None, Some(text)) => Some(Some(same_site(text)?)),
            // A config file is the Flask app's: where it is silent, Flask's default (no
            // attribute) holds, so both apps send the same cookie.
            (None, None) if self.config.is_some() => None,
            // The demo on its own sends Lax: its sign-in forms are not for other sites.
            (None, None) => Some(Some(SameSite::Lax)),
        };
        let cookie = CookieSettings {
            name: self.cookie_name.clone().or(file.cookie_name.clone()),
            domain: self.cookie_domain.clone().or(file.cookie_domain.clone()),
            path: self.cookie_path.clone().or(file.cookie_path.clone()),
            http_only: flag_or(self.no_cookie_httponly, false, file.cookie_http_only),
            secure: flag_or(self.cookie_secure, true, file.cookie_secure),
            same_site,
            partitioned: flag_or(self.cookie_partitioned, true, file.cookie_partitioned),
            refresh_each_request: flag_or(
                self.no_refresh_each_request,
                false,
                file.refresh_each_request,
            ),
            max_cookie_size: self.max_cookie_size.or(file.max_cookie_size),
        };
        let permanent = flag_or(self.non_permanent, false, file.permanent);
        let use_signer = flag_or(self.use_signer, true, file.use_signer);
        let id_length = self.id_length.or(file.id_length);
        let serialization = match (self.serialization, &file.serialization) {
            (Some(s), _) => Some(s),
            (None, Some(text)) => Some(text.parse().map_err(|e| CliError::new("config", e))?),
            (None, None) => None,
        };
        let mut server = ServerSideConfig::builder();
        if let Some(permanent) = permanent {
            server = server.permanent_by_default(permanent);
        }
        if let Some(use_signer) = use_signer {
            server = server.use_signer(use_signer);
        }
        if let Some(bytes) = id_length {
            server = server.id_length(bytes);
        }
        let store = file_store(&file)?;
        let key_prefix = self.key_prefix.clone().or(file.key_prefix.clone());
        Ok(Settings {
            file,
            store,
            server: server.build(),
            key_prefix,
            serialization: serialization.unwrap_or_default(),
            cookie,
        })
    }
}

/// The store a file's `SESSION_TYPE` names.
fn file_store(file: &FlaskFile) -> Result<Option<StoreSpec>, CliError> {
    let missing = |what: &str| {
        CliError::new(
            "config",
            format!("SESSION_TYPE = {what:?} needs the store's address"),
        )
    };
    match file.session_type.as_deref() {
        None | Some("null") => Ok(None),
        Some("redis") => {
            let url = file.session_redis.as_deref().ok_or_else(|| missing("redis"))?;
            url.parse()
                .map(Some)
                .map_err(|e: String| CliError::new("config", e))
        }
        Some("sqlalchemy") => {
            let url = file
                .sqlalchemy_database_uri
                .as_deref()
                .ok_or_else(|| missing("sqlalchemy"))?;
            match url.parse() {
                Ok(spec @ StoreSpec::Postgres(_)) => Ok(Some(spec)),
                _ => Err(CliError::new(
                    "config",
                    format!("SQLALCHEMY_DATABASE_URI {url:?}: flacon serves PostgreSQL (postgresql://...)"),
                )),
            }
        }
        Some("sqlite") => {
            let path = file.session_sqlite.clone().ok_or_else(|| missing("sqlite"))?;
            Ok(Some(StoreSpec::Sqlite(path)))
        }
        Some(other) => Err(CliError::new(
            "config",
            format!(
                "SESSION_TYPE {other:?} is not served by flacon: use \"redis\" (with SESSION_REDIS), \"sqlalchemy\" (with SQLALCHEMY_DATABASE_URI on PostgreSQL), \"sqlite\" (with SESSION_SQLITE) or none for signed cookies"
            ),
        )),
    }
}

impl Settings {
    /// Refuses Flask-Session's settings for signed cookies (they mean nothing there: refused
    /// rather than ignored), and a key prefix or format outside Redis.
    pub(crate) fn check_store(&self, store: &StoreSpec) -> Result<(), CliError> {
        let defaults = ServerSideConfig::default();
        let server_side_set = self.server != defaults
            || self.serialization != Serialization::default()
            || self.key_prefix.is_some();
        if matches!(store, StoreSpec::Cookie) && server_side_set {
            return Err(CliError::new(
                "usage",
                "--use-signer, --key-prefix, --non-permanent, --id-length and --serialization \
                 (SESSION_USE_SIGNER, SESSION_KEY_PREFIX, SESSION_PERMANENT, SESSION_ID_LENGTH, \
                 SESSION_SERIALIZATION_FORMAT) are Flask-Session's: they need a server-side --store",
            ));
        }
        let flask_sessions_layout = matches!(
            store,
            StoreSpec::Redis(_)
                | StoreSpec::RedisCluster(_)
                | StoreSpec::RedisSentinel { .. }
                | StoreSpec::Postgres(_)
        );
        if !flask_sessions_layout
            && (self.key_prefix.is_some() || self.serialization != Serialization::default())
        {
            return Err(CliError::new(
                "usage",
                "--key-prefix and --serialization name Flask-Session's records: they need a redis:// or postgres:// --store",
            ));
        }
        Ok(())
    }

    /// The cookie settings applied to `builder`.
    pub(crate) fn apply(&self, mut builder: SessionConfigBuilder) -> SessionConfigBuilder {
        let c = &self.cookie;
        if let Some(name) = &c.name {
            builder = builder.cookie_name(name.clone());
        }
        if c.domain.is_some() {
            builder = builder.cookie_domain(c.domain.clone());
        }
        if let Some(path) = &c.path {
            builder = builder.cookie_path(path.clone());
        }
        if let Some(http_only) = c.http_only {
            builder = builder.cookie_http_only(http_only);
        }
        if let Some(secure) = c.secure {
            builder = builder.cookie_secure(secure);
        }
        if let Some(same_site) = c.same_site {
            builder = builder.cookie_same_site(same_site);
        }
        if let Some(partitioned) = c.partitioned {
            builder = builder.cookie_partitioned(partitioned);
        }
        if let Some(refresh) = c.refresh_each_request {
            builder = builder.refresh_each_request(refresh);
        }
        if let Some(bytes) = c.max_cookie_size {
            builder = builder.max_cookie_size(bytes);
        }
        builder
    }

    /// `PERMANENT_SESSION_LIFETIME`: the flag, else the file, else Flask's 31 days.
    pub(crate) fn permanent_lifetime(&self, flag: Option<u64>) -> Duration {
        Duration::from_secs(
            flag.or(self.file.permanent_session_lifetime)
                .unwrap_or(31 * 24 * 3600),
        )
    }
}
