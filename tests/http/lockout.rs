//! Sign-in lockout: repeated failures lock an account (whatever address
//! they come from) and a client (whatever account it tries), with
//! exponential backoff, a 429 in the user's language, and every failure
//! and every locked-out attempt in the audit log.

use crate::helpers::*;
use civicpulse::account::Role;
use diesel::prelude::*;

/// A sign-in from `address` (behind the trusted proxy), in a new browser.
async fn sign_in_from(app: &TestApp, address: &str, name: &str, password: &str) -> reqwest::Response {
    let client = new_client();
    let from = [("x-forwarded-for", address)];
    let html = get_with(app, &client, "/login?lang=en", &from)
        .await
        .text()
        .await
        .unwrap();
    let pairs = vec![
        ("_csrf".to_string(), hidden_value(&html, "_csrf")),
        ("username".to_string(), name.to_string()),
        ("password".to_string(), password.to_string()),
    ];
    post_with(app, &client, "/login", &pairs, &from).await
}

async fn behind_proxy() -> TestApp {
    spawn_app_with(
        |_| {},
        |config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await
}

fn actions(app: &TestApp) -> Vec<(String, String, String)> {
    let mut entries = app.db().audit_log(100).unwrap();
    entries.reverse();
    entries
        .into_iter()
        .map(|e| (e.username, e.action, e.detail))
        .filter(|(_, a, _)| a.starts_with("login"))
        .collect()
}

#[tokio::test]
async fn an_account_is_locked_after_repeated_failures_from_anywhere() {
    let app = behind_proxy().await;
    app.add_user("li.wei", Role::Admin);
    for i in 1..=5 {
        let r = sign_in_from(&app, &format!("198.51.100.{i}"), "li.wei", "wrong password!").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    // The right password from a new address: the account is locked.
    let locked = sign_in_from(&app, "203.0.113.99", "li.wei", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let wait: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "the first lockout is 30 s: {wait}");
    assert!(locked
        .headers()
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().contains("cp_session=")));
    assert!(locked.text().await.unwrap().contains("Too many failed sign-ins"));

    let audit = actions(&app);
    let failed: Vec<_> = audit.iter().filter(|(_, a, _)| a == "login.failed").collect();
    assert_eq!(failed.len(), 5);
    assert!(failed.iter().all(|(who, _, _)| who == "li.wei"));
    assert!(
        failed[4].2.contains("5 failures in a row, locked until"),
        "{:?}",
        failed[4]
    );
    assert_eq!(
        audit.last().map(|(w, a, d)| (w.as_str(), a.as_str(), d.as_str())),
        Some(("li.wei", "login.locked", "account locked"))
    );

    // Once the lock has run out, the right password works and the run of
    // failures starts again.
    let mut conn = civicpulse::db::raw_connection(&app.database).unwrap();
    diesel::sql_query("UPDATE users SET locked_until = '2000-01-01T00:00:00Z'")
        .execute(&mut conn)
        .unwrap();
    let ok = sign_in_from(&app, "203.0.113.99", "li.wei", PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let again = sign_in_from(&app, "203.0.113.98", "li.wei", "wrong password!").await;
    assert_eq!(again.status(), 401, "one failure after a success does not lock");
    assert!(actions(&app).last().unwrap().2.contains("1 failures in a row"));
}

#[tokio::test]
async fn a_client_is_locked_after_repeated_failures_on_any_accounts() {
    let app = behind_proxy().await;
    app.add_user("kim.minji", Role::Designer);
    for i in 1..=5 {
        let r = sign_in_from(&app, "192.0.2.10", &format!("guess{i}"), "password guess").await;
        assert_eq!(r.status(), 401);
    }
    // That client is locked out, even with a right password…
    let locked = sign_in_from(&app, "192.0.2.10", "kim.minji", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    // …and nobody else is.
    let other = sign_in_from(&app, "192.0.2.11", "kim.minji", PASSWORD).await;
    assert_eq!(other.status(), 303);
    let audit = actions(&app);
    let unknown: Vec<_> = audit
        .iter()
        .filter(|(w, a, _)| a == "login.failed" && w == "(unknown)")
        .collect();
    assert_eq!(unknown.len(), 5);
    // A name that is no account may be a password typed in the wrong box.
    assert!(audit.iter().all(|(_, _, d)| !d.contains("guess")));
    assert!(audit
        .iter()
        .any(|(w, a, d)| w == "kim.minji" && a == "login.locked" && d == "client locked"));
}
