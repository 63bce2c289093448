use crate::helpers::*;

#[tokio::test]
async fn form_renders_in_each_language_with_accessible_structure() {
    let app = spawn_app().await;
    let survey = livability();
    for (lang, html_lang) in [("zh", "zh-Hans"), ("en", "en"), ("ko", "ko")] {
        let page = app.get_form(lang).await;
        let html = &page.html;
        let code: civicpulse::lang::Lang = lang.parse().unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{html_lang}\"")),
            "{lang}: html lang"
        );
        assert!(html.contains(&escaped(survey.title.get(code))), "{lang}: title");
        // The first page is the first section, and only it.
        let first: Vec<_> = survey.questions.iter().filter(|q| q.section == 0).collect();
        for q in &first {
            assert!(html.contains(&escaped(q.text.get(code))), "{lang}: text of {}", q.id);
            assert!(
                html.contains(&format!("id=\"q-{}\"", q.id)),
                "{lang}: wrapper of {}",
                q.id
            );
        }
        assert!(
            !html.contains("id=\"q-safety_night\""),
            "{lang}: the next section waits"
        );
        assert_eq!(
            html.matches("<fieldset").count(),
            first.len(),
            "{lang}: one fieldset per question"
        );
        assert_eq!(
            html.matches("<legend").count(),
            first.len(),
            "{lang}: one legend per question"
        );
        // Every radio of a required, always-shown question carries `required`.
        let district = tag_with(html, "id=\"q-district-huancui\"").unwrap();
        assert!(district.contains("required"), "{lang}: required radios");
        // Enter in a field means Continue: the first submit button is the
        // off-screen copy of it.
        let at = html.find("<button").unwrap();
        let first_button = &html[at..=at + html[at..].find('>').unwrap()];
        assert!(
            first_button.contains("default-submit") && first_button.contains("name=\"_go\" value=\"next\""),
            "{lang}: {first_button}"
        );
        assert!(page.csrf.len() == 32 && page.form_token.len() == 56);
        assert!(html.contains("/static/style.css"));
        assert!(!html.contains("https://"), "{lang}: no external assets");
    }
}

#[tokio::test]
async fn language_comes_from_query_then_cookie_then_header_then_chinese() {
    let app = spawn_app().await;
    let fresh = new_client();
    let html = |r: reqwest::Response| async { r.text().await.unwrap() };

    let default = html(fresh.get(app.url("/s/livability")).send().await.unwrap()).await;
    assert!(default.contains("<html lang=\"zh-Hans\""));

    let korean = html(
        fresh
            .get(app.url("/s/livability"))
            .header("accept-language", "ko-KR,ko;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(korean.contains("<html lang=\"ko\""));

    // ?lang= wins and is remembered in a cookie.
    let english = html(
        fresh
            .get(app.url("/s/livability?lang=en"))
            .header("accept-language", "ko")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(english.contains("<html lang=\"en\""));
    let remembered = html(
        fresh
            .get(app.url("/s/livability"))
            .header("accept-language", "ko")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(remembered.contains("<html lang=\"en\""), "cookie beats Accept-Language");
}

#[tokio::test]
async fn static_assets_and_home_page_are_served() {
    let app = spawn_app().await;
    let css = app.get("/static/style.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(!css.text().await.unwrap().is_empty());
    assert_eq!(app.get("/static/form.js").await.status(), 200);
    assert_eq!(app.get("/static/nope.js").await.status(), 404);
    let home = app.get("/?lang=en").await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("/s/livability"));
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
}

/// Every kind of response carries the security headers: a page, an asset,
/// a not-found page, a redirect, an API error, the health check, a
/// refused form.
#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app_with(|_| {}, |config| config.hsts = true).await;
    let kinds = [
        ("page", app.get("/s/livability?lang=en").await),
        ("asset", app.get("/static/style.css").await),
        ("not found", app.get("/nowhere").await),
        ("redirect", app.get("/admin").await),
        ("API error", app.get("/api/v1/surveys/livability/indices").await),
        ("health", app.get("/health").await),
        (
            "refused form",
            app.post_raw("/s/livability", "application/x-www-form-urlencoded", b"%%%".to_vec())
                .await,
        ),
    ];
    for (kind, response) in kinds {
        let h = response.headers();
        let status = response.status();
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(
            csp.as_deref().is_some_and(|c| c.contains("frame-ancestors 'none'")),
            "{kind} ({status}): CSP {csp:?}"
        );
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("strict-transport-security", "max-age=31536000"),
        ] {
            assert_eq!(
                h.get(name).map(|v| v.to_str().unwrap()),
                Some(value),
                "{kind} ({status}): {name}"
            );
        }
        assert!(
            h.get("permissions-policy")
                .is_some_and(|v| v.to_str().unwrap().contains("camera=()")),
            "{kind} ({status})"
        );
    }
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/s/livability").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(
        response.headers().get("strict-transport-security").is_none(),
        "no HSTS unless asked"
    );
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let csrf = cookies.iter().find(|c| c.starts_with("cp_csrf=")).expect("csrf cookie");
    assert!(csrf.contains("HttpOnly") && csrf.contains("SameSite=Lax"));
}

#[tokio::test]
async fn every_blank_form_carries_its_own_tokens() {
    let app = spawn_app().await;
    let first = app.get_form("ko").await;
    let again = app.get_form("ko").await;
    assert_eq!(first.csrf, again.csrf, "the browser keeps its CSRF cookie");
    assert_ne!(first.form_token, again.form_token, "each form is a new response");
    let stranger = new_client();
    let html = stranger
        .get(app.url("/s/livability?lang=ko"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let other = FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    };
    assert_ne!(first.csrf, other.csrf);
    for page in [&first, &again, &other] {
        assert!(
            !page.html.contains("c5c5c5c5c5c5c5c5") && !page.html.contains("f0f0f0f0f0f0f0f0"),
            "no stand-in left"
        );
    }
    // Apart from the tokens, the pages are the same page.
    let strip = |p: &FormPage| p.html.replace(&p.csrf, "CSRF").replace(&p.form_token, "FORM");
    assert_eq!(strip(&first), strip(&other));
}
