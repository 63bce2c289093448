//! Bad input gets a clear 4xx in the resident's language, and nothing is stored.

use crate::helpers::*;

#[tokio::test]
async fn unknown_survey_is_a_404_page_in_the_residents_language() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/s/no-such-survey"))
        .header("accept-language", "ko")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\""));
    let messages = civicpulse::web::i18n::Messages::load().unwrap();
    assert!(html.contains(&messages.text(civicpulse::lang::Lang::Ko, "not_found_message", &[])));
    let response = app.get("/nowhere?lang=en").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("<html lang=\"en\""));
    let post = app.post_pairs("/s/no-such-survey", &[]).await;
    assert_eq!(post.status(), 404);
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let page = app.get_form("en").await;
    let good = encode_pairs(&with_tokens(&page, "en", &valid_answers(&livability())));
    let form = "application/x-www-form-urlencoded";

    // Broken percent escape.
    let r = app
        .post_raw("/s/livability", form, format!("{good}&district=%G1").into_bytes())
        .await;
    assert_eq!(r.status(), 400);
    // Invalid UTF-8, raw and percent-encoded.
    let mut raw = good.clone().into_bytes();
    raw.extend_from_slice(b"&suggestions=\xff\xfe");
    assert_eq!(app.post_raw("/s/livability", form, raw).await.status(), 400);
    let r = app
        .post_raw("/s/livability", form, format!("{good}&suggestions=%C3%28").into_bytes())
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text().await.unwrap().contains("<html lang=\"en\""),
        "error page in the resident's language"
    );
    // Oversized.
    let big = format!("{good}&suggestions={}", "a".repeat(300 * 1024));
    assert_eq!(
        app.post_raw("/s/livability", form, big.into_bytes()).await.status(),
        413
    );
    // Not a form.
    assert_eq!(
        app.post_raw("/s/livability", "application/json", b"{}".to_vec())
            .await
            .status(),
        415
    );
    // Missing form token: refused, the answers given back with a new one.
    let no_token: Vec<_> = with_tokens(&page, "en", &valid_answers(&livability()))
        .into_iter()
        .filter(|(k, _)| k != "_form")
        .collect();
    let refused = app.post_pairs("/s/livability", &no_token).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("could not be verified"));
    // Unknown language code.
    let mut bad_lang = with_tokens(&page, "en", &valid_answers(&livability()));
    bad_lang[2].1 = "fr".into();
    assert_eq!(app.post_pairs("/s/livability", &bad_lang).await.status(), 400);
    // Wrong method.
    let r = app.client.put(app.url("/s/livability")).send().await.unwrap();
    assert_eq!(r.status(), 405);

    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn unknown_questions_and_over_long_text_are_validation_errors() {
    let app = spawn_app().await;
    let page = app.get_form("zh").await;
    let mut answers = valid_answers(&livability());
    answers.push(("not_a_question".into(), "1".into()));
    let r = app
        .post_pairs("/s/livability", &with_tokens(&page, "zh", &answers))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not_a_question"));

    let mut answers: Vec<_> = valid_answers(&livability())
        .into_iter()
        .filter(|(q, _)| q != "suggestions")
        .collect();
    answers.push(("suggestions".into(), "长".repeat(1001)));
    let r = app
        .post_pairs("/s/livability", &with_tokens(&page, "zh", &answers))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("href=\"#q-suggestions\""));

    // Two answers to a one-answer question.
    let mut answers = valid_answers(&livability());
    answers.push(("district".into(), "huancui".into()));
    let r = app
        .post_pairs("/s/livability", &with_tokens(&page, "zh", &answers))
        .await;
    assert_eq!(r.status(), 422);
    assert!(app.stored().is_empty());
}

/// A refusal never grows with what was sent: thirty thousand made-up
/// fields (252 KiB) once came back as a 3.7 MiB page. (Twenty thousand
/// here, to stay inside the form's 256 KiB limit.)
#[tokio::test]
async fn a_flood_of_unknown_fields_gets_one_short_refusal() {
    let app = spawn_app().await;
    let refusal = |extra: Vec<(String, String)>| {
        let app = &app;
        async move {
            let page = app.get_form("en").await;
            let mut answers = valid_answers(&livability());
            answers.extend(extra);
            let r = app
                .post_pairs("/s/livability", &with_tokens(&page, "en", &answers))
                .await;
            assert_eq!(r.status(), 422);
            r.text().await.unwrap()
        }
    };
    let one = refusal(vec![("x0".into(), "1".into())]).await;
    let mut flood: Vec<(String, String)> = (0..20_000).map(|i| (format!("x{i}"), "1".to_string())).collect();
    flood.push(("y".repeat(5_000), "1".into()));
    let html = refusal(flood).await;
    assert!(
        html.len() < one.len() + 256,
        "the refusal of 20,001 unknown fields is {} bytes, of one {}",
        html.len(),
        one.len()
    );
    assert!(html.contains("x0"), "the first unknown field is named");
    assert!(!html.contains("x19999") && !html.contains(&"y".repeat(65)));
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn a_forged_or_expired_csrf_token_is_refused_but_answers_are_kept() {
    let app = spawn_app().await;
    let page = app.get_form("en").await;
    let mut pairs = with_tokens(&page, "en", &valid_answers(&livability()));
    pairs[0].1 = "0".repeat(32);
    let r = app.post_pairs("/s/livability", &pairs).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(
        is_checked(&html, "q-sex-female") || is_checked(&html, "q-sex-male"),
        "answers kept"
    );
    assert!(app.stored().is_empty());

    // A cross-site post carries no cookie at all.
    let stranger = new_client();
    let r = stranger
        .post(app.url("/s/livability"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_pairs(&with_tokens(&page, "en", &valid_answers(&livability()))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(app.stored().is_empty());

    // The re-rendered form carries a fresh token that works.
    let fresh = FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    };
    let r = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&fresh, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.stored().len(), 1);
}

/// Sends headers for a 1,000-byte body, then one byte every 100 ms; the
/// status line the server answers with before the body is complete.
async fn drip(address: &str, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 256];
    for _ in 0..100 {
        if stream.write_all(b"a").await.is_err() {
            break;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(std::time::Duration::from_millis(100), stream.read(&mut answer)).await {
            return (n > 0).then(|| {
                String::from_utf8_lossy(&answer[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
        }
    }
    None
}

/// A body sent a byte at a time is cut off at the deadline, on every kind
/// of route: it cannot hold a connection open for as long as it likes.
#[tokio::test]
async fn a_body_that_drips_in_is_cut_off_at_the_deadline() {
    let app = spawn_app_with(
        |_| {},
        |config| config.body_deadline = std::time::Duration::from_secs(1),
    )
    .await;
    for path in ["/s/livability", "/login", "/s/livability/start"] {
        let status = drip(&app.address, path).await;
        let status = status.unwrap_or_else(|| panic!("{path}: no answer while the body dripped for 10 s"));
        assert!(status.contains(" 400 ") || status.contains(" 408 "), "{path}: {status}");
    }
    assert!(app.stored().is_empty());
}
