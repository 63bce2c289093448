use crate::helpers::*;

#[tokio::test]
async fn residents_in_each_language_are_each_counted_once() {
    let app = spawn_app().await;
    let survey = livability();
    for lang in ["zh", "en", "ko"] {
        let page = app.get_form(lang).await;
        let response = app
            .post_pairs("/s/livability", &with_tokens(&page, lang, &valid_answers(&survey)))
            .await;
        assert_eq!(response.status(), 303, "{lang}");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("/s/livability/thanks?lang={lang}"));
        let thanks = app.get(&location).await;
        assert_eq!(thanks.status(), 200);
        let code: civicpulse::lang::Lang = lang.parse().unwrap();
        assert!(thanks.text().await.unwrap().contains(&escaped(survey.thanks.get(code))));
    }
    let stored = app.stored();
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored.iter().map(|r| r.lang.as_str()).collect::<Vec<_>>(),
        ["zh", "en", "ko"]
    );
    let first = &stored[0];
    assert_eq!(first.version, 2);
    let district = first
        .answers
        .iter()
        .find(|(q, _)| q == "district")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        district,
        Some(survey.question("district").unwrap().kind.options()[4].value.as_str())
    );
    let suggestion = first
        .answers
        .iter()
        .find(|(q, _)| q == "suggestions")
        .map(|(_, v)| v.as_str());
    assert_eq!(suggestion, Some("更多公园 — more parks, 공원을 더"));
    assert!(first.submitted_at.ends_with('Z') && first.submitted_at.len() == 20);
}

#[tokio::test]
async fn a_double_submission_is_stored_once_and_thanked_again() {
    let app = spawn_app().await;
    let page = app.get_form("en").await;
    let pairs = with_tokens(&page, "en", &valid_answers(&livability()));
    let first = app.post_pairs("/s/livability", &pairs).await;
    assert_eq!(first.status(), 303);
    let second = app.post_pairs("/s/livability", &pairs).await;
    assert_eq!(second.status(), 303);
    let location = second.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("again=1"));
    let thanks = app.get(&location).await.text().await.unwrap();
    assert!(thanks.contains(&escaped(livability().thanks.get(civicpulse::lang::Lang::En))));
    assert_eq!(app.stored().len(), 1);
}

#[tokio::test]
async fn an_invalid_submission_is_refused_with_every_answer_kept() {
    let app = spawn_app().await;
    let page = app.get_form("ko").await;
    let answers: Vec<(String, String)> = vec![
        ("district".into(), "rushan".into()),
        ("sex".into(), "female".into()),
        ("safety_night".into(), "9".into()), // not an option
        ("nature_air".into(), "4".into()),
        ("suggestions".into(), "바다 산책로를 넓혀 주세요".into()),
    ];
    let response = app
        .post_pairs("/s/livability", &with_tokens(&page, "ko", &answers))
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\""), "same language");
    assert!(html.contains("role=\"alert\""), "error summary");
    assert!(
        html.contains("href=\"#q-age_group\""),
        "summary links to a missing required question"
    );
    assert!(
        html.contains("href=\"#q-safety_night\""),
        "summary links to the bad option"
    );
    assert!(is_checked(&html, "q-district-rushan"));
    assert!(is_checked(&html, "q-sex-female"));
    assert!(is_checked(&html, "q-nature_air-4"));
    assert!(!is_checked(&html, "q-nature_air-3"));
    assert!(html.contains("바다 산책로를 넓혀 주세요"), "text answer kept");
    assert_eq!(
        hidden_value(&html, "_form"),
        page.form_token,
        "same form, so a retry is still deduplicated"
    );
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn switching_language_keeps_answers_and_stores_nothing() {
    let app = spawn_app().await;
    let page = app.get_form("zh").await;
    let mut pairs = with_tokens(
        &page,
        "zh",
        &[
            ("district".into(), "wendeng".into()),
            ("suggestions".into(), "多建公园".into()),
            ("mob_transit".into(), "dk".into()),
        ],
    );
    pairs.push(("_switch_lang".into(), "en".into()));
    let response = app.post_pairs("/s/livability", &pairs).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""));
    assert!(html.contains(&escaped(livability().title.get(civicpulse::lang::Lang::En))));
    assert!(is_checked(&html, "q-district-wendeng"));
    assert!(is_checked(&html, "q-mob_transit-dk"));
    assert!(html.contains("多建公园"));
    assert!(!html.contains("role=\"alert\""), "no validation on a language switch");
    assert!(app.stored().is_empty());
    // The switched form submits in its new language.
    let switched = FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    };
    let response = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&switched, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.stored()[0].lang, "en");
}

#[tokio::test]
async fn skip_logic_ignores_hidden_answers_and_requires_shown_ones() {
    let app = spawn_app().await;
    let survey = livability();
    // A local resident's answer to the foreign-residents question is dropped.
    let page = app.get_form("en").await;
    let mut answers = valid_answers(&survey);
    answers.push(("foreign_services".into(), "5".into()));
    let response = app
        .post_pairs("/s/livability", &with_tokens(&page, "en", &answers))
        .await;
    assert_eq!(response.status(), 303);
    let stored = app.stored();
    assert!(!stored[0].answers.iter().any(|(q, _)| q == "foreign_services"));

    // For a foreign resident the question is shown, so it is required.
    let page = app.get_form("en").await;
    let mut answers: Vec<(String, String)> = valid_answers(&survey)
        .into_iter()
        .filter(|(q, _)| q != "resident_type")
        .collect();
    answers.push(("resident_type".into(), "foreign".into()));
    let response = app
        .post_pairs("/s/livability", &with_tokens(&page, "en", &answers))
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("href=\"#q-foreign_services\""));

    answers.push(("foreign_services".into(), "4".into()));
    let response = app
        .post_pairs("/s/livability", &with_tokens(&page, "en", &answers))
        .await;
    assert_eq!(response.status(), 303);
    let stored = app.stored();
    assert_eq!(stored.len(), 2);
    assert!(stored[1]
        .answers
        .contains(&("foreign_services".to_string(), "4".to_string())));
}
