//! Staff accounts: sign-in and sign-out, roles checked on the server, the
//! session cookie, CSRF on every staff form, the audit log and
//! `civicpulse user add`.

use crate::helpers::*;
use civicpulse::account::Role;
use std::io::Write;
use std::process::{Command, Stdio};

/// One browser (its own cookie jar) on the test server.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            client: new_client(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        get(self.app, &self.client, path).await
    }

    async fn post_pairs(&self, path: &str, pairs: &[(String, String)]) -> reqwest::Response {
        post(self.app, &self.client, path, pairs).await
    }

    /// GET /login and post the form with its own token.
    async fn sign_in(&self, name: &str, password: &str) -> reqwest::Response {
        let page = self.get("/login?lang=en").await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        self.post_login(&hidden_value(&html, "_csrf"), name, password).await
    }

    async fn post_login(&self, csrf: &str, name: &str, password: &str) -> reqwest::Response {
        let pairs = [
            ("_csrf".to_string(), csrf.to_string()),
            ("username".to_string(), name.to_string()),
            ("password".to_string(), password.to_string()),
        ];
        self.post_pairs("/login", &pairs).await
    }

    async fn sign_out(&self) -> reqwest::Response {
        let home = self.get("/admin").await.text().await.unwrap();
        let pairs = [("_csrf".to_string(), hidden_value(&home, "_csrf"))];
        self.post_pairs("/logout", &pairs).await
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookies(response).into_iter().find(|c| c.starts_with("cp_session="))
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_form() {
    let app = spawn_app().await;
    let response = app.get("/admin").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert_eq!(response.headers()["cache-control"], "no-store");

    let response = app.get("/admin/audit").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=/admin/audit");

    let form = app.get("/login?next=/admin/audit&lang=ko").await;
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let html = form.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\">"));
    assert!(html.contains("직원 로그인"));
    let user = tag_with(&html, "name=\"username\"").unwrap();
    assert_eq!(attr(user, "autocomplete").as_deref(), Some("username"));
    assert_eq!(attr(user, "id").as_deref(), Some("username"));
    assert!(html.contains("<label class=\"staff-field__label\" for=\"username\">"));
    let password = tag_with(&html, "name=\"password\"").unwrap();
    assert_eq!(attr(password, "type").as_deref(), Some("password"));
    assert_eq!(attr(password, "autocomplete").as_deref(), Some("current-password"));
    assert!(html.contains("<label class=\"staff-field__label\" for=\"password\">"));
    assert_eq!(hidden_value(&html, "next"), "/admin/audit");
    assert_eq!(hidden_value(&html, "_csrf").len(), 32);

    // A `next` pointing at another site is dropped.
    let html = app.get("/login?next=//evil.example/").await.text().await.unwrap();
    assert!(!html.contains("evil.example"));
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_the_same_answer_and_no_session() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Designer);
    let browser = Browser::new(&app);
    let wrong = browser.sign_in("alice", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(session_cookie(&wrong).is_none());
    let wrong_html = wrong.text().await.unwrap();
    assert!(wrong_html.contains("role=\"alert\""));
    assert!(wrong_html.contains("The username or password is not correct."));
    assert!(wrong_html.contains("value=\"alice\""), "the username is kept");
    assert!(
        !wrong_html.contains("not the password"),
        "the password is not sent back"
    );

    let unknown = browser.sign_in("mallory", "not the password").await;
    assert_eq!(unknown.status(), 401);
    assert!(session_cookie(&unknown).is_none());
    let unknown_html = unknown.text().await.unwrap();
    assert!(unknown_html.contains("The username or password is not correct."));

    assert_eq!(browser.get("/admin").await.status(), 303, "still signed out");
}

#[tokio::test]
async fn signing_in_opens_the_staff_home_with_a_strict_http_only_cookie() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Designer);
    let browser = Browser::new(&app);
    let response = browser.sign_in("Alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin");
    let cookie = session_cookie(&response).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let token = cookie["cp_session=".len()..].split(';').next().unwrap();
    assert_eq!(token.len(), 64);

    let home = browser.get("/admin").await;
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["cache-control"], "no-store");
    let html = home.text().await.unwrap();
    assert!(html.contains("Signed in as alice (Survey designer)"), "{html}");
    assert!(html.contains(&format!("href=\"{}\"", escaped("/s/livability?lang=en"))));
    assert!(html.contains("<li>v1: 0</li>"));
    assert!(!html.contains("href=\"/admin/audit\""), "no audit link for designers");

    // Already signed in: the form sends you on.
    let again = browser.get("/login?next=/admin").await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), "/admin");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_proxy() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Admin);
    let page = app
        .client
        .get(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let body = encode_pairs(&[
        ("_csrf".to_string(), hidden_value(&html, "_csrf")),
        ("username".to_string(), "alice".to_string()),
        ("password".to_string(), PASSWORD.to_string()),
    ]);
    let response = app
        .client
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = session_cookie(&response).expect("session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_login_without_a_matching_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Admin);
    let browser = Browser::new(&app);
    // No cookie at all: a page on another site posting the form.
    let forged = browser
        .post_login("0123456789abcdef0123456789abcdef", "alice", PASSWORD)
        .await;
    assert_eq!(forged.status(), 403);
    assert!(session_cookie(&forged).is_none());
    assert!(forged.text().await.unwrap().contains("role=\"alert\""));

    // A cookie, but another token in the form.
    let html = browser.get("/login").await.text().await.unwrap();
    let real = hidden_value(&html, "_csrf");
    let other = if real.starts_with('0') { "1" } else { "0" }.to_string() + &real[1..];
    let mismatched = browser.post_login(&other, "alice", PASSWORD).await;
    assert_eq!(mismatched.status(), 403);
    assert!(session_cookie(&mismatched).is_none());

    // No token field at all.
    let missing = browser
        .post_pairs(
            "/login",
            &[
                ("username".to_string(), "alice".to_string()),
                ("password".to_string(), PASSWORD.to_string()),
            ],
        )
        .await;
    assert_eq!(missing.status(), 403);
    assert_eq!(browser.get("/admin").await.status(), 303, "never signed in");
}

#[tokio::test]
async fn roles_are_checked_on_the_server_and_admins_read_the_audit_log() {
    let app = spawn_app().await;
    app.add_user("sam", Role::Statistician);
    app.add_user("ada", Role::Admin);

    let sam = Browser::new(&app);
    assert_eq!(sam.sign_in("sam", PASSWORD).await.status(), 303);
    assert_eq!(sam.get("/admin").await.status(), 200);
    let refused = sam.get("/admin/audit?lang=zh").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["cache-control"], "no-store");
    let html = refused.text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-Hans\">"));
    assert!(html.contains("您无权访问此页面"));

    let ada = Browser::new(&app);
    assert_eq!(ada.sign_in("ada", PASSWORD).await.status(), 303);
    let home = ada.get("/admin?lang=en").await.text().await.unwrap();
    assert!(home.contains("href=\"/admin/audit\""));
    let audit = ada.get("/admin/audit").await;
    assert_eq!(audit.status(), 200);
    let html = audit.text().await.unwrap();
    assert!(html.contains("<h1 class=\"page-title\">Audit log</h1>"));
    let rows: Vec<&str> = html.split("<tr data-action=").skip(1).collect();
    // Newest first: ada's sign-in, sam's sign-in, then the two accounts created.
    assert_eq!(rows.len(), 4, "{html}");
    assert!(rows[0].starts_with("\"login\"") && rows[0].contains("<td>ada</td>") && rows[0].contains("Signed in"));
    assert!(rows[1].starts_with("\"login\"") && rows[1].contains("<td>sam</td>"));
    assert!(rows[2].starts_with("\"user.create\"") && rows[2].contains("ada (admin)"));
    assert!(rows[3].starts_with("\"user.create\"") && rows[3].contains("sam (statistician)"));
    assert!(!html.contains(PASSWORD));
}

#[tokio::test]
async fn signing_out_ends_the_session_for_every_copy_of_the_cookie() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Admin);
    let browser = Browser::new(&app);
    let response = browser.sign_in("alice", PASSWORD).await;
    let cookie = session_cookie(&response).unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let copy = || async {
        new_client()
            .get(app.url("/admin"))
            .header("cookie", pair.clone())
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(copy().await, 200, "a copy of the cookie works");

    // Sign-out needs the session's CSRF token.
    let forged = browser
        .post_pairs("/logout", &[("_csrf".to_string(), "0".repeat(32))])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(session_cookie(&forged).is_none(), "a refused sign-out sets no cookie");
    assert_eq!(copy().await, 200, "still signed in");

    // A cross-site form posting to /logout arrives without the session
    // cookie (SameSite): it must not send a cookie that clears it.
    let cross_site = new_client()
        .post(app.url("/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body("_csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 303);
    assert!(
        session_cookie(&cross_site).is_none(),
        "a sign-out without a session must not clear the browser's cookie"
    );
    assert_eq!(copy().await, 200, "still signed in");

    let out = browser.sign_out().await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    let removal = session_cookie(&out).expect("cookie removed");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(browser.get("/admin").await.status(), 303);
    assert_eq!(copy().await, 303, "the old cookie no longer works");

    let audit = audit_log(&app);
    assert_eq!(audit[0], ("alice".to_string(), "logout".to_string()));
}

#[tokio::test]
async fn signing_in_again_replaces_the_session() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Admin);
    let browser = Browser::new(&app);
    let first = session_cookie(&browser.sign_in("alice", PASSWORD).await).unwrap();
    // GET /login now redirects, but the CSRF cookie is the one every form
    // of this browser repeats, so the resident form shows it too.
    let form = browser.get("/s/livability").await.text().await.unwrap();
    let again = browser
        .post_login(&hidden_value(&form, "_csrf"), "alice", PASSWORD)
        .await;
    assert_eq!(again.status(), 303);
    let second = session_cookie(&again).unwrap();
    assert_ne!(first, second);
    assert!(browser
        .get("/admin")
        .await
        .text()
        .await
        .unwrap()
        .contains("Signed in as alice"));
    let old = new_client()
        .get(app.url("/admin"))
        .header("cookie", first.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303, "the replaced session is gone");
}

/// (username, action) of the audit log, newest first.
fn audit_log(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db();
    db.audit_log(100)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action))
        .collect()
}

fn civicpulse(app: &TestApp, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
        .args(args)
        .env("DATABASE_URL", app.database.connection_string())
        .env("CIVICPULSE_KEY_FILE", &app.key_path)
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("civicpulse runs");
    if let Some(text) = stdin {
        // A command that refuses its arguments exits before reading stdin;
        // the closed pipe is then expected, not a failure.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_takes_a_piped_password_or_generates_one() {
    let app = spawn_app().await;

    let piped = civicpulse(
        &app,
        &["user", "add", "alice", "--role", "designer"],
        Some("secret-pass-1\n"),
    );
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert!(piped.stdout.is_empty(), "nothing to print: the password was given");
    assert_eq!(Browser::new(&app).sign_in("alice", "secret-pass-1").await.status(), 303);

    let generated = civicpulse(&app, &["user", "add", "bob", "--role", "statistician"], None);
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let password = String::from_utf8(generated.stdout).unwrap().trim().to_string();
    assert_eq!(password.chars().count(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let bob = Browser::new(&app);
    assert_eq!(bob.sign_in("bob", &password).await.status(), 303);
    assert!(bob
        .get("/admin")
        .await
        .text()
        .await
        .unwrap()
        .contains("Signed in as bob"));

    let duplicate = civicpulse(
        &app,
        &["user", "add", "alice", "--role", "admin"],
        Some("another-pass-2\n"),
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let weak = civicpulse(&app, &["user", "add", "carol", "--role", "admin"], Some("short\n"));
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));

    let bad_role = civicpulse(
        &app,
        &["user", "add", "carol", "--role", "root"],
        Some("secret-pass-1\n"),
    );
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("admin, designer and statistician"));

    let bad_name = civicpulse(
        &app,
        &["user", "add", "Carol Smith", "--role", "admin"],
        Some("secret-pass-1\n"),
    );
    assert!(!bad_name.status.success());
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("invalid username"));

    let list = civicpulse(&app, &["user", "list"], None);
    assert!(list.status.success());
    let list = String::from_utf8(list.stdout).unwrap();
    let names: Vec<(&str, &str)> = list
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(names, [("alice", "designer"), ("bob", "statistician")]);

    let audit = audit_log(&app);
    assert!(audit.contains(&("(command line)".to_string(), "user.create".to_string())));
    let log = String::from_utf8_lossy(&piped.stderr).to_string() + &String::from_utf8_lossy(&generated.stderr);
    assert!(!log.contains("secret-pass-1") && !log.contains(&password));
}
