//! The PostgreSQL half of the suite. Every test binary that can runs its
//! tests twice: on SQLite, as `cargo test` starts it, and on PostgreSQL,
//! when its test `postgres_half` starts the same binary again with
//! `CIVICPULSE_TEST_POSTGRES` set. In that run each test gets its own
//! database, made with `CREATE DATABASE … TEMPLATE` from a template that
//! is migrated once (a copy takes milliseconds; migrating takes longer).
//!
//! Where no PostgreSQL answers (a fresh machine), the half is skipped with
//! a message, unless `CIVICPULSE_POSTGRES_TESTS=require` (as `.ci/run`
//! sets) makes that a failure.

use civicpulse::db::{Database, DatabaseUrl};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Set in the child run: the server's URL (any database on it; tests
/// make their own next to it).
const CHILD_ENV: &str = "CIVICPULSE_TEST_POSTGRES";
/// Where to look for PostgreSQL unless told otherwise.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Databases of this suite; any left by an earlier run are dropped.
const PREFIX: &str = "cp_t_";

/// The PostgreSQL server this process's tests run on, when this is the
/// PostgreSQL half.
pub fn server() -> Option<String> {
    std::env::var(CHILD_ENV).ok().filter(|s| !s.is_empty())
}

/// A fresh database for one test: a PostgreSQL database from the template
/// in the PostgreSQL half, else an SQLite file in `dir`.
pub fn fresh_database(dir: &Path) -> DatabaseUrl {
    match server() {
        Some(server) => DatabaseUrl::Postgres(fresh_postgres(&server)),
        None => DatabaseUrl::Sqlite(dir.join("civicpulse.db")),
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn admin(server: &str) -> PgConnection {
    PgConnection::establish(server).unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"))
}

/// The migrated template, made once per process (and reused by later
/// processes while the migrations are unchanged).
fn template(server: &str) -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("cp_template_{}", migrations_fingerprint());
        let mut conn = admin(server);
        // Two binaries' halves never run at once under `cargo test`, but
        // a lock costs nothing and makes a manual run beside one safe.
        diesel::sql_query("SELECT pg_advisory_lock(727272)")
            .execute(&mut conn)
            .unwrap();
        if !database_exists(&mut conn, &name) {
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut conn)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut conn)
                .unwrap();
            {
                let db = Database::open(&DatabaseUrl::Postgres(with_database(server, &building)))
                    .expect("the template database migrates");
                drop(db);
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(727272)")
            .execute(&mut conn)
            .unwrap();
        name
    })
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found: Found = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(conn)
        .unwrap();
    found.n > 0
}

/// A hash of the PostgreSQL migrations, so a changed schema gets a new
/// template.
fn migrations_fingerprint() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A new database copied from the template; its URL.
pub fn fresh_postgres(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let template = template(server);
    let name = format!(
        "{PREFIX}{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = admin(server);
    // Copying needs the template to itself: retry while another test's
    // copy of it is being made (PostgreSQL refuses two at once).
    let mut tries = 0;
    loop {
        match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}")).execute(&mut conn) {
            Ok(_) => break,
            Err(e) if tries < 200 && e.to_string().contains("is being accessed by other users") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("CREATE DATABASE {name}: {e}"),
        }
    }
    with_database(server, &name)
}

/// Drop a database this suite made, whoever is still connected to it.
pub fn drop_database(url: &str) {
    let Some(server) = server() else { return };
    drop_database_on(&server, url);
}

/// [`drop_database`] on the PostgreSQL server `server`, for tests that
/// reach it themselves ([`reachable_server`]) rather than in a half.
pub fn drop_database_on(server: &str, url: &str) {
    let Some(name) = url.rsplit('/').next().map(|n| n.split('?').next().unwrap_or(n)) else {
        return;
    };
    if !name.starts_with(PREFIX) {
        return;
    }
    if let Ok(mut conn) = PgConnection::establish(server) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
    }
}

/// Drop every database an earlier run of the suite left behind.
fn drop_leftovers(server: &str) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut conn = admin(server);
    let names: Vec<Name> = diesel::sql_query(format!(
        "SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"
    ))
    .load(&mut conn)
    .unwrap();
    for Name { datname } in names {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)")).execute(&mut conn);
    }
}

/// The PostgreSQL server to test against, when one answers; otherwise
/// `test` says it is skipped, or fails when `CIVICPULSE_POSTGRES_TESTS=require`.
pub fn reachable_server(test: &str) -> Option<String> {
    let server = std::env::var("CIVICPULSE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_string());
    match PgConnection::establish(&server) {
        Ok(_) => Some(server),
        Err(e) => {
            let why = format!(
                "{test}: skipped: no PostgreSQL at {server} ({}); set CIVICPULSE_TEST_POSTGRES_URL, or run .ci/run, \
                 which starts one",
                e.to_string().trim()
            );
            if std::env::var("CIVICPULSE_POSTGRES_TESTS").as_deref() == Ok("require") {
                panic!("{why}, and CIVICPULSE_POSTGRES_TESTS=require");
            }
            eprintln!("{why}");
            None
        }
    }
}

/// The body of each binary's `postgres_half` test: run this binary's
/// tests again on PostgreSQL, in a child process, and fail when they fail.
pub fn run_postgres_half(binary: &str) {
    if server().is_some() {
        return; // this is the child: its tests are the half
    }
    let server = std::env::var("CIVICPULSE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_string());
    if let Err(e) = PgConnection::establish(&server) {
        let why = format!(
            "{binary}: the PostgreSQL half was skipped: no PostgreSQL at {server} ({}); set \
             CIVICPULSE_TEST_POSTGRES_URL, or run .ci/run, which starts one",
            e.to_string().trim()
        );
        if std::env::var("CIVICPULSE_POSTGRES_TESTS").as_deref() == Ok("require") {
            panic!("{why}, and CIVICPULSE_POSTGRES_TESTS=require");
        }
        eprintln!("{why}");
        return;
    }
    drop_leftovers(&server);
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .env(CHILD_ENV, &server)
        .args(["--skip", "postgres_half"])
        .output()
        .expect("the PostgreSQL half starts");
    drop_leftovers(&server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{binary} on PostgreSQL: {summary}");
    assert!(
        out.status.success(),
        "{binary}: tests failed on PostgreSQL:\n{stdout}\n{stderr}"
    );
}
