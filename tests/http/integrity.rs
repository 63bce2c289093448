//! Forged and flooded submissions, through the real server: a form token
//! the server did not issue is refused with the answers given back and
//! nothing stored, and one client is held to its rate limit with 429s that
//! keep the answers.

use crate::helpers::*;
use civicpulse::fieldwork::Access;
use civicpulse::web::limits::Limits;
use civicpulse::web::security::{issue_form_token, FormBinding};

const SUGGESTION: &str = "更多公园 — more parks, 공원을 더";

/// `pairs` with `_form` replaced.
fn with_form_token(mut pairs: Vec<(String, String)>, token: &str) -> Vec<(String, String)> {
    for (k, v) in pairs.iter_mut() {
        if k == "_form" {
            *v = token.to_string();
        }
    }
    pairs
}

#[tokio::test]
async fn made_up_altered_and_stale_form_tokens_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let survey = livability();
    let answers = valid_answers(&survey);
    let page = app.get_form("en").await;
    let genuine = with_tokens(&page, "en", &answers);

    let altered = |i: usize, token: &str| {
        let mut bytes = token.to_string().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).unwrap()
    };
    let forgeries: [&dyn Fn(&str) -> String; 4] = [
        // Made up, in the shape the old server accepted (32 hex digits).
        &|_| "0123456789abcdef0123456789abcdef".to_string(),
        // Made up, in the shape of a real token.
        &|_| "ab".repeat(28),
        // A real token with one digit of its issue time changed…
        &|t| altered(3, t),
        // …or of its MAC.
        &|t| altered(50, t),
    ];
    for forge in forgeries {
        // Each from its own browser: a refusal hands out new tokens.
        let browser = new_client();
        let html = get(&app, &browser, "/s/livability?lang=en").await.text().await.unwrap();
        let own = FormPage {
            csrf: hidden_value(&html, "_csrf"),
            form_token: hidden_value(&html, "_form"),
            html,
        };
        let pairs = with_form_token(with_tokens(&own, "en", &answers), &forge(&own.form_token));
        let refused = post(&app, &browser, "/s/livability", &pairs).await;
        assert_eq!(refused.status(), 403);
        let html = refused.text().await.unwrap();
        assert!(html.contains("This form could not be verified, so nothing has been saved"));
        assert!(html.contains(&escaped(SUGGESTION)), "answers given back");
    }
    // A made-up CSRF pair (cookie and field agree) with a real form token
    // bound to another CSRF token: refused too.
    let other = new_client();
    let forged_csrf = "f".repeat(32);
    let mut pairs = genuine.clone();
    pairs[0].1 = forged_csrf.clone();
    let cookie = format!("cp_csrf={forged_csrf}");
    let refused = post_with(&app, &other, "/s/livability", &pairs, &[("cookie", &cookie)]).await;
    assert_eq!(refused.status(), 403);
    // A token the server did issue, but eight days ago.
    let stale = issue_form_token(
        &app.key(),
        &FormBinding {
            slug: "livability",
            version: 2,
            csrf: &page.csrf,
        },
        time::OffsetDateTime::now_utc() - time::Duration::days(8),
    );
    let refused = app
        .post_pairs("/s/livability", &with_form_token(genuine.clone(), &stale))
        .await;
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert!(html.contains("This form was open for too long"));
    assert!(app.stored().is_empty(), "nothing stored");

    // The refusal page carries fresh tokens: one more tap sends the answers.
    let retry = FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    };
    let sent = app
        .post_pairs("/s/livability", &with_tokens(&retry, "en", &answers))
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(app.stored().len(), 1);
}

#[tokio::test]
async fn a_flood_from_one_client_is_held_to_its_limit_with_429s_that_keep_the_answers() {
    let app = spawn_app_with(|_| {}, |config| config.limits = Limits::default()).await;
    let burst = Limits::default().submit.burst as usize;
    let answers = valid_answers(&livability());
    let (mut stored, mut limited) = (0, 0);
    for _ in 0..burst + 10 {
        let page = app.get_form("zh").await;
        let response = app
            .post_pairs("/s/livability", &with_tokens(&page, "zh", &answers))
            .await;
        match response.status().as_u16() {
            303 => stored += 1,
            429 => {
                limited += 1;
                let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&wait), "{wait}");
                let html = response.text().await.unwrap();
                assert!(html.contains("提交次数过多"), "in the resident's language");
                assert!(html.contains(&escaped(SUGGESTION)), "answers kept");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((stored, limited), (burst, 10));
    assert_eq!(app.stored().len(), burst);
}

#[tokio::test]
async fn code_guessing_is_limited_per_client_and_proxies_are_believed_only_when_trusted() {
    let app = spawn_app_with(
        |_| {},
        |config| {
            config.limits = Limits::default();
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        },
    )
    .await;
    app.set_up_wave(Access::Invitation, &[("huancui", 1000.0)]);
    let guesses = Limits::default().code.burst as usize;
    let guesser = new_client();
    for _ in 0..guesses {
        assert_ne!(guess_code(&app, &guesser, "203.0.113.7").await, 429);
    }
    assert_eq!(guess_code(&app, &guesser, "203.0.113.7").await, 429);
    // Behind the trusted proxy, another resident is another client.
    assert_ne!(guess_code(&app, &new_client(), "198.51.100.20").await, 429);

    // Without a trusted proxy, the header is ignored: every request is the
    // same client, however many addresses it claims.
    let direct = spawn_app_with(|_| {}, |config| config.limits = Limits::default()).await;
    direct.set_up_wave(Access::Invitation, &[("huancui", 1000.0)]);
    let mut statuses = Vec::new();
    for i in 0..=guesses {
        statuses.push(guess_code(&direct, &new_client(), &format!("192.0.2.{i}")).await);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

/// One try of a made-up code on the start page, from `forwarded`.
async fn guess_code(app: &TestApp, client: &reqwest::Client, forwarded: &str) -> u16 {
    let from = [("x-forwarded-for", forwarded)];
    let start = get_with(app, client, "/s/livability?lang=en", &from)
        .await
        .text()
        .await
        .unwrap();
    let pairs = vec![
        ("_csrf".to_string(), hidden_value(&start, "_csrf")),
        ("_lang".to_string(), "en".to_string()),
        ("code".to_string(), "7K3M-Q9TX-2HBR".to_string()),
    ];
    post_with(app, client, "/s/livability/start", &pairs, &from)
        .await
        .status()
        .as_u16()
}
