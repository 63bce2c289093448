//! Settings of the server: command-line flags override the environment,
//! which overrides the defaults (the CLI layer applies that order).

use crate::db::DatabaseUrl;
use std::path::PathBuf;

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
}

/// `--defs DIR` when given; otherwise `survey-defs/` if it exists here.
pub fn defs_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let default = PathBuf::from(DEFAULT_DEFS_DIR);
        default.is_dir().then_some(default)
    })
}
