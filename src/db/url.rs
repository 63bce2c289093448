//! Parsing of `--database` / `DATABASE_URL`.

use std::fmt;
use std::path::PathBuf;

/// Where the data lives. A bare path or `sqlite://PATH` is an SQLite file;
/// `postgres://…` or `postgresql://…` a PostgreSQL database (libpq's URL,
/// passed on as given).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("empty database URL: give a file path such as civicpulse.db or sqlite://civicpulse.db")]
    Empty,
    #[error("{0}: this build of civicpulse has no {1} support; build it with `--features {2}`")]
    NotBuiltIn(String, &'static str, &'static str),
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
            return sqlite(PathBuf::from(path));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let url = DatabaseUrl::Postgres(s.to_string());
            if !cfg!(feature = "postgres") {
                return Err(DatabaseUrlError::NotBuiltIn(url.to_string(), "PostgreSQL", "postgres"));
            }
            return Ok(url);
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(DatabaseUrlError::UnknownScheme(scheme.to_string()));
        }
        sqlite(PathBuf::from(s))
    }
}

impl DatabaseUrl {
    /// The URL with its password, for handing to another program (never
    /// for a message: `Display` hides the password).
    pub fn connection_string(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

fn sqlite(path: PathBuf) -> Result<DatabaseUrl, DatabaseUrlError> {
    let url = DatabaseUrl::Sqlite(path);
    if !cfg!(feature = "sqlite") {
        return Err(DatabaseUrlError::NotBuiltIn(url.to_string(), "SQLite", "sqlite"));
    }
    Ok(url)
}

/// `postgres://user:secret@host/db` without the secret, for messages and logs.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&without_password(url)),
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
        assert_eq!(
            DatabaseUrl::parse("postgres://cp@db.internal/civicpulse").unwrap(),
            DatabaseUrl::Postgres("postgres://cp@db.internal/civicpulse".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("mysql://x"),
            Err(DatabaseUrlError::UnknownScheme(_))
        ));
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_a_message() {
        let url = DatabaseUrl::parse("postgresql://cp:s3cret@10.0.0.5:5432/city?sslmode=disable").unwrap();
        assert_eq!(
            url.to_string(),
            "postgresql://cp:***@10.0.0.5:5432/city?sslmode=disable"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::parse("postgres://localhost/test").unwrap().to_string(),
            "postgres://localhost/test"
        );
    }
}
