//! Parsing of `--database` / `DATABASE_URL`.

use std::fmt;
use std::path::PathBuf;

/// Where the data lives. A bare path or `sqlite://PATH` is an SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("empty database URL: give a file path such as civicpulse.db or sqlite://civicpulse.db")]
    Empty,
    #[error("{0:?}: PostgreSQL is not supported by this build yet; use an SQLite file path or sqlite://PATH")]
    Postgres(String),
    #[error("{0:?}: unknown database URL scheme; use an SQLite file path or sqlite://PATH")]
    UnknownScheme(String),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(DatabaseUrlError::Empty);
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Err(DatabaseUrlError::Postgres(s.to_string()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(DatabaseUrlError::UnknownScheme(scheme.to_string()));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(s)))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_sqlite_urls() {
        assert_eq!(
            DatabaseUrl::parse("civicpulse.db").unwrap(),
            DatabaseUrl::Sqlite("civicpulse.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert!(matches!(DatabaseUrl::parse(""), Err(DatabaseUrlError::Empty)));
        assert!(matches!(
            DatabaseUrl::parse("mysql://x"),
            Err(DatabaseUrlError::UnknownScheme(_))
        ));
    }
}
