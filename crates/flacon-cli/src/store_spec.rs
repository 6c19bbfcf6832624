//! The `--store` argument: where `flacon serve` and `flacon store` keep sessions.

use std::path::PathBuf;
use std::str::FromStr;

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreSpec {
    /// Signed cookies (Flask's default): no server-side store.
    Cookie,
    /// This process's memory.
    Memory,
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A Redis URL (`redis://HOST:PORT/DB`).
    Redis(String),
    /// A Redis Cluster: `redis+cluster://HOST:PORT,HOST:PORT,...` (any reachable nodes).
    RedisCluster(Vec<String>),
    /// A primary found through Redis Sentinel:
    /// `redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE`.
    RedisSentinel {
        /// The sentinels, as `redis://HOST:PORT` URLs.
        sentinels: Vec<String>,
        /// The name the sentinels monitor the primary under.
        service: String,
    },
    /// PostgreSQL in Flask-Session's SQLAlchemy layout: `postgres://USER@HOST:PORT/DB`.
    Postgres(String),
}

impl FromStr for StoreSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "cookie" => Ok(StoreSpec::Cookie),
            "memory" => Ok(StoreSpec::Memory),
            _ if text.starts_with("sqlite:") => {
                let path = text.trim_start_matches("sqlite:").trim_start_matches("//");
                if path.is_empty() {
                    Err("sqlite: needs a path, as in sqlite:sessions.db".to_owned())
                } else {
                    Ok(StoreSpec::Sqlite(PathBuf::from(path)))
                }
            }
            _ if text.starts_with("postgres://") || text.starts_with("postgresql://") => {
                Ok(StoreSpec::Postgres(text.to_owned()))
            }
            _ if text.starts_with("redis://") || text.starts_with("rediss://") => {
                check_redis_url(text)?;
                Ok(StoreSpec::Redis(text.to_owned()))
            }
            _ if text.starts_with("redis+cluster://") => {
                let nodes = hosts(text.trim_start_matches("redis+cluster://"));
                nodes.iter().try_for_each(|node| check_redis_url(node))?;
                if nodes.is_empty() {
                    Err("redis+cluster:// needs HOST:PORT[,HOST:PORT...]".to_owned())
                } else {
                    Ok(StoreSpec::RedisCluster(nodes))
                }
            }
            _ if text.starts_with("redis+sentinel://") => {
                let rest = text.trim_start_matches("redis+sentinel://");
                match rest.split_once('/') {
                    Some((list, service)) if !service.is_empty() && !hosts(list).is_empty() => {
                        hosts(list)
                            .iter()
                            .try_for_each(|node| check_redis_url(node))?;
                        Ok(StoreSpec::RedisSentinel {
                            sentinels: hosts(list),
                            service: service.to_owned(),
                        })
                    }
                    _ => Err("redis+sentinel:// needs HOST:PORT[,HOST:PORT...]/SERVICE".to_owned()),
                }
            }
            _ => Err(format!(
                "unknown store {text:?}: use cookie, memory, sqlite:PATH, redis://HOST:PORT/DB, \
                 redis+cluster://HOST:PORT,... or redis+sentinel://HOST:PORT,.../SERVICE"
            )),
        }
    }
}

/// Checks `redis[s]://[USER:PASSWORD@]HOST[:PORT][/DB]` before the Redis client sees it, so
/// that a mistake is told in these words rather than the client's.
fn check_redis_url(text: &str) -> Result<(), String> {
    const FORM: &str = "redis://HOST[:PORT][/DB], as in redis://127.0.0.1:6379/0";
    let rest = text.split_once("://").map_or("", |(_, rest)| rest);
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => {
                return Err(format!(
                    "{text:?}: an IPv6 host needs its closing ']': {FORM}"
                ))
            }
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{text:?} names no host: {FORM}"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!(
                "{text:?}: the port must be 1 to 65535, not {port:?}: {FORM}"
            ));
        }
    }
    let db = db.split('?').next().unwrap_or_default();
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "{text:?}: the database must be a number, not {db:?}: {FORM}"
        ));
    }
    Ok(())
}

fn hosts(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{h}"))
        .collect()
}

/// The Redis store a Redis spec names.
pub(crate) fn open_redis(
    spec: &StoreSpec,
) -> Result<flacon::store::redis::RedisStore, flacon::store::StoreError> {
    use flacon::store::redis::RedisStore;
    fn strs(list: &[String]) -> Vec<&str> {
        list.iter().map(String::as_str).collect()
    }
    match spec {
        StoreSpec::RedisCluster(nodes) => RedisStore::cluster(&strs(nodes)),
        StoreSpec::RedisSentinel { sentinels, service } => {
            RedisStore::sentinel(&strs(sentinels), service)
        }
        StoreSpec::Redis(url) => RedisStore::open(url),
        other => Err(flacon::store::StoreError::Corrupt(format!(
            "{other:?} is not a Redis store"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs() {
        assert_eq!("cookie".parse(), Ok(StoreSpec::Cookie));
        assert_eq!(
            "sqlite:/tmp/s.db".parse(),
            Ok(StoreSpec::Sqlite("/tmp/s.db".into()))
        );
        assert_eq!(
            "redis://127.0.0.1:6379/2".parse(),
            Ok(StoreSpec::Redis("redis://127.0.0.1:6379/2".into()))
        );
        assert_eq!(
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000".parse(),
            Ok(StoreSpec::RedisCluster(vec![
                "redis://10.0.0.1:7000".into(),
                "redis://10.0.0.2:7000".into()
            ]))
        );
        assert_eq!(
            "redis+sentinel://127.0.0.1:26379/mymaster".parse(),
            Ok(StoreSpec::RedisSentinel {
                sentinels: vec!["redis://127.0.0.1:26379".into()],
                service: "mymaster".into()
            })
        );
        assert!("redis+sentinel://127.0.0.1:26379"
            .parse::<StoreSpec>()
            .is_err());
        assert!("sqlite:".parse::<StoreSpec>().is_err());
        assert!("mysql://x".parse::<StoreSpec>().is_err());
        for good in [
            "redis://localhost",
            "rediss://user:secret@cache.internal:6380/3",
            "redis://[::1]:6379/0",
            "redis://:pw@127.0.0.1/0?protocol=resp3",
        ] {
            assert!(good.parse::<StoreSpec>().is_ok(), "{good}");
        }
        for (bad, says) in [
            ("redis://", "names no host"),
            ("redis:///0", "names no host"),
            ("redis://:pw@/0", "names no host"),
            ("redis://127.0.0.1:port/0", "the port must be"),
            ("redis://127.0.0.1:0", "the port must be"),
            ("redis://127.0.0.1/zero", "the database must be a number"),
            ("redis://[::1/0", "closing ']'"),
            ("redis+cluster://a:1,b:x", "the port must be"),
        ] {
            let error = bad.parse::<StoreSpec>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
            assert!(error.contains("redis://127.0.0.1:6379/0"), "{bad}: {error}");
        }
    }
}
