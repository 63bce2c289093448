//! The designers' pages under /admin/surveys: the list, a survey's
//! versions, export, import as the draft and publishing, with roles and
//! CSRF checked on the server and residents served the new version at once.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::survey::raw::RawSurvey;

/// The session's CSRF token, from the sign-out form of a staff page.
async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = get(app, client, "/admin").await.text().await.unwrap();
    hidden_value(&html, "_csrf")
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The current published version (the built-in v2; v1 is its history) as
/// a raw model, to edit into a new definition.
fn published(app: &TestApp) -> RawSurvey {
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    toml::from_str(&text).unwrap()
}

fn published_versions(app: &TestApp) -> Vec<u32> {
    app.db()
        .versions("livability")
        .unwrap()
        .into_iter()
        .filter(|v| v.status == "published")
        .map(|v| v.version)
        .collect()
}

#[tokio::test]
async fn a_statistician_sees_the_list_but_cannot_import_or_publish() {
    let app = spawn_app().await;
    let client = app.signed_in("sam", Role::Statistician).await;

    let response = get(&app, &client, "/admin/surveys?lang=en").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("href=\"/admin/surveys/livability\""), "{html}");
    assert!(html.contains("staff-status--open"), "{html}");
    assert!(html.contains("<li>v1: 0</li>"), "{html}");

    let html = get(&app, &client, "/admin/surveys/livability")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<textarea"), "read-only for statisticians");

    let token = csrf(&app, &client).await;
    let text = toml::to_string_pretty(&published(&app)).unwrap();
    let import = pairs(&[("_csrf", &token), ("definition", &text)]);
    assert_eq!(
        post(&app, &client, "/admin/surveys/livability/import", &import)
            .await
            .status(),
        403
    );
    assert_eq!(app.db().draft("livability").unwrap(), None);

    // Even with a draft there, a statistician cannot publish it.
    app.db().store_draft(published(&app), "test").unwrap();
    let publish = pairs(&[("_csrf", &token)]);
    assert_eq!(
        post(&app, &client, "/admin/surveys/livability/publish", &publish)
            .await
            .status(),
        403
    );
    assert_eq!(published_versions(&app), vec![1, 2]);
}

#[tokio::test]
async fn a_designer_imports_and_publishes_and_residents_get_it_without_restart() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;

    let mut raw = published(&app);
    raw.title.en = Some("Life in our city, 2027".to_string());
    let text = toml::to_string_pretty(&raw).unwrap();
    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/import",
        &pairs(&[("_csrf", &token), ("definition", &text)]),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/surveys/livability?imported=3");
    let draft = app.db().draft("livability").unwrap().expect("draft stored");
    assert_eq!(draft.version, 3);

    // Not served before it is published.
    let html = app.get("/s/livability?lang=en").await.text().await.unwrap();
    assert_eq!(hidden_value(&html, "_v"), "2");

    let html = get(&app, &client, &format!("{}&lang=en", location(&response)))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("The draft is stored as version 3."), "{html}");
    assert!(
        html.contains(&escaped("/admin/surveys/livability/export?draft=1")),
        "{html}"
    );

    let today = time::OffsetDateTime::now_utc().date().to_string();
    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/publish",
        &pairs(&[("_csrf", &token), ("opens", &today), ("closes", "")]),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/surveys/livability?published=3");
    assert_eq!(published_versions(&app), vec![1, 2, 3]);

    // The running server serves v2 at once.
    let page = app.get_form("en").await;
    assert_eq!(hidden_value(&page.html, "_v"), "3");
    assert!(page.html.contains("Life in our city, 2027"));

    let html = get(&app, &client, "/admin/surveys?lang=en").await.text().await.unwrap();
    assert!(html.contains("<li>v3: 0</li>"), "{html}");
    assert!(html.contains(&today), "{html}");

    // Both changes are in the audit log under the designer's name.
    let entries: Vec<(String, String)> = app
        .db()
        .audit_log(20)
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("survey."))
        .map(|e| (e.username, e.action))
        .collect();
    assert!(
        entries.contains(&("dana".to_string(), "survey.import".to_string())),
        "{entries:?}"
    );
    assert!(
        entries.contains(&("dana".to_string(), "survey.publish".to_string())),
        "{entries:?}"
    );
}

#[tokio::test]
async fn publishing_a_draft_missing_a_korean_text_lists_the_problems_and_publishes_nothing() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;

    let mut raw = published(&app);
    raw.sections
        .iter_mut()
        .flat_map(|s| &mut s.questions)
        .find(|q| q.id == "safety_night")
        .unwrap()
        .text
        .ko = None;
    raw.title.ko = None;
    let text = toml::to_string_pretty(&raw).unwrap();
    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/import?lang=ko",
        &pairs(&[("_csrf", &token), ("definition", &text)]),
    )
    .await;
    assert_eq!(response.status(), 303, "a draft may miss translations");

    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/publish?lang=ko",
        &pairs(&[("_csrf", &token)]),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("게시하지 않았습니다"), "{html}");
    for problem in [
        r#"question "safety_night", field "text.ko": missing Korean text"#,
        r#"field "title.ko": missing Korean text"#,
    ] {
        assert!(html.contains(&escaped(problem)), "{problem} in {html}");
    }
    assert_eq!(published_versions(&app), vec![1, 2]);
    assert_eq!(hidden_value(&app.get_form("en").await.html, "_v"), "2");
}

#[tokio::test]
async fn export_returns_the_stored_text() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;

    let response = get(&app, &client, "/admin/surveys/livability/export?version=1").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"livability-v1.toml\""
    );
    let (_, stored) = app.db().published_definition("livability", Some(1)).unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), stored);

    assert_eq!(
        get(&app, &client, "/admin/surveys/livability/export?draft=1")
            .await
            .status(),
        404
    );
    app.db().store_draft(published(&app), "test").unwrap();
    let response = get(&app, &client, "/admin/surveys/livability/export?draft=1").await;
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"livability-v3-draft.toml\""
    );
    let draft = app.db().draft("livability").unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), draft.definition);
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_are_refused() {
    let app = spawn_app().await;
    let client = app.signed_in("ada", Role::Admin).await;
    let text = toml::to_string_pretty(&published(&app)).unwrap();

    for import in [
        pairs(&[("definition", &text)]),
        pairs(&[("_csrf", &"0".repeat(64)), ("definition", &text)]),
    ] {
        let response = post(&app, &client, "/admin/surveys/livability/import", &import).await;
        assert_eq!(response.status(), 403);
    }
    assert_eq!(app.db().draft("livability").unwrap(), None);

    app.db().store_draft(published(&app), "test").unwrap();
    let response = post(&app, &client, "/admin/surveys/livability/publish", &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(published_versions(&app), vec![1, 2]);
}

#[tokio::test]
async fn an_unreadable_file_is_shown_with_its_problem_and_nothing_is_stored() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;

    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/import?lang=zh",
        &pairs(&[("_csrf", &token), ("definition", "slug = \"livability\"\nversion = [")]),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("草稿未保存"), "{html}");
    assert!(html.contains("not a valid survey definition"), "{html}");
    assert!(html.contains(&escaped("version = [")), "the text comes back to fix");
    assert_eq!(app.db().draft("livability").unwrap(), None);
}

#[tokio::test]
async fn editing_a_published_survey_starts_a_new_draft_from_it() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;
    let page = get(&app, &client, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Start a new draft from the published version"), "{page}");

    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/import",
        &pairs(&[("_csrf", &token), ("from_published", "1")]),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/surveys/livability?imported=3");
    let draft = app.db().draft("livability").unwrap().expect("draft stored");
    assert_eq!(draft.version, 3);
    let mut copy: RawSurvey = toml::from_str(&draft.definition).unwrap();
    copy.version = 2;
    assert_eq!(copy, published(&app), "the draft is the published version, renumbered");
    assert_eq!(
        published_versions(&app),
        vec![1, 2],
        "nothing is published by starting a draft"
    );
}

/// The designer's whole path through the real server: a new draft from the
/// published version, a structural edit, a translation, the preview,
/// publication of v2, and residents answering both versions.
#[tokio::test]
async fn a_designers_whole_path_from_draft_to_v2_keeps_v1_answers() {
    use civicpulse::survey::Survey;
    let app = spawn_app().await;
    // A resident answers v1 before anything changes.
    let page = app.get_form("zh").await;
    let v1_answers = valid_answers(&livability());
    assert_eq!(
        app.post_pairs("/s/livability", &with_tokens(&page, "zh", &v1_answers))
            .await
            .status(),
        303
    );

    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;
    let base = "/admin/surveys/livability";
    // Edit the published survey: a new draft from it.
    let r = post(
        &app,
        &client,
        &format!("{base}/import"),
        &pairs(&[("_csrf", &token), ("from_published", "1")]),
    )
    .await;
    assert_eq!(r.status(), 303);
    // Retire one question, add another with only its English text.
    let r = post(
        &app,
        &client,
        &format!("{base}/structure"),
        &pairs(&[
            ("_csrf", &token),
            ("op", "remove_question"),
            ("question", "safety_food"),
        ]),
    )
    .await;
    assert_eq!(r.status(), 303);
    let add = [
        ("_csrf", token.as_str()),
        ("op", "add_question"),
        ("section", "safety"),
        ("id", "safety_lighting"),
        ("type", "likert"),
        ("scale", "satisfaction5"),
        ("text_zh", ""),
        ("text_en", "How satisfied are you with street lighting at night?"),
        ("text_ko", ""),
        ("options", ""),
    ];
    assert_eq!(
        post(&app, &client, &format!("{base}/structure"), &pairs(&add))
            .await
            .status(),
        303
    );
    // Publishing now is refused: two translations are missing.
    let r = post(&app, &client, &format!("{base}/publish"), &pairs(&[("_csrf", &token)])).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("questions.safety_lighting") || html.contains("safety_lighting"),
        "{html}"
    );
    // Translate them.
    let translations = get(&app, &client, &format!("{base}/translations?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        translations.contains("questions.safety_lighting.text"),
        "missing strings are listed"
    );
    let r = post(
        &app,
        &client,
        &format!("{base}/translations"),
        &pairs(&[
            ("_csrf", &token),
            ("questions.safety_lighting.text|zh", "您对夜间道路照明是否满意？"),
            (
                "questions.safety_lighting.text|ko",
                "야간 가로등 조명에 대해 얼마나 만족하십니까?",
            ),
        ]),
    )
    .await;
    assert_eq!(r.status(), 303);
    // Preview in Korean shows the new question as residents will see it.
    let preview = get(&app, &client, &format!("{base}/preview?lang=ko&draft=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(preview.contains("<html lang=\"ko\""));
    assert!(preview.contains("야간 가로등 조명에 대해 얼마나 만족하십니까?"));
    // Publish v2; residents get it at once.
    let r = post(&app, &client, &format!("{base}/publish"), &pairs(&[("_csrf", &token)])).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(published_versions(&app), vec![1, 2, 3]);
    let page = app.get_form("ko").await;
    assert_eq!(hidden_value(&page.html, "_v"), "3");
    // The form is one section per page now: its questions are checked
    // through the one-shot submission below and in the preview above.
    let (_, text) = app.db().published_definition("livability", Some(3)).unwrap().unwrap();
    let v2 = Survey::from_toml("v2", &text).unwrap();
    let mut v2_answers = valid_answers(&v2);
    v2_answers.push(("_v".into(), "3".into()));
    assert_eq!(
        app.post_pairs("/s/livability", &with_tokens(&page, "ko", &v2_answers))
            .await
            .status(),
        303
    );

    // v1's answer keeps counting in v1, with its retired question.
    let stored = app.stored();
    assert_eq!(stored.iter().map(|r| r.version).collect::<Vec<_>>(), [2, 3]);
    assert!(stored[0].answers.iter().any(|(q, _)| q == "safety_food"));
    assert!(stored[1].answers.iter().any(|(q, _)| q == "safety_lighting"));
    assert!(!stored[1].answers.iter().any(|(q, _)| q == "safety_food"));
    assert_eq!(
        app.db().response_counts("livability").unwrap(),
        vec![(1, 0), (2, 1), (3, 1)]
    );
    let list = get(&app, &client, "/admin/surveys?lang=en").await.text().await.unwrap();
    assert!(list.contains("v2: 1") && list.contains("v3: 1"), "{list}");
}

#[tokio::test]
async fn a_designer_creates_a_new_survey_in_the_browser() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;
    let list = get(&app, &client, "/admin/surveys?lang=en").await.text().await.unwrap();
    assert!(list.contains("New survey"), "{list}");

    let mut raw = published(&app);
    raw.slug = "pride-2027".into();
    raw.title.en = Some("Civic pride 2027".into());
    let text = toml::to_string_pretty(&raw).unwrap();
    let r = post(
        &app,
        &client,
        "/admin/surveys",
        &pairs(&[("_csrf", &token), ("definition", &text)]),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/surveys/pride-2027?imported=1");
    let draft = app.db().draft("pride-2027").unwrap().expect("stored as a draft");
    assert_eq!(draft.version, 1);
    // Not served to residents until it is published.
    assert_eq!(app.get("/s/pride-2027").await.status(), 404);
    let r = post(
        &app,
        &client,
        "/admin/surveys/pride-2027/publish",
        &pairs(&[("_csrf", &token)]),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get("/s/pride-2027?lang=en").await.status(), 200);

    // A broken file is shown back with its problem; nothing is stored.
    let r = post(
        &app,
        &client,
        "/admin/surveys",
        &pairs(&[("_csrf", &token), ("definition", "slug = ")]),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not a valid survey definition"));
    // Statisticians cannot create surveys.
    let stat = app.signed_in("sam", Role::Statistician).await;
    let stat_token = csrf(&app, &stat).await;
    let r = post(
        &app,
        &stat,
        "/admin/surveys",
        &pairs(&[("_csrf", &stat_token), ("definition", &text)]),
    )
    .await;
    assert_eq!(r.status(), 403);
}
