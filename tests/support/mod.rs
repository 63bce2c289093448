//! The real `civicpulse` binary, run from tests: on a database in a
//! folder (the default path there) or on a named database file.

#![allow(dead_code)] // each test binary uses some of these

pub mod postgres;

use std::path::Path;
use std::process::Command;

/// Runs `civicpulse ARGS` in `dir`, whose default database it uses;
/// (success, stdout, stderr).
pub fn civicpulse(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command.args(args).current_dir(dir).env_remove("DATABASE_URL");
    run(command)
}

/// Runs `civicpulse ARGS` on the database `url` with the key file `key`.
pub fn civicpulse_on_url(url: &civicpulse::db::DatabaseUrl, key: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command
        .args(args)
        .env("DATABASE_URL", url.connection_string())
        .env("CIVICPULSE_KEY_FILE", key);
    run(command)
}

fn run(mut command: Command) -> (bool, String, String) {
    let out = command.env("RUST_LOG", "warn").output().expect("civicpulse runs");
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
