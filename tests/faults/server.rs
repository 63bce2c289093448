//! The real server as a child process, residents who use it over HTTP,
//! and what its database holds afterwards.

use crate::helpers::{encode_pairs, hidden_value, livability, valid_answers, with_tokens, FormPage};
use civicpulse::db::DatabaseUrl;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_civicpulse");

/// `civicpulse serve` on `database` with a key file, on a port of the
/// system's choosing, with no submission limit (every client here is one
/// address), and `extra` flags.
pub fn serve_args(database: &str, key: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--database",
        database,
        "--key-file",
        key.to_str().unwrap(),
        "--rate-limit",
        "submit=1000000/h",
        "--workers",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The server's process, killed with SIGKILL when dropped.
pub struct Server {
    child: Child,
    /// The civicpulse process (under strace, strace's child).
    pid: u32,
    pub address: String,
    /// What the server wrote to stderr: its log, as an operator reads it.
    log: Arc<Mutex<Vec<String>>>,
    killed: bool,
}

impl Server {
    /// Start civicpulse with `args`.
    pub fn start(args: &[String]) -> Server {
        let mut command = Command::new(BIN);
        command.args(args);
        Server::spawn(command, false)
    }

    /// Start `command`, which runs civicpulse (directly, or under a tracer
    /// when `traced`), and wait until it listens.
    pub fn spawn(mut command: Command, traced: bool) -> Server {
        command
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the server starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    let _ = listening.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        let pid = if traced { child_of(child.id()) } else { child.id() };
        Server {
            child,
            pid,
            address,
            log,
            killed: false,
        }
    }

    /// SIGKILL: no shutdown, no checkpoint, no flush of anything.
    pub fn kill(&mut self) {
        if !self.killed {
            let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).status();
            let _ = self.child.wait();
            self.killed = true;
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The log lines that contain every one of `words`.
    pub fn log_lines_with(&self, words: &[&str]) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| words.iter().all(|w| line.contains(w)))
            .cloned()
            .collect()
    }

    /// Wait (up to `limit`) for a log line with every one of `words`.
    pub fn wait_for_log(&self, words: &[&str], limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log_lines_with(words).pop() {
                return line;
            }
            assert!(
                start.elapsed() < limit,
                "no log line with {words:?} within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The one child process of `parent` (the program strace runs).
fn child_of(parent: u32) -> u32 {
    let start = Instant::now();
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            if after.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
                return pid;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {parent} has no child"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `command` to its end, killing it if it takes longer than `limit`:
/// (exit status, stderr, how long it ran).
pub fn run_to_exit(mut command: Command, limit: Duration) -> (ExitStatus, String, Duration) {
    let start = Instant::now();
    let mut child = command
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("civicpulse runs");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, reader.join().unwrap(), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {limit:?} (a hang); stderr so far:\n{}",
                reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A resident's phone: its own cookies, no redirects followed.
pub struct Resident {
    client: reqwest::Client,
    address: String,
}

/// What a POST of a whole form got back.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub html: String,
}

impl Resident {
    pub fn new(address: &str) -> Resident {
        Resident {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            address: format!("http://{address}"),
        }
    }

    /// GET the form in `lang`: its status and page.
    pub async fn open(&self, lang: &str) -> Result<(u16, Option<String>, String), reqwest::Error> {
        let response = self
            .client
            .get(format!("{}/s/livability?lang={lang}", self.address))
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = header(&response, "retry-after");
        Ok((status, retry_after, response.text().await?))
    }

    /// GET `path`: its status and page.
    pub async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let response = self.client.get(format!("{}{path}", self.address)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// The blank form in `lang`, with its tokens.
    pub async fn form(&self, lang: &str) -> Result<FormPage, reqwest::Error> {
        let (status, _, html) = self.open(lang).await?;
        assert_eq!(status, 200, "the form opens:\n{html}");
        Ok(FormPage {
            csrf: hidden_value(&html, "_csrf"),
            form_token: hidden_value(&html, "_form"),
            html,
        })
    }

    pub async fn send(&self, pairs: &[(String, String)]) -> Result<Reply, reqwest::Error> {
        let response = self
            .client
            .post(format!("{}/s/livability", self.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_pairs(pairs))
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = header(&response, "retry-after");
        let location = header(&response, "location");
        Ok(Reply {
            status,
            retry_after,
            location,
            html: response.text().await?,
        })
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A complete submission of the livability survey on `page`, in `lang`.
pub fn complete(page: &FormPage, lang: &str) -> Vec<(String, String)> {
    with_tokens(page, lang, &valid_answers(&livability()))
}

/// How many answer rows a complete submission stores.
pub fn answers_per_response() -> i64 {
    valid_answers(&livability()).len() as i64
}

/// Which forms residents sent under load, and which were thanked.
#[derive(Default, Debug)]
pub struct Outcomes {
    /// Every form token POSTed, answered or not.
    pub sent: Vec<String>,
    /// Tokens whose POST got the 303 to the thank-you page.
    pub thanked: Vec<String>,
    /// Pages that said the answers were not saved (503), handed back.
    pub handed_back: usize,
}

/// `clients` residents submitting complete forms in a loop until `stop`
/// is set, or until the server stops answering; `thanked` counts the
/// forms thanked as they come. With `persist`, a resident whose answers
/// come back unsaved (503) sends the same form again until it is thanked,
/// as the page asks, even after `stop`.
pub async fn load_counting(
    address: &str,
    clients: usize,
    stop: Arc<AtomicBool>,
    persist: bool,
    thanked: Arc<AtomicUsize>,
) -> Outcomes {
    let langs = ["zh", "en", "ko"];
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let resident = Resident::new(address);
            let (stop, thanked) = (stop.clone(), thanked.clone());
            let lang = langs[i % 3];
            tokio::spawn(async move {
                let mut out = Outcomes::default();
                'forms: while !stop.load(Ordering::Relaxed) {
                    let page = match resident.open(lang).await {
                        Ok((200, _, html)) => FormPage {
                            csrf: hidden_value(&html, "_csrf"),
                            form_token: hidden_value(&html, "_form"),
                            html,
                        },
                        Ok((503, _, _)) if persist => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                        Ok((status, _, html)) => panic!("GET of the form: {status}\n{html}"),
                        Err(_) => break,
                    };
                    let pairs = complete(&page, lang);
                    out.sent.push(page.form_token.clone());
                    let first_try = Instant::now();
                    loop {
                        assert!(
                            first_try.elapsed() < Duration::from_secs(60),
                            "a form handed back for a minute was never stored"
                        );
                        match resident.send(&pairs).await {
                            Ok(reply) if reply.status == 303 => {
                                out.thanked.push(page.form_token.clone());
                                thanked.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Ok(reply) if reply.status == 503 && persist => {
                                out.handed_back += 1;
                                assert_eq!(
                                    hidden_value(&reply.html, "_form"),
                                    page.form_token,
                                    "the form comes back to be sent again as it was"
                                );
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            Ok(reply) => panic!("POST of a complete form: {}\n{}", reply.status, reply.html),
                            // The server is gone (killed): the answer to
                            // this form is unknown.
                            Err(_) => break 'forms,
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Outcomes::default();
    for task in tasks {
        let out = task.await.expect("a resident's task");
        all.sent.extend(out.sent);
        all.thanked.extend(out.thanked);
        all.handed_back += out.handed_back;
    }
    all
}

/// Each stored response of the livability survey: its form token (web
/// responses have one) and how many answer rows it has.
pub fn stored(url: &DatabaseUrl) -> Vec<(Option<String>, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        token: Option<String>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        answers: i64,
    }
    let mut conn = civicpulse::db::raw_connection(url).expect("the database opens");
    let rows: Vec<Row> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT r.form_token AS token, COUNT(a.position) AS answers FROM responses r \
             LEFT JOIN answers a ON a.response_id = r.id WHERE r.survey_slug = 'livability' \
             GROUP BY r.id, r.form_token",
        ),
        &mut conn,
    )
    .expect("responses read");
    rows.into_iter().map(|r| (r.token, r.answers)).collect()
}

/// What a database holds after a fault, checked against what residents
/// were told: every thanked form stored exactly once, every stored
/// response whole (all its answer rows; none half-written) and one that
/// was sent. Returns how many responses are stored.
pub fn check_stored(url: &DatabaseUrl, sent: &[String], thanked: &[String]) -> usize {
    let rows = stored(url);
    let expected = answers_per_response();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for (token, answers) in &rows {
        let token = token.as_deref().expect("a web response has its form token");
        assert_eq!(
            *answers, expected,
            "response of form {token} is half-written: {answers} of {expected} answers"
        );
        *copies.entry(token).or_default() += 1;
    }
    for (token, n) in &copies {
        assert_eq!(*n, 1, "form {token} is stored {n} times");
        assert!(
            sent.iter().any(|s| s == token),
            "form {token} is stored but was never sent"
        );
    }
    let lost: Vec<_> = thanked.iter().filter(|t| !copies.contains_key(t.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{} of {} thanked responses are not stored, among them {:?}",
        lost.len(),
        thanked.len(),
        &lost[..lost.len().min(3)]
    );
    rows.len()
}
