//! The real `civicpulse` binary, run from tests: on a database in a
//! folder (the default path there) or on a named database file.

#![allow(dead_code)] // each test binary uses some of these

use std::path::Path;
use std::process::Command;

/// Runs `civicpulse ARGS` in `dir`, whose default database it uses;
/// (success, stdout, stderr).
pub fn civicpulse(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command.args(args).current_dir(dir).env_remove("DATABASE_URL");
    run(command)
}

/// Runs `civicpulse ARGS` on the SQLite database file `db`.
pub fn civicpulse_on(db: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    command
        .args(args)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()));
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
