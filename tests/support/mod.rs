//! The real `civicpulse` binary, run from tests: on the database of a
//! folder (its default SQLite file, or in the PostgreSQL half of the suite
//! a PostgreSQL database of that folder's own, see `postgres`) or on a
//! named database.

#![allow(dead_code)] // each test binary uses some of these

pub mod postgres;

use civicpulse::db::DatabaseUrl;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The database of `dir`: `civicpulse.db` in it, as the binary run there
/// finds by default; in the PostgreSQL half, a database made from the
/// template the first time `dir` asks and the same one after that, so
/// that commands run one after another in `dir` see each other's data.
pub fn database_url(dir: &Path) -> DatabaseUrl {
    let Some(server) = postgres::server() else {
        return DatabaseUrl::Sqlite(dir.join("civicpulse.db"));
    };
    static BY_DIR: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    let mut by_dir = BY_DIR
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let url = by_dir
        .entry(dir.to_path_buf())
        .or_insert_with(|| postgres::fresh_postgres(&server));
    DatabaseUrl::Postgres(url.clone())
}

/// `civicpulse ARGS` run in `dir` on the database of `dir` (see
/// [`database_url`]), not yet started; the key file is `civicpulse.key`
/// in `dir` on either backend. An explicit `--database` or `--key-file`
/// in `args` wins, as it does for operators.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("CIVICPULSE_KEY_FILE")
        .env_remove("CIVICPULSE_DEFS")
        .env("RUST_LOG", "warn");
    if let url @ DatabaseUrl::Postgres(_) = database_url(dir) {
        command
            .env("DATABASE_URL", url.connection_string())
            .env("CIVICPULSE_KEY_FILE", dir.join("civicpulse.key"));
    }
    command
}

/// Runs `civicpulse ARGS` in `dir` on the database of `dir`; (success,
/// stdout, stderr).
pub fn civicpulse(dir: &Path, args: &[&str]) -> (bool, String, String) {
    run(command(dir, args))
}

/// Runs `civicpulse ARGS` on the database `url` with the key file `key`.
pub fn civicpulse_on_url(url: &DatabaseUrl, key: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command
        .args(args)
        .env("DATABASE_URL", url.connection_string())
        .env("CIVICPULSE_KEY_FILE", key)
        .env("RUST_LOG", "warn");
    run(command)
}

fn run(mut command: Command) -> (bool, String, String) {
    let out = command.output().expect("civicpulse runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Whether `Rscript` runs here with R's `survey` package. Without it a test
/// that checks our figures against R says it is skipped and passes, unless
/// `CIVICPULSE_R_TESTS=require` (as `.ci/run` sets, after installing R)
/// makes the missing R a failure.
pub fn r_available(test: &str) -> bool {
    let found = Command::new("Rscript")
        .args(["-e", "suppressMessages(library(survey))"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        if std::env::var("CIVICPULSE_R_TESTS").as_deref() == Ok("require") {
            panic!(
                "{test}: Rscript with the survey package not found, and CIVICPULSE_R_TESTS=require; .ci/run \
                 installs r-base-core r-cran-survey"
            );
        }
        eprintln!(
            "{test}: skipped: Rscript with the survey package not found; .ci/run installs r-base-core r-cran-survey"
        );
    }
    found
}

/// Runs `Rscript load.R` in `dir`, an export folder, and reads the figures
/// it prints, one `name value` line each (estimate, se, ci_low, ci_high,
/// n, df).
pub fn run_load_r(dir: &Path) -> std::collections::HashMap<String, f64> {
    let out = Command::new("Rscript")
        .arg("load.R")
        .current_dir(dir)
        .output()
        .expect("Rscript runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Rscript load.R failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: std::collections::HashMap<String, f64> = stdout
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect();
    for name in ["estimate", "se", "ci_low", "ci_high", "n", "df"] {
        assert!(figures.contains_key(name), "load.R printed no {name}:\n{stdout}");
    }
    figures
}
