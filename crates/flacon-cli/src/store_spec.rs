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
            _ => Err(format!(
                "unknown store {text:?}: use cookie, memory, sqlite:PATH or redis://HOST:PORT/DB"
            )),
        }
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
        assert!("sqlite:".parse::<StoreSpec>().is_err());
        assert!("mysql://x".parse::<StoreSpec>().is_err());
    }
}
