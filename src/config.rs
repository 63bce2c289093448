//! Settings of the server: command-line flags override the environment,
//! which overrides the defaults (the CLI layer applies that order).

use crate::clock::CityClock;
use crate::db::{Backend, DatabaseUrl, PoolSettings};
use crate::identity::Identity;
use crate::web::limits::Limits;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Default address: local only. Put a TLS-terminating proxy in front for
/// the public (see README).
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "civicpulse.db";
pub const DEFAULT_DEFS_DIR: &str = "survey-defs";

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: String,
    pub database: DatabaseUrl,
    /// Extra definitions (built-in ones are always loaded).
    pub defs_dir: Option<PathBuf>,
    /// HTTP worker threads; `None` means one per CPU core.
    pub workers: Option<usize>,
    /// The server key file (see `crypto`).
    pub key_file: PathBuf,
    /// Per-client rate limits.
    pub limits: Limits,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Where residents open the survey, as printed on letters; `None`:
    /// the address a staff member's request came to.
    pub public_url: Option<String>,
    /// The smallest `min_cell` the API and pages accept (docs/statistics.md §6.2).
    pub min_cell_floor: u64,
    /// How long one analysis (indices of a wave) may run before it is
    /// stopped (`--analysis-timeout`).
    pub analysis_timeout: std::time::Duration,
    /// How long free-text answers are kept after submission
    /// (`--free-text-days`); `None`: until deleted by hand.
    pub free_text_retention: Option<time::Duration>,
    /// How long a partial response is kept after its last save
    /// (`--partial-days`); then it is purged.
    pub partial_lifetime: time::Duration,
    /// The city's time zone: survey dates are its calendar days, and staff
    /// pages show its local times (`--time-zone`).
    pub clock: CityClock,
    /// Who runs the survey, shown on every resident page (`--identity`).
    pub identity: Arc<Identity>,
    /// Database connections this instance keeps (`--pool-size`).
    pub pool: PoolSettings,
    /// Send `Strict-Transport-Security` (`--hsts`): only for a deployment
    /// whose every address is served over HTTPS.
    pub hsts: bool,
    /// How long a request's body may take to arrive.
    pub body_deadline: std::time::Duration,
    /// A saved gzip-encoded page served as is at `/bench/static-page`, for
    /// load benchmarks only (`--bench-static-page`); `None` in service.
    pub bench_static_page: Option<PathBuf>,
    /// How long a request waits for a database connection before the
    /// resident is asked to try again, and how long each attempt to
    /// connect may take (`--db-timeout`).
    pub db_timeout: std::time::Duration,
}

/// Default of `--partial-days`.
pub const DEFAULT_PARTIAL_DAYS: u32 = 30;

/// Default floor of `min_cell` for callers of the server.
pub const DEFAULT_MIN_CELL_FLOOR: u64 = 10;
/// Seconds an analysis may run: a linearised analysis of a million
/// responses takes one or two; 5,000 bootstrap replicates of one take
/// longer, and nobody waits minutes for a web page.
pub const DEFAULT_ANALYSIS_TIMEOUT_SECONDS: u64 = 120;

impl ServeConfig {
    /// Settings for `database` with every other setting at its default.
    pub fn new(bind: &str, database: DatabaseUrl) -> ServeConfig {
        ServeConfig {
            bind: bind.to_string(),
            key_file: key_file(None, &database),
            pool: PoolSettings::default_for(Backend::of(&database)),
            database,
            defs_dir: None,
            workers: None,
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            public_url: None,
            min_cell_floor: DEFAULT_MIN_CELL_FLOOR,
            analysis_timeout: std::time::Duration::from_secs(DEFAULT_ANALYSIS_TIMEOUT_SECONDS),
            free_text_retention: None,
            partial_lifetime: time::Duration::days(DEFAULT_PARTIAL_DAYS.into()),
            clock: CityClock::default(),
            identity: Arc::new(Identity::builtin()),
            hsts: false,
            body_deadline: crate::web::body_deadline::DEFAULT_BODY_DEADLINE,
            bench_static_page: None,
            db_timeout: crate::db::DEFAULT_CONNECTION_TIMEOUT,
        }
    }
}

/// `--key-file` when given; otherwise beside the SQLite file
/// (`civicpulse.key` for `civicpulse.db`), or `civicpulse.key` in the
/// working folder for PostgreSQL. Every instance of one deployment must
/// read the same key (README, "Several instances").
pub fn key_file(flag: Option<PathBuf>, database: &DatabaseUrl) -> PathBuf {
    flag.unwrap_or_else(|| match database {
        DatabaseUrl::Sqlite(path) => crate::crypto::default_key_path(path),
        DatabaseUrl::Postgres(_) => PathBuf::from("civicpulse.key"),
    })
}

/// `--defs DIR` when given; otherwise `survey-defs/` if it exists here.
pub fn defs_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let default = PathBuf::from(DEFAULT_DEFS_DIR);
        default.is_dir().then_some(default)
    })
}
