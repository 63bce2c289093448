//! How many complete resident submissions the release server stores per
//! second, durably, with many residents sending at once (`cargo bench
//! --bench submit_load`), on SQLite and on PostgreSQL.
//!
//! For each backend:
//!
//! 1. A fresh database: an SQLite file in `target/bench-data/`, or a
//!    PostgreSQL database of its own (created, and dropped afterwards).
//! 2. `civicpulse serve` (the bench profile's binary, built like
//!    `--release`) on a free port, with the rate limits lifted and its
//!    default logging (to a file).
//! 3. Untimed: each of the connections GETs the built-in survey's form
//!    (`/s/livability?lang=en`) until it holds its share of real form
//!    tokens, bound to its own `cp_csrf` cookie.
//! 4. Timed: every connection (one keep-alive HTTP/1.1 connection each)
//!    POSTs complete one-shot submissions back to back, each with a form
//!    token of its own and answers drawn at random (as residents' differ),
//!    until the time is up; requests under way then finish. A submission
//!    counts as acknowledged only when it is answered with a 303 to the
//!    thank-you page that is not `again=1`; its latency is from sending
//!    the request to the end of the response.
//! 5. Afterwards the database is read directly: every acknowledged form
//!    token must be stored exactly once with all its answer rows, and
//!    nothing else stored.
//!
//! Reports acknowledged submissions per second, p50/p99/max latency,
//! and what else came back. Settings (environment):
//!
//! - `CIVICPULSE_BENCH_BACKENDS`: `sqlite`, `postgres` or both
//!   (default `sqlite,postgres`; PostgreSQL is skipped with a message
//!   when it does not answer);
//! - `CIVICPULSE_BENCH_POSTGRES`: a PostgreSQL server URL (default
//!   `postgres://postgres@127.0.0.1:5432/test`; the benchmark's database
//!   is made beside that one);
//! - `CIVICPULSE_BENCH_CONNECTIONS` (default 64), `CIVICPULSE_BENCH_SECONDS`
//!   (default 15), `CIVICPULSE_BENCH_TOKENS` (form tokens prepared,
//!   default 75,000: enough for 5,000/s over 15 s; a connection that runs
//!   out stops early, and the report says so);
//! - `CIVICPULSE_BENCH_POOL_SIZE`: the server's `--pool-size` (default:
//!   the server's own);
//! - `CIVICPULSE_BENCH_WORKERS`: the server's `--workers` (default: the
//!   server's own, one per core);
//! - `CIVICPULSE_BENCH_BINARY`: another `civicpulse` binary to serve with
//!   (another build, to compare against), instead of this build's.
//!
//! The load comes from this process, on the same machine as the server
//! (and PostgreSQL): on a small machine they share its cores, so the
//! figures are a floor for a server of its own.

mod common;

use common::bench_dir;
use diesel::{Connection, RunQueryDsl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SURVEY: &str = "livability";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Where one run's data live.
enum Store {
    Sqlite(PathBuf),
    /// The server's admin URL, the database's name and its URL.
    Postgres {
        admin: String,
        name: String,
        url: String,
    },
}

impl Store {
    fn url(&self) -> String {
        match self {
            Store::Sqlite(path) => path.display().to_string(),
            Store::Postgres { url, .. } => url.clone(),
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "SQLite",
            Store::Postgres { .. } => "PostgreSQL",
        }
    }

    /// A fresh, empty database; `None` when PostgreSQL does not answer.
    fn fresh(backend: &str, dir: &Path) -> Option<Store> {
        let _ = std::fs::remove_file(dir.join("submit-load.key"));
        match backend {
            "sqlite" => {
                let path = dir.join("submit-load.db");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Some(Store::Sqlite(path))
            }
            "postgres" => {
                let admin = std::env::var("CIVICPULSE_BENCH_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
                let mut conn = match diesel::PgConnection::establish(&admin) {
                    Ok(conn) => conn,
                    Err(e) => {
                        println!("PostgreSQL: skipped, {admin} does not answer ({e})");
                        return None;
                    }
                };
                let name = "bench_submit_load".to_string();
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .unwrap();
                let url = with_database(&admin, &name);
                Some(Store::Postgres { admin, name, url })
            }
            other => panic!("CIVICPULSE_BENCH_BACKENDS: unknown backend {other:?} (sqlite or postgres)"),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres { admin, name, .. } = self {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
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

/// The release server, on a free port, stopped when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(dir: &Path, store: &Store) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--database".into(),
            store.url(),
            "--key-file".into(),
            dir.join("submit-load.key").display().to_string(),
        ];
        for action in ["submit", "code", "save", "resume", "signin", "api"] {
            args.push("--rate-limit".into());
            args.push(format!("{action}=100000000/h"));
        }
        if let Some(size) = std::env::var("CIVICPULSE_BENCH_POOL_SIZE")
            .ok()
            .filter(|s| !s.is_empty())
        {
            args.extend(["--pool-size".into(), size]);
        }
        if let Some(workers) = std::env::var("CIVICPULSE_BENCH_WORKERS").ok().filter(|s| !s.is_empty()) {
            args.extend(["--workers".into(), workers]);
        }
        let log = dir.join("submit-load-server.log");
        let binary = std::env::var("CIVICPULSE_BENCH_BINARY")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_civicpulse").to_string());
        let child = Command::new(binary)
            .args(&args)
            .current_dir(dir)
            // The server's own default logging (a line per stored
            // response), as in production, but to a file.
            .env_remove("RUST_LOG")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("civicpulse serve runs");
        Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_until_up(&mut self) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client.get(format!("{}/health", self.address)).send().await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited: {status} (see target/bench-data/submit-load-server.log)");
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One connection's browser: its CSRF cookie and the form tokens it holds.
struct Resident {
    client: reqwest::Client,
    csrf: String,
    lang: String,
    version: String,
    tokens: Vec<String>,
}

/// The value of `<input type="hidden" name="NAME" value="...">`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..=end];
    let from = tag.find(" value=\"")? + " value=\"".len();
    let to = from + tag[from..].find('"')?;
    Some(tag[from..to].to_string())
}

/// A client of one keep-alive connection that follows no redirects.
fn one_connection() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GET the form `count` times with one cookie; the tokens it hands out.
async fn prepare(address: String, count: usize) -> Resident {
    let client = one_connection();
    let url = format!("{address}/s/{SURVEY}?lang=en");
    let mut csrf: Option<String> = None;
    let mut resident = None;
    let mut tokens = Vec::with_capacity(count);
    while tokens.len() < count {
        let mut request = client.get(&url);
        if let Some(csrf) = &csrf {
            request = request.header("cookie", format!("cp_csrf={csrf}"));
        }
        let response = request.send().await.expect("GET the form");
        assert_eq!(response.status(), 200, "GET {url}");
        let html = response.text().await.unwrap();
        let field = |name| hidden_value(&html, name).unwrap_or_else(|| panic!("the form has no {name}"));
        let page_csrf = field("_csrf");
        // The server keeps a valid cookie's CSRF token; the first page
        // sets the cookie, and every later token is bound to it.
        csrf.get_or_insert_with(|| page_csrf.clone());
        assert_eq!(csrf.as_deref(), Some(page_csrf.as_str()), "the CSRF cookie is kept");
        if resident.is_none() {
            resident = Some((field("_lang"), field("_v")));
        }
        tokens.push(field("_form"));
    }
    let (lang, version) = resident.expect("at least one form");
    Resident {
        client,
        csrf: csrf.unwrap(),
        lang,
        version,
        tokens,
    }
}

/// A complete answer set drawn at random: one option of every question
/// residents see (a local resident, so no follow-up question), and a
/// suggestion. Every pair is one stored answer row.
fn random_answers(survey: &civicpulse::survey::Survey, rng: &mut StdRng) -> Vec<(String, String)> {
    use civicpulse::survey::QuestionKind;
    let mut pairs = Vec::new();
    for q in &survey.questions {
        if q.show_if.is_some() {
            continue;
        }
        let id = q.id.to_string();
        match &q.kind {
            QuestionKind::Text { .. } => pairs.push((id, format!("更多公园 {}", rng.random_range(0..1000)))),
            kind if id == "resident_type" => {
                assert!(kind.options().iter().any(|o| o.value.as_str() == "local"));
                pairs.push((id, "local".into()));
            }
            kind => {
                let options = kind.options();
                pairs.push((
                    id,
                    options[rng.random_range(0..options.len())].value.as_str().to_string(),
                ));
            }
        }
    }
    pairs
}

fn encode(pairs: &[(String, String)]) -> String {
    fn percent(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    /// Acknowledged: form token, answer rows sent, latency.
    stored: Vec<(String, usize, Duration)>,
    /// Every other answer, by status (and `303 again` for a duplicate).
    other: HashMap<String, usize>,
    ran_out: bool,
}

async fn submit_until(
    address: Arc<String>,
    mut resident: Resident,
    survey: Arc<civicpulse::survey::Survey>,
    deadline: Instant,
    seed: u64,
) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let url = format!("{address}/s/{SURVEY}");
    let cookie = format!("cp_csrf={}", resident.csrf);
    let thanks = format!("/s/{SURVEY}/thanks?lang={}", resident.lang);
    while Instant::now() < deadline {
        let Some(token) = resident.tokens.pop() else {
            tally.ran_out = true;
            break;
        };
        let answers = random_answers(&survey, &mut rng);
        let mut pairs = vec![
            ("_csrf".to_string(), resident.csrf.clone()),
            ("_form".to_string(), token.clone()),
            ("_lang".to_string(), resident.lang.clone()),
            ("_v".to_string(), resident.version.clone()),
        ];
        pairs.extend_from_slice(&answers);
        let body = encode(&pairs);
        let started = Instant::now();
        let response = resident
            .client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
            .body(body)
            .send()
            .await;
        let outcome = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string);
                let _ = response.bytes().await;
                match (status, location) {
                    (303, Some(l)) if l == thanks => Ok(()),
                    (303, Some(l)) if l.contains("again=1") => Err("303 again".to_string()),
                    (status, _) => Err(status.to_string()),
                }
            }
            Err(e) => Err(format!("error: {e}")),
        };
        let elapsed = started.elapsed();
        match outcome {
            Ok(()) => tally.stored.push((token, answers.len(), elapsed)),
            Err(what) => *tally.other.entry(what).or_default() += 1,
        }
    }
    tally
}

/// Form token → answer rows, of every stored web response.
fn stored_rows(url: &str) -> HashMap<String, (i64, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        form_token: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        responses: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        answers: i64,
    }
    // Grouped by token, so that a token stored twice would show up (the
    // schema forbids it; the benchmark checks rather than trusts).
    let query =
        "SELECT r.form_token AS form_token, COUNT(DISTINCT r.id) AS responses, COUNT(a.response_id) AS answers \
                 FROM responses r LEFT JOIN answers a ON a.response_id = r.id \
                 WHERE r.survey_slug = 'livability' AND r.form_token IS NOT NULL GROUP BY r.form_token";
    let rows: Vec<Row> = if url.starts_with("postgres") {
        let mut conn = diesel::PgConnection::establish(url).unwrap();
        diesel::sql_query(query).load(&mut conn).unwrap()
    } else {
        let mut conn = diesel::SqliteConnection::establish(url).unwrap();
        diesel::sql_query(query).load(&mut conn).unwrap()
    };
    rows.into_iter()
        .map(|r| (r.form_token, (r.responses, r.answers)))
        .collect()
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn run(backend: &str, runtime: &tokio::runtime::Runtime) {
    let connections = env_number("CIVICPULSE_BENCH_CONNECTIONS", 64).max(1);
    let seconds = env_number("CIVICPULSE_BENCH_SECONDS", 15).max(1);
    let tokens = env_number("CIVICPULSE_BENCH_TOKENS", 75_000).max(connections);
    let dir = bench_dir();
    let Some(store) = Store::fresh(backend, &dir) else {
        return;
    };
    let mut server = Server::start(&dir, &store);
    runtime.block_on(server.wait_until_up());
    let address = Arc::new(server.address.clone());

    let started = Instant::now();
    let residents: Vec<Resident> = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|i| {
                let share = tokens / connections + usize::from(i < tokens % connections);
                tokio::spawn(prepare(address.to_string(), share))
            })
            .collect();
        let mut residents = Vec::with_capacity(tasks.len());
        for task in tasks {
            residents.push(task.await.unwrap());
        }
        residents
    });
    println!(
        "{}: {tokens} form tokens for {connections} connections prepared in {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64()
    );
    let version: u32 = residents[0].version.parse().expect("_v is a number");
    let survey = Arc::new(
        civicpulse::survey::builtin_definitions()
            .into_iter()
            .find(|s| s.slug.as_str() == SURVEY && s.version == version)
            .expect("the form's version is a built-in one"),
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds as u64);
    let tallies: Vec<Tally> = runtime.block_on(async {
        let tasks: Vec<_> = residents
            .into_iter()
            .enumerate()
            .map(|(i, resident)| {
                tokio::spawn(submit_until(
                    address.clone(),
                    resident,
                    survey.clone(),
                    deadline,
                    20261212 + i as u64,
                ))
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.unwrap());
        }
        tallies
    });
    let elapsed = started.elapsed().as_secs_f64();

    let mut latencies: Vec<Duration> = tallies.iter().flat_map(|t| t.stored.iter().map(|s| s.2)).collect();
    latencies.sort();
    let acknowledged = latencies.len();
    let mut other: HashMap<&str, usize> = HashMap::new();
    for tally in &tallies {
        for (what, n) in &tally.other {
            *other.entry(what.as_str()).or_default() += n;
        }
    }
    let ran_out = tallies.iter().filter(|t| t.ran_out).count();
    println!(
        "{}: {acknowledged} submissions acknowledged in {elapsed:.1} s = {:.0}/s at {connections} connections; \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        store.backend(),
        acknowledged as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    if !other.is_empty() {
        println!("    not acknowledged: {other:?}");
    }
    if ran_out > 0 {
        println!("    {ran_out} connection(s) ran out of form tokens before the end (CIVICPULSE_BENCH_TOKENS)");
    }

    // Every acknowledged submission stored exactly once, with every
    // answer; nothing stored that was not acknowledged.
    let stored = stored_rows(&store.url());
    drop(server);
    let mut problems = Vec::new();
    let mut acknowledged_tokens = HashSet::with_capacity(acknowledged);
    for (token, answers, _) in tallies.iter().flat_map(|t| &t.stored) {
        acknowledged_tokens.insert(token.as_str());
        match stored.get(token) {
            Some(&(1, n)) if n == *answers as i64 => {}
            Some(&(responses, n)) => problems.push(format!(
                "token {token}: {responses} response(s) with {n} answer rows (sent {answers})"
            )),
            None => problems.push(format!("token {token}: acknowledged but not stored")),
        }
    }
    let extra = stored
        .keys()
        .filter(|t| !acknowledged_tokens.contains(t.as_str()))
        .count();
    if extra > 0 {
        problems.push(format!("{extra} stored response(s) that were never acknowledged"));
    }
    if problems.is_empty() {
        println!(
            "    verified in the database: {} responses, each acknowledged one stored exactly once with all its answers",
            stored.len()
        );
    } else {
        for problem in problems.iter().take(10) {
            println!("    PROBLEM: {problem}");
        }
        panic!("{} problem(s) in what was stored", problems.len());
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let backends = std::env::var("CIVICPULSE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    // One thread of load: the server (and PostgreSQL) keep the rest.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        run(backend, &runtime);
    }
}
