//! Setting up a database: `civicpulse migrate` does it once, even when
//! several instances start together, and commands that only read never
//! write, not even a schema change.

mod support;

use civicpulse::db::{Database, DatabaseUrl};
use support::civicpulse;

/// Size and modification time of the files of an SQLite database (the
/// file, a WAL holding anything): what a write would change. (The last
/// connection to close empties and removes the WAL; an empty one holds
/// nothing.)
fn files_of(dir: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name == "civicpulse.db" || name == "civicpulse.db-wal"
        })
        .filter(|e| e.metadata().unwrap().len() > 0)
        .map(|e| {
            let meta = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                meta.len(),
                meta.modified().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn read_only_commands_refuse_a_missing_database_and_never_write_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // No database yet: a clear refusal, and no file made.
    let (ok, _, stderr) = civicpulse(d, &["indices", "livability"]);
    assert!(!ok);
    assert!(stderr.contains("civicpulse migrate"), "{stderr}");
    assert!(
        !d.join("civicpulse.db").exists(),
        "a read-only command created the database"
    );

    let (ok, stdout, stderr) = civicpulse(d, &["migrate"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("schema up to date"), "{stdout}");
    let (ok, _, stderr) = civicpulse(
        d,
        &[
            "import",
            "livability",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/wave2025.csv"),
            "--wave",
            "2025",
        ],
    );
    assert!(ok, "{stderr}");
    // Settle the WAL into the file so that only new writes would show.
    {
        let db = Database::open(&DatabaseUrl::Sqlite(d.join("civicpulse.db"))).unwrap();
        drop(db);
    }
    let before = files_of(d);
    std::thread::sleep(std::time::Duration::from_millis(20));
    for args in [
        &["indices", "livability", "--wave", "2025", "--by", "district"][..],
        &["export", "livability", "--format", "csv"],
        &["survey", "list"],
        &["survey", "versions", "livability"],
        &["import", "list", "livability"],
        &["user", "list"],
        &["fieldwork", "livability", "--wave", "2025"],
    ] {
        let (ok, _, stderr) = civicpulse(d, args);
        assert!(ok, "{args:?}: {stderr}");
        assert_eq!(files_of(d), before, "{args:?} wrote to the database");
    }
}

#[test]
fn a_second_migrate_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, first, stderr) = civicpulse(d, &["migrate"]);
    assert!(ok, "{stderr}");
    assert!(!first.contains("(0 change(s) applied now)"), "{first}");
    let (ok, second, stderr) = civicpulse(d, &["migrate"]);
    assert!(ok, "{stderr}");
    assert!(second.contains("(0 change(s) applied now)"), "{second}");
}

/// Instances started together on one PostgreSQL database: each migrates
/// under an advisory lock, so the schema is made once and all start.
#[test]
fn instances_started_together_migrate_postgresql_once() {
    let Some(server) = support::postgres::reachable_server("migrate") else {
        return;
    };
    let url = support::postgres::empty_postgres(&server);
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_civicpulse"))
                .arg("migrate")
                .env("DATABASE_URL", &url)
                .env("CIVICPULSE_KEY_FILE", dir.path().join("civicpulse.key"))
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let applied: Vec<String> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .filter(|s| !s.contains("(0 change(s) applied now)"))
        .collect();
    assert_eq!(applied.len(), 1, "exactly one process applied the schema: {applied:?}");
    let db = Database::open_existing(&DatabaseUrl::Postgres(url.clone())).unwrap();
    assert_eq!(db.pending_migrations().unwrap(), 0);
    let versions = db.versions("livability").unwrap();
    assert!(!versions.is_empty(), "the built-in survey is stored");
    drop(db);
    support::postgres::drop_database_at(&server, &url);
}
