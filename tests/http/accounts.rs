//! Accounts an admin manages and tokens with an end: disabling and
//! enabling, password resets, signing someone out everywhere, changing
//! one's own password, API tokens' scopes, expiry, revocation and last use,
//! in the web pages and on the command line, each audited.

use crate::helpers::*;
use civicpulse::account::{Role, TokenScopes};

/// The `_csrf` of a signed-in page (the staff bar's sign-out form has it).
async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    hidden_value(&get(app, client, "/admin?lang=en").await.text().await.unwrap(), "_csrf")
}

/// POST an admin action on `user` with the page's CSRF token.
async fn act(app: &TestApp, admin: &reqwest::Client, user: &str, action: &str) -> reqwest::Response {
    let pairs = [("_csrf".to_string(), csrf(app, admin).await)];
    post(app, admin, &format!("/admin/users/{user}/{action}?lang=en"), &pairs).await
}

/// Sign in as `name` with `password` in a fresh browser; the response.
async fn sign_in(app: &TestApp, name: &str, password: &str) -> (reqwest::Client, reqwest::Response) {
    let client = new_client();
    let html = get(app, &client, "/login?lang=en").await.text().await.unwrap();
    let pairs = vec![
        ("_csrf".to_string(), hidden_value(&html, "_csrf")),
        ("username".to_string(), name.to_string()),
        ("password".to_string(), password.to_string()),
    ];
    let response = post(app, &client, "/login", &pairs).await;
    (client, response)
}

async fn is_signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    get(app, client, "/admin").await.status() == 200
}

fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    app.db()
        .audit_log(100)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action, e.detail))
        .collect()
}

#[tokio::test]
async fn an_admin_disables_enables_resets_and_signs_out_an_account() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let bob = app.signed_in("bob", Role::Statistician).await;
    let (bob_phone, _) = sign_in(&app, "bob", PASSWORD).await;
    assert!(is_signed_in(&app, &bob).await && is_signed_in(&app, &bob_phone).await);

    // The list shows every account and what can be done to it.
    let list = get(&app, &admin, "/admin/users?lang=en").await;
    assert_eq!(list.status(), 200);
    let html = list.text().await.unwrap();
    assert!(html.contains("data-user=\"bob\"") && html.contains("data-user=\"root\""));
    assert!(html.contains("/admin/users/bob/disable"));
    assert!(
        !html.contains("/admin/users/root/disable"),
        "no button to disable oneself"
    );

    // Disabled: both of bob's sessions die at once, and his password no
    // longer signs him in (he is told why, as he knows the password).
    let disabled = act(&app, &admin, "bob", "disable").await;
    assert_eq!(disabled.status(), 303);
    let notice = follow(&app, &admin, disabled).await;
    assert!(notice.contains("bob is disabled"), "{notice}");
    assert!(!is_signed_in(&app, &bob).await && !is_signed_in(&app, &bob_phone).await);
    let (_, refused) = sign_in(&app, "bob", PASSWORD).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("This account is disabled"));
    // A wrong password gets the usual answer, which tells nothing.
    let (_, wrong) = sign_in(&app, "bob", "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    assert!(app
        .db()
        .users()
        .unwrap()
        .iter()
        .any(|u| u.username.as_str() == "bob" && u.disabled));

    // Enabled again: the same password works.
    assert_eq!(act(&app, &admin, "bob", "enable").await.status(), 303);
    let (bob, back) = sign_in(&app, "bob", PASSWORD).await;
    assert_eq!(back.status(), 303);

    // Signed out everywhere, without touching the password.
    assert_eq!(act(&app, &admin, "bob", "end-sessions").await.status(), 303);
    assert!(!is_signed_in(&app, &bob).await);
    let (bob, again) = sign_in(&app, "bob", PASSWORD).await;
    assert_eq!(again.status(), 303);

    // A reset shows a new password once, ends bob's sessions, and only the
    // new password signs in.
    let reset = act(&app, &admin, "bob", "reset-password").await;
    assert_eq!(reset.status(), 200);
    assert_eq!(reset.headers()["cache-control"], "no-store");
    let page = reset.text().await.unwrap();
    let new_password = page
        .split("data-new-password>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new password is shown")
        .to_string();
    assert_eq!(new_password.len(), 20);
    assert!(!is_signed_in(&app, &bob).await);
    assert_eq!(sign_in(&app, "bob", PASSWORD).await.1.status(), 401);
    assert_eq!(sign_in(&app, "bob", &new_password).await.1.status(), 303);

    // Everything is in the audit log, by the admin, and no password is.
    let log = audit_actions(&app);
    for action in [
        "user.disable",
        "user.enable",
        "user.sessions_end",
        "user.password_reset",
    ] {
        assert!(
            log.iter()
                .any(|(who, a, detail)| who == "root" && a == action && detail.starts_with("bob")),
            "{action} audited: {log:?}"
        );
    }
    assert!(log.iter().any(|(who, a, _)| who == "bob" && a == "login.disabled"));
    assert!(!log.iter().any(|(_, _, detail)| detail.contains(&new_password)));
    let audit_page = get(&app, &admin, "/admin/audit?lang=en").await.text().await.unwrap();
    assert!(audit_page.contains("Disabled a user") && audit_page.contains("Reset a password"));
}

#[tokio::test]
async fn the_last_admin_cannot_be_disabled_and_only_admins_manage_accounts() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let designer = app.signed_in("dana", Role::Designer).await;

    // Root is the only admin: disabling root is refused (another admin's
    // page would offer it; the command line can ask).
    let (ok, _, stderr) = app.cli(&["user", "disable", "root"]);
    assert!(!ok);
    assert!(stderr.contains("last enabled admin"), "{stderr}");
    app.add_user("second", Role::Admin);
    let (second, _) = sign_in(&app, "second", PASSWORD).await;
    assert_eq!(act(&app, &second, "root", "disable").await.status(), 303);
    let refused = act(&app, &second, "second", "disable").await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("last enabled admin"));
    assert!(!is_signed_in(&app, &root).await);

    // Not for designers, nor without a session, nor without the CSRF token.
    assert_eq!(get(&app, &designer, "/admin/users").await.status(), 403);
    assert_eq!(act(&app, &designer, "second", "end-sessions").await.status(), 403);
    let anonymous = new_client();
    let to_sign_in = get(&app, &anonymous, "/admin/users").await;
    assert_eq!(to_sign_in.status(), 303);
    assert!(location(&to_sign_in).starts_with("/login"));
    let forged = post(
        &app,
        &second,
        "/admin/users/dana/disable",
        &[("_csrf".to_string(), "0".repeat(32))],
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert!(!app
        .db()
        .users()
        .unwrap()
        .iter()
        .any(|u| u.username.as_str() == "dana" && u.disabled));
    // An unknown account, and an unknown action.
    assert_eq!(act(&app, &second, "nobody", "disable").await.status(), 404);
    assert_eq!(act(&app, &second, "dana", "delete").await.status(), 404);
}

#[tokio::test]
async fn members_change_their_own_password_and_other_sessions_end() {
    let app = spawn_app().await;
    let laptop = app.signed_in("sam", Role::Statistician).await;
    let (phone, _) = sign_in(&app, "sam", PASSWORD).await;
    let form = get(&app, &laptop, "/account/password?lang=en").await;
    assert_eq!(form.status(), 200);
    let csrf = hidden_value(&form.text().await.unwrap(), "_csrf");
    let send = |current: &str, new: &str, confirm: &str| {
        vec![
            ("_csrf".to_string(), csrf.clone()),
            ("current".to_string(), current.to_string()),
            ("new".to_string(), new.to_string()),
            ("confirm".to_string(), confirm.to_string()),
        ]
    };

    // Each rule is told in the member's language, and nothing changes.
    let wrong = post(
        &app,
        &laptop,
        "/account/password?lang=en",
        &send("guess", "a long new phrase", "a long new phrase"),
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("The current password is not correct."));
    let short = post(
        &app,
        &laptop,
        "/account/password?lang=en",
        &send(PASSWORD, "short", "short"),
    )
    .await;
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("must be 10 to 256 characters"));
    let differ = post(
        &app,
        &laptop,
        "/account/password?lang=zh",
        &send(PASSWORD, "a long new phrase", "a long new phrasE"),
    )
    .await;
    assert_eq!(differ.status(), 422);
    assert!(differ.text().await.unwrap().contains("两次输入的新密码不一致。"));
    assert!(is_signed_in(&app, &phone).await, "nothing changed yet");

    let changed = post(
        &app,
        &laptop,
        "/account/password?lang=en",
        &send(PASSWORD, "a long new phrase", "a long new phrase"),
    )
    .await;
    assert_eq!(changed.status(), 303);
    assert!(follow(&app, &laptop, changed)
        .await
        .contains("Your password is changed."));
    assert!(is_signed_in(&app, &laptop).await, "this session stays");
    assert!(!is_signed_in(&app, &phone).await, "the other one ends");
    assert_eq!(sign_in(&app, "sam", PASSWORD).await.1.status(), 401);
    assert_eq!(sign_in(&app, "sam", "a long new phrase").await.1.status(), 303);
    assert!(audit_actions(&app)
        .iter()
        .any(|(who, a, d)| who == "sam" && a == "user.password_change" && d == "1 other session(s) ended"));
    // Anonymous visitors are sent to sign in.
    assert_eq!(get(&app, &new_client(), "/account/password").await.status(), 303);
}

#[tokio::test]
async fn api_tokens_have_scopes_an_end_a_last_use_and_can_be_revoked() {
    let app = spawn_app().await;
    let stats = app.api_token("stats");
    let (ok, export_token, stderr) = app.cli(&["token", "create", "--name", "exporter", "--scope", "export"]);
    assert!(ok, "{stderr}");
    let export_token = export_token.trim().to_string();
    let (ok, _, stderr) = app.cli(&["token", "create", "--name", "x", "--scope", "admin"]);
    assert!(!ok && stderr.contains("unknown token scope \"admin\""), "{stderr}");
    let (ok, _, stderr) = app.cli(&["token", "create", "--name", "x", "--expires", "next week"]);
    assert!(!ok && stderr.contains("--expires"), "{stderr}");
    let two_days_ago = time::OffsetDateTime::now_utc().date() - time::Duration::days(2);
    let expired = app
        .db()
        .create_api_token(
            "old",
            &TokenScopes::parse("statistics").unwrap(),
            Some(two_days_ago),
            "test",
        )
        .unwrap();

    let client = new_client();
    let call = |token: &str, path: &str| {
        client
            .get(app.url(path))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let fieldwork = "/api/v1/surveys/livability/fieldwork";
    let export = "/api/v1/surveys/livability/export.zip?lang=en";
    assert_eq!(call(&stats, fieldwork).await.unwrap().status(), 200);
    let out_of_scope = call(&stats, export).await.unwrap();
    assert_eq!(out_of_scope.status(), 403);
    assert!(out_of_scope.text().await.unwrap().contains("insufficient_scope"));
    assert_eq!(call(&export_token, fieldwork).await.unwrap().status(), 403);
    let archive = call(&export_token, export).await.unwrap();
    assert_eq!(archive.status(), 200);
    assert_eq!(archive.headers()["content-type"], "application/zip");
    assert!(archive.bytes().await.unwrap().starts_with(b"PK"));
    assert_eq!(
        call(&export_token, "/api/v1/surveys/nosuch/export.zip")
            .await
            .unwrap()
            .status(),
        404
    );
    let old = call(&expired, fieldwork).await.unwrap();
    assert_eq!(old.status(), 401);
    assert!(old.text().await.unwrap().contains("expired"));

    // In the address it is refused, whatever it is.
    let in_query = client
        .get(app.url(&format!("{fieldwork}?token={stats}")))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 400);
    assert!(in_query.text().await.unwrap().contains("Authorization"));

    // Listed with the day of last use; revoked, refused.
    let (ok, list, _) = app.cli(&["token", "list"]);
    assert!(ok);
    let row = |name: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("{name} listed: {list}"))
            .split('\t')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("stats")[1], "statistics");
    assert_eq!(row("exporter")[1], "export");
    assert_eq!(row("old")[4], two_days_ago.to_string());
    // Used today (the city's date may differ from UTC's by a day).
    assert!(row("stats")[5] != "-", "{list}");
    assert!(!list.contains(&stats), "the token itself is never shown");
    let (ok, _, stderr) = app.cli(&["token", "revoke", "stats"]);
    assert!(ok, "{stderr}");
    let revoked = call(&stats, fieldwork).await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert!(revoked.text().await.unwrap().contains("revoked"));
    let (ok, _, stderr) = app.cli(&["token", "revoke", "stats"]);
    assert!(!ok && stderr.contains("already revoked"), "{stderr}");
    let (ok, _, stderr) = app.cli(&["token", "revoke", "nobody"]);
    assert!(!ok && stderr.contains("no API token named"), "{stderr}");
    let log = audit_actions(&app);
    assert!(log
        .iter()
        .any(|(who, a, d)| who == "(command line)" && a == "token.revoke" && d == "stats"));
    assert!(log
        .iter()
        .any(|(who, a, d)| who == "(command line)" && a == "token.create" && d.starts_with("exporter: export")));
    assert!(log.iter().any(|(who, a, _)| who == "exporter" && a == "api.export"));
}

#[tokio::test]
async fn the_command_line_manages_accounts_too() {
    let app = spawn_app().await;
    let carol = app.signed_in("carol", Role::Designer).await;
    let (ok, _, stderr) = app.cli(&["user", "end-sessions", "carol"]);
    assert!(ok && stderr.contains("1 session(s) ended"), "{stderr}");
    assert!(!is_signed_in(&app, &carol).await);
    let (ok, _, _) = app.cli(&["user", "disable", "carol"]);
    assert!(ok);
    let (ok, list, _) = app.cli(&["user", "list"]);
    assert!(
        ok && list
            .lines()
            .any(|l| l.starts_with("carol\tdesigner\t") && l.ends_with("\tdisabled")),
        "{list}"
    );
    assert_eq!(sign_in(&app, "carol", PASSWORD).await.1.status(), 403);
    let (ok, _, _) = app.cli(&["user", "enable", "carol"]);
    assert!(ok);
    let (ok, password, stderr) = app.cli(&["user", "reset-password", "carol"]);
    assert!(ok, "{stderr}");
    assert_eq!(sign_in(&app, "carol", password.trim()).await.1.status(), 303);
    let (ok, _, stderr) = app.cli(&["user", "disable", "nobody"]);
    assert!(!ok && stderr.contains("no user named \"nobody\""), "{stderr}");
}
