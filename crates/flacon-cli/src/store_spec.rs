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
            _ if text.starts_with("redis://") || text.starts_with("rediss://") => {
                Ok(StoreSpec::Redis(text.to_owned()))
            }
            _ if text.starts_with("redis+cluster://") => {
                let nodes = hosts(text.trim_start_matches("redis+cluster://"));
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
    }
}
