//! `spawn_app`: a real server on an ephemeral port over a fresh database
//! (an SQLite file in a temporary folder, or in the PostgreSQL half of the
//! suite a PostgreSQL database of its own, see `support::postgres`), plus
//! small helpers to read pages and fill forms.

use civicpulse::account::{Role, Username};
use civicpulse::config::ServeConfig;
use civicpulse::crypto::ServerKey;
use civicpulse::db::{Database, DatabaseUrl, StoredResponse};
use civicpulse::fieldwork::{Access, FrameStratum, WaveSettings};
use civicpulse::survey::schedule::DateWindow;
use civicpulse::survey::{builtin_definitions, QuestionKind, Survey};
use civicpulse::web::limits::{Limit, Limits};
use civicpulse::web::Application;
use std::path::PathBuf;

/// The password of every staff account the tests create.
pub const PASSWORD: &str = "correct horse 42";

pub struct TestApp {
    pub address: String,
    /// The test's database, SQLite or PostgreSQL.
    pub database: DatabaseUrl,
    /// The server's key file, in the test's temporary folder.
    pub key_path: PathBuf,
    pub client: reqwest::Client,
    /// The running server's state (its counters, e.g. `analysis_stats`).
    pub state: actix_web::web::Data<civicpulse::web::AppState>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_after(|_| {}).await
}

/// `spawn_app`, but `prepare` runs on the database (built-in survey
/// already stored) before the server starts and loads what is published.
pub async fn spawn_app_after(prepare: impl FnOnce(&Database)) -> TestApp {
    spawn_app_with(prepare, |_| {}).await
}

/// Limits no test reaches unless it means to: every test client is the
/// same address.
pub fn roomy_limits() -> Limits {
    let roomy = Limit {
        per_hour: 1_000_000,
        burst: 100_000,
    };
    Limits {
        submit: roomy,
        code: roomy,
        save: roomy,
        resume: roomy,
        sign_in: roomy,
        api: roomy,
    }
}

/// `spawn_app_after`, with `configure` changing the server's settings
/// (which start with [`roomy_limits`]).
pub async fn spawn_app_with(prepare: impl FnOnce(&Database), configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = crate::support::postgres::fresh_database(dir.path());
    let key_path = dir.path().join("civicpulse.key");
    {
        let (db, _) = civicpulse::registry::open(&database, None).expect("db opens");
        prepare(&db);
    }
    let mut config = ServeConfig::new("127.0.0.1:0", database.clone());
    config.key_file = key_path.clone();
    config.workers = Some(1);
    config.limits = roomy_limits();
    // The tests reckon "today" in UTC; those of the city's zone set theirs
    // (tests/http/city_time.rs).
    config.clock = civicpulse::clock::CityClock::new("UTC").expect("UTC");
    configure(&mut config);
    let app = Application::build(&config).expect("server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        database,
        key_path,
        client: new_client(),
        state,
        _dir: dir,
    }
}

/// A phone's browser: keeps cookies, does not follow redirects (tests
/// check them).
impl Drop for TestApp {
    fn drop(&mut self) {
        if let DatabaseUrl::Postgres(url) = &self.database {
            crate::support::postgres::drop_database(url);
        }
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn livability() -> Survey {
    builtin_definitions()
        .into_iter()
        .find(|s| s.slug.as_str() == "livability")
        .expect("built-in survey")
}

/// The hidden tokens of a rendered form.
pub struct FormPage {
    pub html: String,
    pub csrf: String,
    pub form_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_form(&self, lang: &str) -> FormPage {
        let response = self.get(&format!("/s/livability?lang={lang}")).await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        FormPage {
            csrf: hidden_value(&html, "_csrf"),
            form_token: hidden_value(&html, "_form"),
            html,
        }
    }

    pub async fn post_pairs(&self, path: &str, pairs: &[(String, String)]) -> reqwest::Response {
        let body = encode_pairs(pairs);
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    pub fn db(&self) -> Database {
        Database::open(&self.database).expect("db opens")
    }

    /// Runs `civicpulse ARGS` on this app's database and key file.
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        crate::support::civicpulse_on_url(&self.database, &self.key_path, args)
    }

    /// A new API token `name` that reads statistics (not exports), with no end.
    pub fn api_token(&self, name: &str) -> String {
        let scopes = civicpulse::account::TokenScopes::parse("statistics").unwrap();
        self.db()
            .create_api_token(name, &scopes, None, "test")
            .expect("token created")
    }

    /// A staff account `name` with `role` and [`PASSWORD`].
    pub fn add_user(&self, name: &str, role: Role) {
        self.db()
            .create_user(&Username::parse(name).unwrap(), role, PASSWORD, "test")
            .expect("user created");
    }

    /// A browser signed in as a new account `name` with `role`.
    pub async fn signed_in(&self, name: &str, role: Role) -> reqwest::Client {
        self.add_user(name, role);
        let client = new_client();
        let html = get(self, &client, "/login?lang=en").await.text().await.unwrap();
        let pairs = vec![
            ("_csrf".to_string(), hidden_value(&html, "_csrf")),
            ("username".to_string(), name.to_string()),
            ("password".to_string(), PASSWORD.to_string()),
        ];
        assert_eq!(post(self, &client, "/login", &pairs).await.status(), 303, "signed in");
        client
    }

    /// The server's key (its file sits beside the test database).
    pub fn key(&self) -> ServerKey {
        self.db().server_key(&self.key_path).expect("the server's key")
    }

    /// Set up this year's wave of livability with `access`, fieldwork
    /// dates around today, a helpline, and a frame of `frame`.
    pub fn set_up_wave(&self, access: Access, frame: &[(&str, f64)]) {
        let today = time::OffsetDateTime::now_utc().date();
        let settings = WaveSettings {
            access,
            window: DateWindow::new(
                Some(today - time::Duration::days(1)),
                Some(today + time::Duration::days(30)),
            )
            .unwrap(),
            helpline: "12345 (8:30-17:30)".into(),
            ..WaveSettings::new(this_year())
        };
        let db = self.db();
        db.set_wave("livability", &settings, "test").expect("wave set up");
        let strata: Vec<FrameStratum> = frame
            .iter()
            .map(|(s, n)| FrameStratum {
                stratum: s.to_string(),
                population: *n,
            })
            .collect();
        db.set_frame("livability", &settings, &strata, "test")
            .expect("frame stored");
    }

    /// `count` new invitation codes for `stratum` of this year's wave, as printed.
    pub fn invite(&self, stratum: &str, count: u64) -> Vec<String> {
        let (_, issued) = self
            .db()
            .create_invitations("livability", this_year(), stratum, count, &self.key(), "test")
            .expect("invitations created");
        issued.iter().map(|i| i.code.to_string()).collect()
    }

    /// The form a resident gets after entering `code` on the start page.
    pub async fn form_with_code(&self, client: &reqwest::Client, code: &str, lang: &str) -> FormPage {
        let start = get(self, client, &format!("/s/livability?lang={lang}&code={code}")).await;
        assert_eq!(start.status(), 200);
        let html = start.text().await.unwrap();
        let pairs = vec![
            ("_csrf".to_string(), hidden_value(&html, "_csrf")),
            ("_lang".to_string(), lang.to_string()),
            ("code".to_string(), code.to_string()),
        ];
        let form = post(self, client, "/s/livability/start", &pairs).await;
        assert_eq!(form.status(), 200, "code {code} accepted");
        let html = form.text().await.unwrap();
        FormPage {
            csrf: hidden_value(&html, "_csrf"),
            form_token: hidden_value(&html, "_form"),
            html,
        }
    }

    pub fn stored(&self) -> Vec<StoredResponse> {
        let db = self.db();
        let mut all = Vec::new();
        db.for_each_response("livability", |r| -> Result<(), civicpulse::db::DbError> {
            all.push(r);
            Ok(())
        })
        .expect("read responses");
        all
    }
}

pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of `<input type="hidden" name="NAME" value="...">`.
pub fn hidden_value(html: &str, name: &str) -> String {
    let tag = tag_with(html, &format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no input named {name}"));
    attr(tag, "value").unwrap_or_else(|| panic!("input {name} has no value"))
}

/// The whole `<...>` tag that contains `needle`.
pub fn tag_with<'a>(html: &'a str, needle: &str) -> Option<&'a str> {
    let at = html.find(needle)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

pub fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_string())
}

/// True when the input with this id is rendered checked.
pub fn is_checked(html: &str, input_id: &str) -> bool {
    let tag = tag_with(html, &format!("id=\"{input_id}\"")).unwrap_or_else(|| panic!("no input {input_id}"));
    tag.contains(" checked")
}

/// A complete, valid set of answers: the first option of every required
/// question (the first non-"don't know" one for Likert items), a local
/// resident, and a suggestion.
pub fn valid_answers(survey: &Survey) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for q in &survey.questions {
        if q.show_if.is_some() {
            continue;
        }
        let id = q.id.to_string();
        match &q.kind {
            QuestionKind::Text { .. } => pairs.push((id, "更多公园 — more parks, 공원을 더".to_string())),
            kind => {
                let options = kind.options();
                let pick = if id == "resident_type" {
                    "local"
                } else {
                    options[options.len() / 2].value.as_str()
                };
                pairs.push((id, pick.to_string()));
            }
        }
    }
    pairs
}

/// The wave residents answer in these tests.
pub fn this_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

pub fn with_tokens(page: &FormPage, lang: &str, answers: &[(String, String)]) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("_csrf".to_string(), page.csrf.clone()),
        ("_form".to_string(), page.form_token.clone()),
        ("_lang".to_string(), lang.to_string()),
    ];
    // A form that came with an invitation code sends it back.
    if page.html.contains("name=\"_code\" value=") {
        pairs.push(("_code".to_string(), hidden_value(&page.html, "_code")));
    }
    pairs.extend_from_slice(answers);
    pairs
}

/// Text as handlebars escapes it into HTML.
pub fn escaped(text: &str) -> String {
    handlebars::html_escape(text)
}

/// GET `path` with `client` (its own cookie jar).
pub async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    get_with(app, client, path, &[]).await
}

/// GET `path` with extra request headers.
pub async fn get_with(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("GET")
}

/// POST a form to `path` with `client`.
pub async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    pairs: &[(String, String)],
) -> reqwest::Response {
    post_with(app, client, path, pairs, &[]).await
}

/// POST a form with extra request headers (a proxy's `X-Forwarded-For`, a cookie).
pub async fn post_with(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    pairs: &[(String, String)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(encode_pairs(pairs)).send().await.expect("POST")
}

// ---------------------------------------------------------------- section pages

/// Valid answers to the questions of section `index` (see [`valid_answers`]).
pub fn section_answers(survey: &Survey, index: usize) -> Vec<(String, String)> {
    valid_answers(survey)
        .into_iter()
        .filter(|(q, _)| survey.question(q).is_some_and(|q| q.section == index))
        .collect()
}

/// The hidden fields of a section page (or the review page), to send back.
pub fn page_fields(html: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for name in ["_csrf", "_form", "_lang", "_v", "_page", "_resume", "_return", "_code"] {
        if let Some(tag) = tag_with(html, &format!("name=\"{name}\" value=")) {
            if let Some(v) = attr(tag, "value") {
                pairs.push((name.to_string(), v));
            }
        }
    }
    pairs
}

/// Send a section page with `answers` and the button `go` (`next`, `back`).
pub async fn send_page(
    app: &TestApp,
    client: &reqwest::Client,
    html: &str,
    answers: &[(String, String)],
    go: &str,
) -> reqwest::Response {
    let mut pairs = page_fields(html);
    pairs.extend_from_slice(answers);
    pairs.push(("_go".to_string(), go.to_string()));
    post(app, client, "/s/livability", &pairs).await
}

/// The first section page of the livability survey in `lang`.
pub async fn first_page(app: &TestApp, client: &reqwest::Client, lang: &str) -> String {
    get(app, client, &format!("/s/livability?lang={lang}"))
        .await
        .text()
        .await
        .unwrap()
}

/// Send a section page with `answers` and Continue, and return the page
/// it leads to.
pub async fn continue_page(
    app: &TestApp,
    client: &reqwest::Client,
    html: &str,
    answers: &[(String, String)],
) -> String {
    follow(app, client, send_page(app, client, html, answers, "next").await).await
}

/// The page a redirect points to (its status must be 200).
pub async fn follow(app: &TestApp, client: &reqwest::Client, response: reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "a redirect");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let page = get(app, client, &location).await;
    assert_eq!(page.status(), 200, "{location}");
    page.text().await.unwrap()
}

/// The location of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Answer every section page with `answers` (of the whole survey) from the
/// first page shown in `html`, up to the review page, which is returned.
pub async fn walk_to_review(
    app: &TestApp,
    client: &reqwest::Client,
    mut html: String,
    survey: &Survey,
    answers: &[(String, String)],
) -> String {
    for index in 0..survey.sections.len() {
        let mine: Vec<(String, String)> = answers
            .iter()
            .filter(|(q, _)| survey.question(q).is_some_and(|q| q.section == index))
            .cloned()
            .collect();
        let response = send_page(app, client, &html, &mine, "next").await;
        html = follow(app, client, response).await;
    }
    assert!(html.contains("name=\"_page\" value=\"review\""), "the review page");
    html
}

/// A second server on the same database and key file (a restart).
pub async fn restart(app: &TestApp) -> String {
    let mut config = ServeConfig::new("127.0.0.1:0", app.database.clone());
    config.key_file = app.key_path.clone();
    config.workers = Some(1);
    config.limits = roomy_limits();
    let second = Application::build(&config).expect("server starts again");
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    address
}

/// The partial responses of this year's wave, as the admin page counts them.
pub fn partial_counts(app: &TestApp) -> civicpulse::db::PartialCounts {
    app.db().partial_counts("livability", this_year()).expect("counts")
}
