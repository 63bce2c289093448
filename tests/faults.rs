//! Faults, through the real binary as a child process, and what a
//! resident and an operator see in each:
//!
//! - the server killed (SIGKILL) while residents submit, on SQLite and on
//!   PostgreSQL, and on SQLite a power cut simulated at the same moment
//!   from the writes the server had made durable (`power_cut`): every
//!   response a resident was thanked for is stored once and whole;
//! - a database that cannot be opened at start-up: a one-line error naming
//!   it, a non-zero exit, no hang;
//! - PostgreSQL going away mid-run and coming back (`proxy`): residents get
//!   their answers back with a "try again" message in their language, the
//!   operator a log line, and the server recovers by itself;
//! - a full disk under SQLite: the same for residents, a log line that
//!   names the full disk, and recovery once space is freed.
//!
//! PostgreSQL tests skip with a message where none answers, unless
//! `CIVICPULSE_POSTGRES_TESTS=require`; those that mount a filesystem skip
//! where mounting is not permitted (it needs root).

mod support;

#[allow(dead_code)]
#[path = "http/helpers.rs"]
mod helpers;

#[path = "faults/power_cut.rs"]
mod power_cut;
#[path = "faults/proxy.rs"]
mod proxy;
#[path = "faults/server.rs"]
mod server;

use civicpulse::db::DatabaseUrl;
use civicpulse::lang::Lang;
use helpers::{escaped, is_checked, livability, valid_answers};
use server::{check_stored, complete, load_counting, run_to_exit, serve_args, Resident, Server, BIN};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::postgres::{drop_database_at, fresh_postgres, reachable_server};

/// Thanked submissions to wait for before the kill.
const THANKED_BEFORE_KILL: usize = 40;
/// Residents submitting at once.
const CLIENTS: usize = 8;

/// A PostgreSQL database of one test, dropped at its end.
struct PgDatabase {
    server: String,
    url: String,
}

impl PgDatabase {
    fn new(server: &str) -> PgDatabase {
        PgDatabase {
            server: server.to_string(),
            url: fresh_postgres(server),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        drop_database_at(&self.server, &self.url);
    }
}

/// Residents submit under load until `THANKED_BEFORE_KILL` have been
/// thanked; then the server is killed with SIGKILL, with requests in
/// flight (the forms sent but neither thanked nor refused: the printed
/// counts show how many). Returns the forms sent and thanked.
async fn submit_then_kill(server: &mut Server) -> server::Outcomes {
    let stop = Arc::new(AtomicBool::new(false));
    let thanked = Arc::new(AtomicUsize::new(0));
    let address = server.address.clone();
    let (s, t) = (stop.clone(), thanked.clone());
    let residents = tokio::spawn(async move { load_counting(&address, CLIENTS, s, false, t).await });
    let start = Instant::now();
    while thanked.load(Ordering::Relaxed) < THANKED_BEFORE_KILL {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} thanked in a minute:\n{}",
            thanked.load(Ordering::Relaxed),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    residents.await.unwrap()
}

/// After a fault: a server started again on `database` takes the next
/// submission; then it is stopped.
async fn restart_and_submit(database: &str, key: &Path) -> String {
    let server = Server::start(&serve_args(database, key, &[]));
    let resident = Resident::new(&server.address);
    let page = resident.form("en").await.unwrap();
    let reply = resident.send(&complete(&page, "en")).await.unwrap();
    assert_eq!(reply.status, 303, "a submission after the restart:\n{}", reply.html);
    page.form_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_and_power_cut_under_load_lose_no_thanked_response() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("civicpulse.db");
    let key = dir.path().join("civicpulse.key");
    let url = db.to_str().unwrap().to_string();
    // Create and migrate the database, and its key, before the trace.
    Server::start(&serve_args(&url, &key, &[])).kill();
    let traced = power_cut::strace_works();
    let before: HashMap<PathBuf, Vec<u8>> = ["civicpulse.db", "civicpulse.db-wal"]
        .iter()
        .map(|name| dir.path().join(name))
        .filter(|p| p.exists())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();

    let trace = dir.path().join("trace");
    let mut server = if traced {
        let mut command = power_cut::strace(&trace);
        command.arg(BIN).args(serve_args(&url, &key, &[]));
        Server::spawn(command, true)
    } else {
        eprintln!(
            "sqlite_kill_9_and_power_cut_under_load: the power cut is skipped: strace does not run here \
             (install strace; tracing needs ptrace)"
        );
        Server::start(&serve_args(&url, &key, &[]))
    };
    let outcomes = submit_then_kill(&mut server).await;

    // The same machine, the process gone: the files as the system has them.
    let after = restart_and_submit(&url, &key).await;
    let mut sent = outcomes.sent.clone();
    sent.push(after.clone());
    let stored = check_stored(&DatabaseUrl::Sqlite(db.clone()), &sent, &outcomes.thanked);
    eprintln!(
        "SQLite, SIGKILL: {} forms sent, {} thanked, {} stored",
        outcomes.sent.len(),
        outcomes.thanked.len(),
        stored - 1
    );

    if !traced {
        return;
    }
    // The machine lost power at the kill: only what was synced is on disk.
    let replay = power_cut::replay(&trace, before);
    let cut = tempfile::tempdir().unwrap();
    for name in ["civicpulse.db", "civicpulse.db-wal"] {
        if let Some(content) = replay.files.get(&dir.path().join(name)) {
            std::fs::write(cut.path().join(name), content).unwrap();
        }
    }
    std::fs::copy(&key, cut.path().join("civicpulse.key")).unwrap();
    let cut_db = cut.path().join("civicpulse.db");
    let cut_url = cut_db.to_str().unwrap().to_string();
    let after = restart_and_submit(&cut_url, &cut.path().join("civicpulse.key")).await;
    let mut sent = outcomes.sent.clone();
    sent.push(after);
    let stored = check_stored(&DatabaseUrl::Sqlite(cut_db), &sent, &outcomes.thanked);
    eprintln!(
        "SQLite, power cut at the kill: {} of {} writes were synced, {} lost; {} responses stored ({} thanked)",
        replay.kept,
        replay.kept + replay.lost,
        replay.lost,
        stored - 1,
        outcomes.thanked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_under_load_loses_no_thanked_response() {
    let Some(pg) = reachable_server("postgres_kill_9_under_load") else {
        return;
    };
    let database = PgDatabase::new(&pg);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("civicpulse.key");
    let mut server = Server::start(&serve_args(&database.url, &key, &[]));
    let outcomes = submit_then_kill(&mut server).await;
    let after = restart_and_submit(&database.url, &key).await;
    let mut sent = outcomes.sent.clone();
    sent.push(after);
    let stored = check_stored(&DatabaseUrl::Postgres(database.url.clone()), &sent, &outcomes.thanked);
    eprintln!(
        "PostgreSQL, SIGKILL: {} forms sent, {} thanked, {} stored",
        outcomes.sent.len(),
        outcomes.thanked.len(),
        stored - 1
    );
}

/// Start `civicpulse serve` on `database`, which cannot be opened: it must
/// exit non-zero within `limit` with one line on stderr that names the
/// database and says why. Returns that line.
fn refused_at_start(database: &str, extra: &[&str], limit: Duration) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args(serve_args(database, &dir.path().join("k.key"), extra))
        .current_dir(dir.path());
    let (status, stderr, took) = run_to_exit(command, limit);
    assert!(!status.success(), "{database}: started");
    assert_eq!(
        status.code(),
        Some(1),
        "{database}: an error exit, not a crash: {status:?}\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{database}: one line:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: cannot open the database "), "{line}");
    assert!(!line.contains("panicked"), "{line}");
    eprintln!("refused after {took:?}: {line}");
    line.to_string()
}

#[test]
fn an_sqlite_database_that_cannot_be_opened_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let quick = Duration::from_secs(5);

    let missing = dir.path().join("no-such-folder").join("civicpulse.db");
    let line = refused_at_start(missing.to_str().unwrap(), &[], quick);
    assert!(line.contains(&format!("sqlite://{}", missing.display())), "{line}");
    assert!(line.contains("no-such-folder does not exist"), "{line}");

    let line = refused_at_start(dir.path().to_str().unwrap(), &[], quick);
    assert!(line.contains("is a folder"), "{line}");

    // A file the system refuses to create (root may write anywhere else).
    let line = refused_at_start("/proc/civicpulse.db", &[], quick);
    assert!(line.contains("unable to open database file"), "{line}");
    assert!(line.contains("must be able to create and write"), "{line}");

    // A read-only filesystem, with and without the database on it.
    let Some(mounted) = Tmpfs::mount(&dir.path().join("ro"), "size=16m") else {
        return;
    };
    let existing = mounted.path.join("civicpulse.db");
    let key = mounted.path.join("civicpulse.key");
    Server::start(&serve_args(existing.to_str().unwrap(), &key, &[])).kill();
    mounted.remount("ro");
    for db in [existing, mounted.path.join("new.db")] {
        let line = refused_at_start(db.to_str().unwrap(), &[], quick);
        assert!(line.contains(&format!("sqlite://{}", db.display())), "{line}");
        assert!(line.contains("must be able to create and write"), "{line}");
    }
}

#[test]
fn a_postgresql_database_that_cannot_be_reached_stops_the_start_with_one_line() {
    // A closed port: refused at once. The password is never shown.
    let line = refused_at_start(
        "postgres://civic:s3cret-pw@127.0.0.1:1/civicpulse",
        &[],
        Duration::from_secs(5),
    );
    assert!(line.contains("postgres://civic:***@127.0.0.1:1/civicpulse"), "{line}");
    assert!(line.contains("Connection refused"), "{line}");
    assert!(!line.contains("s3cret"), "{line}");

    // A host that takes the connection and never answers: no longer than
    // --db-timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || silent.incoming().take(1).flatten().collect::<Vec<_>>());
    let start = Instant::now();
    let line = refused_at_start(
        &format!("postgres://civic@127.0.0.1:{port}/civicpulse"),
        &["--db-timeout", "3"],
        Duration::from_secs(10),
    );
    assert!(start.elapsed() >= Duration::from_secs(2), "it waited for the answer");
    assert!(line.contains("timeout expired"), "{line}");
    drop(held);

    // A server that answers, without that database.
    if let Some(pg) = reachable_server("a_postgresql_database_that_cannot_be_reached (missing database)") {
        let missing = format!("{}/civicpulse_no_such_database", &pg[..pg.rfind('/').unwrap()]);
        let line = refused_at_start(&missing, &[], Duration::from_secs(5));
        assert!(line.contains("does not exist"), "{line}");
    }
}

/// The answers of [`complete`] are all on `html`, as the resident gave them.
fn answers_kept(html: &str) {
    let survey = livability();
    for (question, value) in valid_answers(&survey) {
        match survey.question(&question).map(|q| &q.kind) {
            Some(civicpulse::survey::QuestionKind::Text { .. }) => assert!(
                html.contains(&format!("{}</textarea>", escaped(&value))),
                "the text of {question} is kept"
            ),
            _ => assert!(
                is_checked(html, &format!("q-{question}-{value}")),
                "{question} = {value} is kept"
            ),
        }
    }
}

/// The resident's side of a database that is down or full: the form comes
/// back (503, Retry-After) with their answers, the same tokens (so
/// sending it again stores it once) and, in their language, that nothing
/// was saved and to send it again.
fn handed_back(reply: &server::Reply, page: &helpers::FormPage, lang: Lang) {
    assert_eq!(reply.status, 503, "{}", reply.html);
    assert!(reply.retry_after.is_some(), "Retry-After");
    let messages = civicpulse::web::i18n::Messages::load().unwrap();
    let said = escaped(&messages.text(lang, "err_not_saved", &[]));
    assert!(reply.html.contains(&said), "{lang:?}: {said}\n{}", reply.html);
    assert!(
        reply.html.contains(&format!("<html lang=\"{}\"", lang.html_lang())),
        "a page in {lang:?}"
    );
    answers_kept(&reply.html);
    assert_eq!(helpers::hidden_value(&reply.html, "_form"), page.form_token);
    assert_eq!(helpers::hidden_value(&reply.html, "_csrf"), page.csrf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_away_mid_run_hands_answers_back_and_recovers_without_a_restart() {
    let Some(pg) = reachable_server("postgresql_going_away_mid_run") else {
        return;
    };
    let database = PgDatabase::new(&pg);
    let upstream = {
        let authority = pg.split_once("://").unwrap().1;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host_port = &host_port[..host_port.find('/').unwrap_or(host_port.len())];
        std::net::ToSocketAddrs::to_socket_addrs(host_port)
            .unwrap()
            .next()
            .unwrap()
    };
    let proxy = proxy::Proxy::start(upstream);
    // Through the proxy, with a password the log must never show (trust
    // authentication does not ask for it).
    let name = &database.url[database.url.rfind('/').unwrap() + 1..];
    let url = format!("postgres://postgres:s3cret-pw@127.0.0.1:{}/{name}", proxy.port);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("civicpulse.key");
    let server = Server::start(&serve_args(&url, &key, &["--db-timeout", "2"]));

    // Residents keep submitting throughout; one whose answers come back
    // sends them again until thanked, as the page asks.
    let stop = Arc::new(AtomicBool::new(false));
    let thanked = Arc::new(AtomicUsize::new(0));
    let address = server.address.clone();
    let (s, t) = (stop.clone(), thanked.clone());
    let residents = tokio::spawn(async move { load_counting(&address, 4, s, true, t).await });
    let start = Instant::now();
    while thanked.load(Ordering::Relaxed) < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no submissions:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let korean = Resident::new(&server.address);
    let page = korean.form("ko").await.unwrap();
    let answers = complete(&page, "ko");

    proxy.cut();
    let reply = korean.send(&answers).await.unwrap();
    handed_back(&reply, &page, Lang::Ko);
    // Someone opening the survey now is told to come back.
    let (status, retry_after, html) = Resident::new(&server.address).open("zh").await.unwrap();
    assert_eq!(status, 503, "{html}");
    assert!(retry_after.is_some());
    let messages = civicpulse::web::i18n::Messages::load().unwrap();
    assert!(
        html.contains(&escaped(&messages.text(Lang::Zh, "unavailable_message", &[]))),
        "{html}"
    );
    // A resident thanked just before the cut still reads the thank-you
    // page (without the day the results come out, which is in the database).
    let (status, html) = korean.get("/s/livability/thanks?lang=ko").await.unwrap();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&escaped(livability().thanks.get(Lang::Ko))), "{html}");
    server.wait_for_log(&["thank-you page", "without the results' day"], Duration::from_secs(5));
    // The operator's log says what happened, in one line each, and never
    // the password.
    let masked = format!("postgres://postgres:***@127.0.0.1:{}/{name}", proxy.port);
    for words in [
        &["was not stored", "the database is unreachable", &masked][..],
        &["page not served", "the database is unreachable", &masked],
        &["connection to the database", "failed", &masked],
    ] {
        eprintln!(
            "PostgreSQL cut, the operator reads: {}",
            server.wait_for_log(words, Duration::from_secs(5))
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.restore();
    let restored = Instant::now();
    let mut tries = 1;
    let reply = loop {
        let reply = korean.send(&answers).await.unwrap();
        if reply.status != 503 || restored.elapsed() > Duration::from_secs(15) {
            break reply;
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        reply.status, 303,
        "the same form, sent again, is stored:\n{}",
        reply.html
    );
    assert_eq!(reply.location.as_deref(), Some("/s/livability/thanks?lang=ko"));
    eprintln!(
        "PostgreSQL back: the handed-back form was stored {:?} later, at try {tries}",
        restored.elapsed()
    );
    let back = server.wait_for_log(&["connected to the database", &masked, "again"], Duration::from_secs(5));
    eprintln!("PostgreSQL back, the operator reads: {back}");

    stop.store(true, Ordering::Relaxed);
    let outcomes = residents.await.unwrap();
    assert!(!server.log().contains("s3cret"), "the password is never logged");
    // Every resident was thanked in the end: nothing lost, nothing twice.
    assert_eq!(outcomes.sent.len(), outcomes.thanked.len());
    let mut sent = outcomes.sent.clone();
    sent.push(page.form_token.clone());
    let mut thanked = outcomes.thanked.clone();
    thanked.push(page.form_token.clone());
    let stored = check_stored(&DatabaseUrl::Postgres(database.url.clone()), &sent, &thanked);
    assert_eq!(stored, sent.len());
    eprintln!(
        "PostgreSQL cut: {} forms, {} handed back during the cut and sent again, all stored once",
        sent.len(),
        outcomes.handed_back
    );
}

/// A tmpfs of its own, unmounted when dropped; `None`, with a message,
/// where mounting is not permitted.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", path.to_str().unwrap()])
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs {
                path: path.to_path_buf(),
            }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}"), self.path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_hands_answers_back_and_the_server_works_again_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "size=16m") else {
        return;
    };
    let db = disk.path.join("civicpulse.db");
    let key = disk.path.join("civicpulse.key");
    let url = DatabaseUrl::Sqlite(db.clone());
    let server = Server::start(&serve_args(db.to_str().unwrap(), &key, &["--db-timeout", "2"]));
    let first = Resident::new(&server.address);
    let page = first.form("en").await.unwrap();
    assert_eq!(first.send(&complete(&page, "en")).await.unwrap().status, 303);
    let mut sent = vec![page.form_token.clone()];

    // Empty the WAL into the database file, so the next commit must grow
    // a file, then fill the disk.
    {
        use diesel::connection::SimpleConnection;
        let mut conn = civicpulse::db::raw_connection(&url).unwrap();
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    }
    let filler = disk.path.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }

    let resident = Resident::new(&server.address);
    let page = resident.form("zh").await.unwrap();
    let answers = complete(&page, "zh");
    let reply = resident.send(&answers).await.unwrap();
    handed_back(&reply, &page, Lang::Zh);
    let logged = server.wait_for_log(
        &["was not stored", "the disk of the database is full", &url.to_string()],
        Duration::from_secs(5),
    );
    eprintln!("disk full, the operator reads: {logged}");
    check_stored(&url, &sent, &sent);

    std::fs::remove_file(&filler).unwrap();
    let reply = resident.send(&answers).await.unwrap();
    assert_eq!(reply.status, 303, "stored once there is room:\n{}", reply.html);
    sent.push(page.form_token.clone());
    assert_eq!(check_stored(&url, &sent, &sent), 2);
    drop(server);
}
