//! What a dashboard page costs at city scale (`cargo bench --bench
//! dashboard`), through the release server as a browser or an API client
//! meets it.
//!
//! 1. Builds once, in `target/bench-data/`, a database with wave 2025 of
//!    5,000 imported interviews and wave 2026 of 1,000,000 (the data of
//!    `benches/indices.rs`), with margins for both, an API token and a
//!    statistician account.
//! 2. Times `Database::data_generation` at that size (what every request
//!    checks before it is served a kept result), beside the aggregate a
//!    counter-free design would need (COUNT and MAX over the wave).
//! 3. For each URL: three times, starts `civicpulse serve` afresh (nothing
//!    kept), signs in as the statistician and times the first request
//!    (cold: computed); then 50 more on the last server (warm: kept).
//!    Reports the cold median and maximum, the warm p50 and p95, and the
//!    server's own account of where the last cold request's time went
//!    (loading the wave, design, scores, estimates).
//!
//! URLs are paths on the server, separated by whitespace, in
//! `CIVICPULSE_BENCH_URLS` (default: the dashboard page and report of 2026,
//! the API's indices of 2026 by district and the comparison of 2025 with
//! 2026). Paths under `/api/` carry the API
//! token; every request carries the statistician's session cookie, so a
//! dashboard page is measured by adding its path:
//!
//! ```text
//! CIVICPULSE_BENCH_URLS="/dashboard/livability?wave=2026 /api/v1/surveys/livability/indices?wave=2026&by=district" \
//!     cargo bench --bench dashboard
//! ```
//!
//! `CIVICPULSE_BENCH_ROWS` (default 1000000) and
//! `CIVICPULSE_BENCH_EARLIER_ROWS` (default 5000) change the waves' sizes,
//! `CIVICPULSE_BENCH_REQUESTS` (default 50) the warm requests per URL,
//! `CIVICPULSE_BENCH_COLD_RUNS` (default 3) the cold ones.
//! "Cold" is the server's: the database file is in the OS page cache after
//! the first run, as it is on a server in use.

mod common;

use common::{bench_dir, write_data};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "bench.statistician";
const PASSWORD: &str = "bench statistician 42";
const DEFAULT_URLS: &str = "/dashboard/livability?wave=2026&lang=en \
                            /dashboard/livability/report?wave=2026&lang=en \
                            /api/v1/surveys/livability/indices?wave=2026&by=district \
                            /api/v1/surveys/livability/compare?from=2025&to=2026";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Run the binary to completion in `dir`, with `stdin` piped in; its output.
fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("civicpulse runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            writeln!(input, "{text}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "civicpulse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The SQLite file and its companions, renamed together.
fn move_database(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let (a, b) = (
            PathBuf::from(format!("{}{suffix}", from.display())),
            PathBuf::from(format!("{}{suffix}", to.display())),
        );
        if a.exists() {
            std::fs::rename(a, b).unwrap();
        }
    }
}

/// The benchmark's database, built once: (its path, the API token).
fn database(dir: &Path, earlier: usize, later: usize) -> (PathBuf, String) {
    let db = dir.join(format!("dashboard-{earlier}-{later}.db"));
    let token_file = db.with_extension("token");
    if db.exists() && token_file.exists() {
        return (db, std::fs::read_to_string(token_file).unwrap().trim().to_string());
    }
    let partial = dir.join(format!("dashboard-{earlier}-{later}-partial.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let db_arg = partial.to_str().unwrap();
    for (wave, rows) in [("2025", earlier), ("2026", later)] {
        let csv = write_data(dir, rows);
        let started = Instant::now();
        run(
            dir,
            &[
                "import",
                "livability",
                csv.to_str().unwrap(),
                "--wave",
                wave,
                "--database",
                db_arg,
            ],
            None,
        );
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "import of wave {wave}: {rows} rows in {elapsed:.1} s = {:.0} rows/s",
            rows as f64 / elapsed
        );
        run(
            dir,
            &[
                "margins",
                "set",
                "livability",
                "margins.csv",
                "--wave",
                wave,
                "--database",
                db_arg,
            ],
            None,
        );
    }
    let token = run(dir, &["token", "create", "--name", "bench", "--database", db_arg], None);
    run(
        dir,
        &["user", "add", USER, "--role", "statistician", "--database", db_arg],
        Some(PASSWORD),
    );
    move_database(&partial, &db);
    let key = partial.with_extension("key");
    if key.exists() {
        std::fs::rename(key, db.with_extension("key")).unwrap();
    }
    std::fs::write(&token_file, &token).unwrap();
    (db, token.trim().to_string())
}

/// Median and 95th percentile (nearest rank) of `times`, in ms.
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let rank = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    (rank(0.5).as_secs_f64() * 1e3, rank(0.95).as_secs_f64() * 1e3)
}

/// What each request of the wave's generation check costs, against the
/// aggregate over the wave's rows.
fn generation_cost(db: &Path) {
    use diesel::{Connection, RunQueryDsl};
    let database = civicpulse::db::Database::open(&civicpulse::db::DatabaseUrl::Sqlite(db.to_path_buf())).unwrap();
    let mut times: Vec<Duration> = (0..2000)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(database.data_generation("livability").unwrap());
            started.elapsed()
        })
        .collect();
    let (p50, p95) = percentiles(&mut times);
    println!(
        "data_generation(livability): p50 {:.1} µs, p95 {:.1} µs ({})",
        p50 * 1e3,
        p95 * 1e3,
        database.data_generation("livability").unwrap()
    );
    #[derive(diesel::QueryableByName)]
    struct Aggregate {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let row: Aggregate = diesel::sql_query(
                "SELECT COUNT(*) AS n, MAX(id) AS largest FROM responses \
                 WHERE survey_slug = 'livability' AND wave = 2026",
            )
            .get_result(&mut conn)
            .unwrap();
            std::hint::black_box(row.n);
            started.elapsed()
        })
        .collect();
    let (p50, p95) = percentiles(&mut times);
    println!("for comparison, COUNT(*) and MAX(id) of wave 2026 (index-backed): p50 {p50:.1} ms, p95 {p95:.1} ms");
}

/// A release server of our own on a free port, logging the analyses.
struct Server {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, db: &Path) -> Server {
        // A port the OS says is free; the server binds it right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("dashboard-server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database",
                db.to_str().unwrap(),
            ])
            .current_dir(dir)
            .env(
                "RUST_LOG",
                "warn,civicpulse::analysis=debug,civicpulse::db::analysis=debug,civicpulse::web::analyses=info",
            )
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("civicpulse serve runs");
        Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// The server's peak resident memory so far, in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    /// What the server said about its analyses.
    fn analysis_log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                [
                    "civicpulse::analysis",
                    "civicpulse::db::analysis",
                    "civicpulse::web::analyses",
                ]
                .iter()
                .any(|target| l.contains(target))
            })
            .map(|l| l.split_once("] ").map_or(l, |(_, m)| m).to_string())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser signed in as the statistician (the session cookie), once the
/// server answers.
async fn signed_in(server: &Server) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    while client.get(format!("{}/health", server.address)).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let form = client
        .get(format!("{}/login?lang=en", server.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in form's CSRF token")
        .to_string();
    let response = client
        .post(format!("{}/login", server.address))
        .form(&[("_csrf", csrf.as_str()), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "signed in");
    client
}

/// One request; its time, after the whole body arrived.
async fn timed_get(client: &reqwest::Client, server: &Server, path: &str, token: &str) -> Duration {
    let mut request = client.get(format!("{}{path}", server.address));
    if path.starts_with("/api/") {
        request = request.bearer_auth(token);
    }
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        status.is_success(),
        "{path}: {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(500)])
    );
    elapsed
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let later = env_number("CIVICPULSE_BENCH_ROWS", 1_000_000);
    let earlier = env_number("CIVICPULSE_BENCH_EARLIER_ROWS", 5_000);
    let requests = env_number("CIVICPULSE_BENCH_REQUESTS", 50).max(1);
    let cold_runs = env_number("CIVICPULSE_BENCH_COLD_RUNS", 3).max(1);
    let urls = std::env::var("CIVICPULSE_BENCH_URLS").unwrap_or_else(|_| DEFAULT_URLS.to_string());
    let dir = bench_dir();
    let (db, token) = database(&dir, earlier, later);
    println!(
        "database: {} (wave 2025: {earlier} rows, wave 2026: {later})",
        db.display()
    );
    generation_cost(&db);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{:<64} {:>13} {:>9} {:>9} {:>10}",
        "url", "cold ms (max)", "warm p50", "warm p95", "server MiB"
    );
    for path in urls.split_whitespace() {
        // Each cold request on a fresh server; the warm ones on the last.
        let mut colds = Vec::with_capacity(cold_runs);
        let mut last = None;
        for _ in 0..cold_runs {
            let server = Server::start(&dir, &db);
            let client = runtime.block_on(signed_in(&server));
            colds.push(runtime.block_on(timed_get(&client, &server, path, &token)));
            last = Some((server, client));
        }
        let (server, client) = last.expect("at least one run");
        let mut warm: Vec<Duration> = runtime.block_on(async {
            let mut warm = Vec::with_capacity(requests);
            for _ in 0..requests {
                warm.push(timed_get(&client, &server, path, &token).await);
            }
            warm
        });
        let (p50, p95) = percentiles(&mut warm);
        let (cold, _) = percentiles(&mut colds);
        let cold_max = colds.last().expect("sorted").as_secs_f64() * 1e3;
        println!(
            "{path:<64} {:>6.0} ({cold_max:>4.0}) {p50:>9.1} {p95:>9.1} {:>10.0}",
            cold,
            server.peak_mib()
        );
        for line in server.analysis_log() {
            println!("    {line}");
        }
    }
}
