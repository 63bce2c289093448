//! Browser scenarios in Debian's Chromium, driven by Node's playwright-core
//! (`tests/browser/`), against the real `civicpulse` binary on a real SQLite
//! file. Each test starts its own server and runs one suite of scenarios;
//! the suites print one line per scenario, and ask for a server restart
//! (same database, key file and port) with `@@restart`.
//!
//! Without Chromium, node or `tests/browser/node_modules` the tests say so
//! and pass, unless `CIVICPULSE_BROWSER_TESTS=require` (as `.ci/run` sets),
//! when a missing tool fails them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The password of the staff accounts the suites sign in with.
const STAFF_PASSWORD: &str = "correct horse battery 42";

/// How long one suite may run before its node process is stopped: the
/// longest (resident) takes about two minutes with another suite beside it
/// on two cores; each scenario also has its own limit (90 s, lib.mjs).
const SUITE_TIMEOUT: Duration = Duration::from_secs(210);

struct Tools {
    node: PathBuf,
    chromium: PathBuf,
    dir: PathBuf,
}

/// The tools the scenarios need, or `None` (after saying why) when one is
/// missing and the browser tests are not required.
fn tools() -> Option<Tools> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let node = PathBuf::from(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
    let mut missing = Vec::new();
    if !chromium.is_file() {
        missing.push(format!("{} not found", chromium.display()));
    }
    let node_runs = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_runs {
        missing.push("node not found".to_string());
    }
    for module in ["playwright-core", "axe-core"] {
        if !dir.join("node_modules").join(module).join("package.json").is_file() {
            missing.push(format!(
                "tests/browser/node_modules/{module} missing (npm ci in tests/browser)"
            ));
            break;
        }
    }
    if missing.is_empty() {
        return Some(Tools { node, chromium, dir });
    }
    let why = missing.join(", ");
    if std::env::var("CIVICPULSE_BROWSER_TESTS").as_deref() == Ok("require") {
        panic!("browser tests required (CIVICPULSE_BROWSER_TESTS=require) but {why}");
    }
    // Straight to stderr, past the test harness's capture: a skipped
    // browser run must be visible in a plain `cargo test`.
    let _ = writeln!(
        std::io::stderr(),
        "browser tests skipped: {why} — .ci/run installs them (see README, \"Browser tests\")"
    );
    None
}

/// The real server binary on a database in a temporary folder; stopped
/// (SIGKILL) on drop.
struct Server {
    dir: tempfile::TempDir,
    db: PathBuf,
    key: PathBuf,
    port: u16,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn new() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("browser.db");
        let key = dir.path().join("browser.key");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Server {
            dir,
            db,
            key,
            port,
            child: None,
            log: Arc::default(),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
        command
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.db)
            .env("CIVICPULSE_KEY_FILE", &self.key)
            .env("RUST_LOG", "warn");
        command
    }

    /// `civicpulse ARGS` on this server's database; its standard output.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("civicpulse runs");
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "civicpulse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "server already running");
        // Right after a stop the port may still be held for a moment.
        for attempt in 0..20 {
            let mut child = self
                .command()
                .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
                // Why a request was refused is logged at info; a failing
                // scenario prints the tail.
                .env("RUST_LOG", "info,actix_server=warn")
                .args(["--workers", "2"])
                // Every browser is 127.0.0.1: lift the per-client limits.
                .args(["--rate-limit", "submit=1000000/h", "--rate-limit", "code=1000000/h"])
                .args(["--rate-limit", "signin=1000000/h", "--rate-limit", "api=1000000/h"])
                .args(["--rate-limit", "save=1000000/h", "--rate-limit", "resume=1000000/h"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("server starts");
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            let mut listening = false;
            let mut seen = Vec::new();
            for line in lines.by_ref() {
                let line = line.unwrap_or_default();
                if line.contains("listening on") {
                    listening = true;
                    break;
                }
                seen.push(line);
            }
            if listening {
                let log = Arc::clone(&self.log);
                std::thread::spawn(move || {
                    for line in lines.map_while(Result::ok) {
                        log.lock().unwrap().push(line);
                    }
                });
                self.child = Some(child);
                return;
            }
            let _ = child.wait();
            assert!(attempt < 19, "server did not start: {}", seen.join("\n"));
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A wave that takes both invitation codes and the open link, open from
/// yesterday for a month, with a frame; returns one unused invitation code.
fn set_up_invitation_wave(server: &Server) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let year = today.year().to_string();
    let opens = (today - time::Duration::days(1)).to_string();
    let closes = (today + time::Duration::days(30)).to_string();
    server.cli(
        &[
            "wave",
            "set",
            "livability",
            "--wave",
            &year,
            "--access",
            "both",
            "--opens",
            &opens,
            "--closes",
            &closes,
            "--helpline",
            "12345 (8:30-17:30)",
        ],
        None,
    );
    let frame = server.dir.path().join("frame.csv");
    let strata = [
        "huancui",
        "wendeng",
        "rongcheng",
        "rushan",
        "gaoqu",
        "jingqu",
        "lingang",
        "nanhai",
    ];
    let csv: String = std::iter::once("stratum,population\n".to_string())
        .chain(strata.iter().map(|s| format!("{s},1000\n")))
        .collect();
    std::fs::write(&frame, csv).unwrap();
    server.cli(
        &["frame", "set", "livability", "--wave", &year, frame.to_str().unwrap()],
        None,
    );
    let letters = server.dir.path().join("letters");
    std::fs::create_dir_all(&letters).unwrap();
    server.cli(
        &[
            "invitations",
            "create",
            "livability",
            "--wave",
            &year,
            "--stratum",
            "huancui",
            "--count",
            "3",
            "--lang",
            "en",
            "--out-dir",
            letters.to_str().unwrap(),
        ],
        None,
    );
    let csv = std::fs::read_dir(&letters)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("the codes' CSV");
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .nth(1)
        .expect("a code")
        .split(',')
        .next()
        .unwrap()
        .to_string()
}

fn add_staff(server: &Server) {
    for (name, role) in [("ada", "admin"), ("dana", "designer")] {
        server.cli(
            &["user", "add", name, "--role", role],
            Some(&format!("{STAFF_PASSWORD}\n")),
        );
    }
}

/// Runs `node run.mjs SUITE` against `server` (already started), serving
/// its restart requests; panics with the failed scenarios' output.
fn run_suite(tools: &Tools, server: &mut Server, suite: &str, extra_env: &[(&str, &str)]) {
    // One suite at a time: each already runs its scenarios side by side
    // (BROWSER_JOBS), and seven suites of Chromium pages at once on two
    // cores left scenarios waiting past their time limits.
    static ONE_SUITE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_SUITE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let mut node = Command::new(&tools.node);
    node.arg("run.mjs")
        .arg(suite)
        .current_dir(&tools.dir)
        .env("BASE_URL", server.base())
        .env("CHROMIUM", &tools.chromium)
        .env("CIVICPULSE_BIN", env!("CARGO_BIN_EXE_civicpulse"))
        .env("CIVICPULSE_DB", &server.db)
        .env("CIVICPULSE_KEY_FILE", &server.key)
        .env("STAFF_PASSWORD", STAFF_PASSWORD)
        .env("SUITE_TIMEOUT_MS", SUITE_TIMEOUT.as_millis().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        node.env(k, v);
    }
    let mut child = node.spawn().expect("node starts");
    let stderr = child.stderr.take().unwrap();
    let node_err = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut stdin: ChildStdin = child.stdin.take().unwrap();
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut summary_seen = false;
    let mut current_failure: Option<usize> = None;
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        eprintln!("[{suite}] {line}");
        if line.starts_with("@@restart") {
            server.stop();
            server.start();
            writeln!(stdin, "@@ready {}", server.base()).expect("node reads the restart answer");
            current_failure = None;
        } else if let Some(rest) = line.strip_prefix("@@fail ") {
            failures.push(rest.to_string());
            current_failure = Some(failures.len() - 1);
        } else if line.starts_with("@@pass ") {
            passed += 1;
            current_failure = None;
        } else if line.starts_with("@@summary") {
            summary_seen = true;
            current_failure = None;
        } else if line.starts_with("@@") {
            current_failure = None;
        } else if let Some(i) = current_failure {
            failures[i].push('\n');
            failures[i].push_str(&line);
        }
    }
    drop(stdin);
    let status = child.wait().expect("node ends");
    let node_stderr = node_err.join().unwrap();
    eprintln!(
        "[{suite}] {passed} passed, {} failed in {:.0} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if !status.success() || !failures.is_empty() || !summary_seen {
        let server_log = server.log.lock().unwrap().join("\n");
        panic!(
            "browser suite {suite}: {} scenario(s) failed (exit {status}):\n\n{}\n\nnode stderr:\n{node_stderr}\nserver log (tail):\n{}",
            failures.len(),
            failures.join("\n\n"),
            server_log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"),
        );
    }
    assert!(passed > 0, "browser suite {suite} ran no scenario");
}

/// The whole survey by tapping and by keyboard, at phone and desktop size
/// in zh, en and ko; errors shown and fixed; a language switch; skip
/// logic; Chinese and Korean typed through input and composition events;
/// JavaScript off. Every completed survey is checked in `civicpulse export`.
#[test]
fn residents_complete_the_survey_in_chromium() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    server.start();
    run_suite(&tools, &mut server, "resident", &[]);
}

/// Back, reload, and closing the tab then coming back after a server
/// restart keep every answer, the counter and the skip logic.
#[test]
fn answers_survive_back_reload_and_a_server_restart() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    server.start();
    run_suite(&tools, &mut server, "resume", &[]);
}

/// axe-core on every resident page in every language (start page of an
/// invitation wave, form, error states, thank-you, not found).
#[test]
fn resident_pages_pass_axe() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    let code = set_up_invitation_wave(&server);
    server.start();
    run_suite(&tools, &mut server, "a11y", &[("INVITE_CODE", &code)]);
}

/// axe-core on the staff pages, signed in as a designer and an admin,
/// with a draft that lacks a Korean text.
#[test]
fn staff_pages_pass_axe() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    set_up_invitation_wave(&server);
    add_staff(&server);
    server.start();
    run_suite(&tools, &mut server, "staff", &[]);
}

/// The dashboard and the yearly report on two imported interview waves:
/// axe in every language on a desktop and a phone, and the report printed
/// to PDF with its pages and figures.
#[test]
fn dashboard_and_report_in_chromium() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    for (wave, file) in [("2025", "wave2025.csv"), ("2026", "wave2026.csv")] {
        let path = format!("{}/tests/reference/report/{file}", env!("CARGO_MANIFEST_DIR"));
        server.cli(&["import", "livability", &path, "--wave", wave], None);
    }
    add_staff(&server);
    server.start();
    run_suite(&tools, &mut server, "dashboard", &[]);
}

/// 200% text at 390 and 320 px: no page scrolls sideways and every
/// language button stays on screen.
#[test]
fn pages_hold_at_200_percent_text() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    let code = set_up_invitation_wave(&server);
    server.start();
    run_suite(&tools, &mut server, "large-text", &[("INVITE_CODE", &code)]);
}

/// Each resident page is under 30 KB over the wire, CSS and JS included,
/// and asks nothing of any other origin.
#[test]
fn resident_pages_are_light_and_first_party() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    let code = set_up_invitation_wave(&server);
    server.start();
    run_suite(&tools, &mut server, "weight", &[("INVITE_CODE", &code)]);
}

/// Script and markup payloads in every text of a survey pasted on the
/// designer's page (all three languages; a scale's name; ids, which are
/// refused) and in residents' answers, an import batch's name, the
/// helpline and query strings: every resident, designer, admin, dashboard
/// and report page, with and without the CSP, and the downloads (charts,
/// tables, the export archive, letters and reports as saved files) show
/// them as text, and no script runs.
#[test]
fn xss_payloads_stay_text_on_every_page() {
    let Some(tools) = tools() else { return };
    let mut server = Server::new();
    add_staff(&server);
    server.start();
    run_suite(&tools, &mut server, "xss", &[]);
}
