//! The structure page: a designer reorders, removes and adds questions of a
//! draft and edits their settings, one operation per form, each stored at
//! once; refused operations change nothing.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::survey::raw::{RawQuestionType, RawSurvey};

const PAGE: &str = "/admin/surveys/livability/structure";

async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = client
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden_value(&html, "_csrf")
}

fn form(token: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    std::iter::once(("_csrf".to_string(), token.to_string()))
        .chain(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// The draft as the export link gives it.
async fn exported_draft(app: &TestApp, client: &reqwest::Client) -> RawSurvey {
    let response = client
        .get(app.url("/admin/surveys/livability/export?draft=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    toml::from_str(&response.text().await.unwrap()).expect("the draft reads")
}

fn section_ids(raw: &RawSurvey, section: &str) -> Vec<String> {
    raw.sections
        .iter()
        .find(|s| s.id == section)
        .expect("section")
        .questions
        .iter()
        .map(|q| q.id.clone())
        .collect()
}

/// Post one operation and expect the redirect back to the page.
async fn apply(app: &TestApp, client: &reqwest::Client, pairs: &[(String, String)]) {
    let response = post(app, client, PAGE, pairs).await;
    assert_eq!(response.status(), 303, "{:?}", response.text().await);
    assert_eq!(response.headers()["location"], format!("{PAGE}?saved=3"));
}

#[tokio::test]
async fn a_designer_edits_the_structure_of_a_draft_step_by_step() {
    let app = spawn_app().await;
    let dana = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &dana).await;
    let (_, v1_text) = app.db().published_definition("livability", None).unwrap().unwrap();
    let response = post(
        &app,
        &dana,
        "/admin/surveys/livability/import",
        &form(&token, &[("definition", &v1_text)]),
    )
    .await;
    assert_eq!(response.status(), 303);

    // The page lists the draft's questions in order, with their forms.
    let survey_page = dana
        .get(app.url("/admin/surveys/livability?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        survey_page.contains(&format!("href=\"{PAGE}\"")),
        "link on the survey page"
    );
    let page = dana.get(app.url(&format!("{PAGE}?lang=en"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let night = html
        .find("data-question=\"safety_night\"")
        .expect("safety_night listed");
    let traffic = html
        .find("data-question=\"safety_traffic\"")
        .expect("safety_traffic listed");
    assert!(night < traffic);
    assert!(html.contains("value=\"move_question\""));
    assert!(
        html.contains(
            "name=\"op\" value=\"remove_option\"><input type=\"hidden\" name=\"question\" value=\"district\">"
        ),
        "option forms name their question"
    );

    let before = exported_draft(&app, &dana).await;
    assert_eq!(
        section_ids(&before, "safety"),
        ["safety_night", "safety_traffic", "safety_disaster", "safety_food"]
    );

    // Move a question up.
    apply(
        &app,
        &dana,
        &form(
            &token,
            &[
                ("op", "move_question"),
                ("question", "safety_traffic"),
                ("direction", "up"),
            ],
        ),
    )
    .await;
    let draft = exported_draft(&app, &dana).await;
    assert_eq!(
        section_ids(&draft, "safety"),
        ["safety_traffic", "safety_night", "safety_disaster", "safety_food"]
    );
    let notice = dana
        .get(app.url(&format!("{PAGE}?saved=3&lang=en")))
        .send()
        .await
        .unwrap();
    assert!(notice.text().await.unwrap().contains("The draft (version 3) is saved."));

    // Remove one (it is retired: version 1 keeps it).
    apply(
        &app,
        &dana,
        &form(&token, &[("op", "remove_question"), ("question", "safety_food")]),
    )
    .await;
    let draft = exported_draft(&app, &dana).await;
    assert_eq!(
        section_ids(&draft, "safety"),
        ["safety_traffic", "safety_night", "safety_disaster"]
    );

    // Add a likert question with a scale, texts left for the translations page.
    apply(
        &app,
        &dana,
        &form(
            &token,
            &[
                ("op", "add_question"),
                ("section", "safety"),
                ("id", "safety_lighting"),
                ("type", "likert"),
                ("scale", "satisfaction5"),
                ("text_zh", ""),
                ("text_en", "How satisfied are you with street lighting?"),
                ("text_ko", ""),
                ("options", ""),
            ],
        ),
    )
    .await;
    let draft = exported_draft(&app, &dana).await;
    assert_eq!(
        section_ids(&draft, "safety"),
        ["safety_traffic", "safety_night", "safety_disaster", "safety_lighting"]
    );
    let added = draft
        .sections
        .iter()
        .flat_map(|s| &s.questions)
        .find(|q| q.id == "safety_lighting")
        .unwrap();
    assert_eq!(added.kind, RawQuestionType::Likert);
    assert_eq!(added.scale.as_deref(), Some("satisfaction5"));
    assert_eq!(
        added.text.en.as_deref(),
        Some("How satisfied are you with street lighting?")
    );
    assert_eq!(added.text.zh, None);

    // Edit its required, dimension and weight.
    apply(
        &app,
        &dana,
        &form(
            &token,
            &[
                ("op", "settings"),
                ("question", "safety_lighting"),
                ("required", "1"),
                ("dimension", "safety"),
                ("weight", "2"),
                ("show_if_question", ""),
                ("show_if_values", ""),
            ],
        ),
    )
    .await;
    let draft = exported_draft(&app, &dana).await;
    let edited = draft
        .sections
        .iter()
        .flat_map(|s| &s.questions)
        .find(|q| q.id == "safety_lighting")
        .unwrap();
    assert_eq!(
        (edited.required, edited.dimension.as_deref(), edited.weight),
        (Some(true), Some("safety"), Some(2.0))
    );
    assert_eq!(
        section_ids(&draft, "safety"),
        ["safety_traffic", "safety_night", "safety_disaster", "safety_lighting"],
        "earlier changes kept"
    );

    // Reusing the retired id is refused with the advice, and changes nothing.
    let response = post(
        &app,
        &dana,
        &format!("{PAGE}?lang=en"),
        &form(
            &token,
            &[
                ("op", "add_question"),
                ("section", "safety"),
                ("id", "safety_food"),
                ("type", "rating"),
            ],
        ),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Nothing was changed."), "{html}");
    assert!(html.contains("retired id cannot be reused"), "{html}");
    assert_eq!(exported_draft(&app, &dana).await, draft);

    // An invalid operation (a weight of zero) is refused too.
    let response = post(
        &app,
        &dana,
        PAGE,
        &form(
            &token,
            &[("op", "settings"), ("question", "safety_night"), ("weight", "0")],
        ),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert_eq!(exported_draft(&app, &dana).await, draft);

    // Every change was audited as survey.edit by the designer.
    let audit = app.db().audit_log(100).unwrap();
    let edits = audit.iter().filter(|e| e.action == "survey.edit").count();
    assert_eq!(edits, 4);
    assert!(audit
        .iter()
        .filter(|e| e.action == "survey.edit")
        .all(|e| e.username == "dana"));
}

#[tokio::test]
async fn only_designers_with_the_form_token_may_edit_the_structure() {
    let app = spawn_app().await;
    let (_, v1_text) = app.db().published_definition("livability", None).unwrap().unwrap();
    app.db().store_draft(toml::from_str(&v1_text).unwrap(), "dana").unwrap();
    let before = app.db().draft("livability").unwrap().unwrap().definition;
    let move_up = [
        ("op", "move_question"),
        ("question", "safety_traffic"),
        ("direction", "up"),
    ];

    let sam = app.signed_in("sam", Role::Statistician).await;
    let page = sam.get(app.url(PAGE)).send().await.unwrap();
    assert_eq!(page.status(), 200, "statisticians may look");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("value=\"move_question\""),
        "no edit forms for statisticians"
    );
    let sam_token = csrf(&app, &sam).await;
    assert_eq!(post(&app, &sam, PAGE, &form(&sam_token, &move_up)).await.status(), 403);

    let dana = app.signed_in("dana", Role::Designer).await;
    let no_token: Vec<(String, String)> = form("", &move_up).into_iter().skip(1).collect();
    assert_eq!(post(&app, &dana, PAGE, &no_token).await.status(), 403);
    assert_eq!(app.db().draft("livability").unwrap().unwrap().definition, before);
}
