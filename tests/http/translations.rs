//! The translators' pages: the draft's texts side by side with a
//! completeness meter per language, saving translations without dropping
//! any, and the preview of the resident form. Also the pure walk of
//! `survey::translations` over the built-in survey.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::lang::Lang;
use civicpulse::survey::raw::RawSurvey;
use civicpulse::survey::translations::{self, Edit};

const MISSING: [&str; 2] = [
    "questions.safety_night.text",
    "questions.district.options.huancui.label",
];

async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = get(app, client, "/admin").await.text().await.unwrap();
    hidden_value(&html, "_csrf")
}

/// The current published version (the built-in v2).
fn published(app: &TestApp) -> RawSurvey {
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    toml::from_str(&text).unwrap()
}

/// The published version without the Korean text of the two `MISSING` slots.
fn without_two_korean_texts(app: &TestApp) -> RawSurvey {
    let mut raw = published(app);
    for path in MISSING {
        translations::set_text(&mut raw, path, Lang::Ko, "").unwrap();
    }
    raw
}

fn stored_draft(app: &TestApp) -> RawSurvey {
    toml::from_str(&app.db().draft("livability").unwrap().expect("a draft").definition).unwrap()
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

/// Every textarea of a page as a browser would send it: (name, text).
fn textareas(html: &str) -> Vec<(String, String)> {
    html.split("<textarea")
        .skip(1)
        .map(|rest| {
            let (tag, after) = rest.split_once('>').unwrap();
            let name = attr(tag, "name").expect("textarea name");
            let text = after.split_once("</textarea>").unwrap().0;
            (unescape(&name), unescape(text))
        })
        .collect()
}

/// The meter section of one language.
fn meter<'a>(html: &'a str, lang: &str) -> &'a str {
    let start = html
        .find(&format!("data-lang=\"{lang}\""))
        .unwrap_or_else(|| panic!("no {lang} meter"));
    let end = start + html[start..].find("</section>").unwrap();
    &html[start..end]
}

#[test]
fn the_builtin_survey_is_complete_and_every_slot_kind_has_a_path() {
    let raw = livability().raw().clone();
    let slots = translations::slots(&raw);
    let paths: Vec<&str> = slots.iter().map(|s| s.path.as_str()).collect();
    for expected in [
        "title",
        "intro",
        "thanks",
        "scales.satisfaction5.labels[0]",
        "scales.satisfaction5.labels[4]",
        "dimensions.safety.title",
        "sections.about.title",
        "questions.safety_night.text",
        "questions.district.options.huancui.label",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    let unique: std::collections::HashSet<_> = paths.iter().collect();
    assert_eq!(unique.len(), paths.len(), "paths are unique");
    for c in translations::completeness(&slots) {
        assert_eq!((c.filled, c.total), (slots.len(), slots.len()), "{:?}", c.lang);
        assert!(c.missing.is_empty());
    }
}

#[test]
fn missing_texts_are_listed_and_set_by_path_fills_them_back() {
    let app_raw = livability().raw().clone();
    let mut raw = app_raw.clone();
    for path in MISSING {
        translations::set_text(&mut raw, path, Lang::Ko, " ").unwrap();
    }
    let report = translations::completeness(&translations::slots(&raw));
    assert_eq!(report[2].lang, Lang::Ko);
    assert_eq!(
        report[2].missing,
        [
            "questions.district.options.huancui.label",
            "questions.safety_night.text"
        ]
    );
    assert!(report[0].missing.is_empty() && report[1].missing.is_empty());

    let edits: Vec<Edit> = MISSING
        .iter()
        .map(|path| Edit {
            path: path.to_string(),
            lang: Lang::Ko,
            text: translations::slots(&app_raw)
                .into_iter()
                .find(|s| s.path == *path)
                .unwrap()
                .get(Lang::Ko)
                .unwrap()
                .to_string(),
        })
        .collect();
    assert_eq!(translations::apply(&mut raw, &edits), Ok(2));
    assert_eq!(raw, app_raw);

    let err = translations::set_text(&mut raw, "questions.no_such.text", Lang::En, "x").unwrap_err();
    assert_eq!(err.path, "questions.no_such.text");
    assert_eq!(raw, app_raw);
}

#[tokio::test]
async fn a_designer_fills_the_missing_korean_texts_and_can_then_publish() {
    let app = spawn_app().await;
    let incomplete = without_two_korean_texts(&app);
    app.db().store_draft(incomplete.clone(), "dana").unwrap();
    let client = app.signed_in("dana", Role::Designer).await;

    let response = get(&app, &client, "/admin/surveys/livability/translations?lang=en").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let total = translations::slots(&incomplete).len();
    for lang in ["zh", "en"] {
        let m = meter(&html, lang);
        assert!(m.contains(&format!("{total} / {total}")), "{m}");
        assert!(m.contains("Complete"), "{m}");
    }
    let ko = meter(&html, "ko");
    assert!(ko.contains(&format!("{} / {total}", total - 2)), "{ko}");
    let listed: Vec<&str> = ko
        .split("<code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "questions.district.options.huancui.label",
            "questions.safety_night.text"
        ]
    );
    for path in MISSING {
        assert!(ko.contains(&format!("href=\"#t-{path}\"")), "{ko}");
        assert!(html.contains(&format!("id=\"t-{path}\"")), "row anchor of {path}");
    }

    // Fill the two gaps in the page's form, sending every field as a browser does.
    let mut fields = textareas(&html);
    assert_eq!(fields.len(), total * 3);
    for (name, text) in &mut fields {
        if name == "questions.safety_night.text|ko" {
            *text = "밤에 거리를 걸을 때 안전하다고 느끼십니까?".into();
        }
        if name == "questions.district.options.huancui.label|ko" {
            *text = "환추이구".into();
        }
    }
    let token = csrf(&app, &client).await;
    let mut form = vec![("_csrf".to_string(), token.clone())];
    form.extend(fields);

    // A statistician may look but not save; a form without the token is refused.
    let sam = app.signed_in("sam", Role::Statistician).await;
    let sam_token = csrf(&app, &sam).await;
    let page = get(&app, &sam, "/admin/surveys/livability/translations").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        tag_with(&page, "name=\"title|ko\"").unwrap().contains(" readonly"),
        "{page}"
    );
    assert!(
        !page.contains("type=\"submit\">Save"),
        "no save button for statisticians"
    );
    let mut sam_form = form.clone();
    sam_form[0].1 = sam_token;
    assert_eq!(
        post(&app, &sam, "/admin/surveys/livability/translations", &sam_form)
            .await
            .status(),
        403
    );
    assert_eq!(
        post(&app, &client, "/admin/surveys/livability/translations", &form[1..])
            .await
            .status(),
        403
    );
    let mut expected = incomplete.clone();
    expected.version = 3;
    assert_eq!(stored_draft(&app), expected, "nothing stored by refused forms");

    let response = post(&app, &client, "/admin/surveys/livability/translations", &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/admin/surveys/livability/translations?saved=2"
    );
    translations::set_text(
        &mut expected,
        MISSING[0],
        Lang::Ko,
        "밤에 거리를 걸을 때 안전하다고 느끼십니까?",
    )
    .unwrap();
    translations::set_text(&mut expected, MISSING[1], Lang::Ko, "환추이구").unwrap();
    assert_eq!(stored_draft(&app), expected, "only the two texts changed");

    let html = get(&app, &client, "/admin/surveys/livability/translations?saved=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("2 texts changed"), "{html}");
    for lang in ["zh", "en", "ko"] {
        assert!(meter(&html, lang).contains(&format!("{total} / {total}")), "{lang}");
    }
    let entries: Vec<(String, String)> = app
        .db()
        .audit_log(20)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action))
        .collect();
    assert!(
        entries.contains(&("dana".to_string(), "survey.translate".to_string())),
        "{entries:?}"
    );

    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/publish",
        &[("_csrf".to_string(), token)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/surveys/livability?published=3");
}

#[tokio::test]
async fn unknown_paths_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let incomplete = without_two_korean_texts(&app);
    app.db().store_draft(incomplete.clone(), "dana").unwrap();
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;
    let form = vec![
        ("_csrf".to_string(), token),
        ("questions.safety_night.text|ko".to_string(), "밤".to_string()),
        ("questions.no_such.text|ko".to_string(), "x".to_string()),
    ];
    let response = post(&app, &client, "/admin/surveys/livability/translations?lang=en", &form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Nothing was saved"), "{html}");
    assert!(html.contains("questions.no_such.text"), "{html}");
    assert!(html.contains(">밤</textarea>"), "what was typed is shown again");
    let mut expected = incomplete;
    expected.version = 3;
    assert_eq!(stored_draft(&app), expected);
}

#[tokio::test]
async fn without_a_draft_the_page_says_so_and_links_the_survey_page() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let html = get(&app, &client, "/admin/surveys/livability/translations?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("There is no draft to translate"), "{html}");
    assert!(html.contains("href=\"/admin/surveys/livability\""), "{html}");
    assert!(!html.contains("<textarea"));
    let survey = get(&app, &client, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        survey.contains("href=\"/admin/surveys/livability/translations\""),
        "{survey}"
    );
    assert!(
        survey.contains(&escaped("/admin/surveys/livability/preview?lang=ko&width=phone")),
        "{survey}"
    );
}

#[tokio::test]
async fn the_preview_shows_the_draft_form_in_korean_and_an_invalid_draft_its_problems() {
    let app = spawn_app().await;
    let mut raw = published(&app);
    translations::set_text(
        &mut raw,
        "questions.safety_night.text",
        Lang::Ko,
        "밤길은 안전합니까? (초안)",
    )
    .unwrap();
    app.db().store_draft(raw.clone(), "dana").unwrap();
    let client = app.signed_in("sam", Role::Statistician).await;

    let response = get(
        &app,
        &client,
        "/admin/surveys/livability/preview?lang=ko&draft=1&width=phone",
    )
    .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\""), "{html}");
    assert!(html.contains(&escaped("밤길은 안전합니까? (초안)")), "{html}");
    assert!(html.contains("class=\"preview-banner\""), "{html}");
    assert!(
        html.contains("Preview of draft version 3"),
        "the banner stays in the staff member's language: {html}"
    );
    assert!(html.contains("class=\"preview-phone\""), "{html}");
    let form = tag_with(&html, "id=\"survey-form\"").unwrap();
    assert_eq!(attr(form, "method").as_deref(), Some("get"));
    assert_eq!(
        attr(form, "action").as_deref(),
        Some("/admin/surveys/livability/preview")
    );
    assert!(tag_with(&html, "id=\"submit-button\"").unwrap().contains(" disabled"));

    // The published version is what residents get, unchanged.
    let html = get(&app, &client, "/admin/surveys/livability/preview?lang=ko")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&escaped("(초안)")), "{html}");
    assert!(html.contains(&escaped(
        livability().question("safety_night").unwrap().text.get(Lang::Ko)
    )));

    // A draft that does not validate lists its problems instead.
    translations::set_text(&mut raw, "title", Lang::En, "").unwrap();
    app.db().store_draft(raw, "dana").unwrap();
    let response = get(&app, &client, "/admin/surveys/livability/preview?lang=ko&draft=1").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(!html.contains("id=\"survey-form\""), "{html}");
    assert!(
        html.contains(&escaped(r#"field "title.en": missing English text"#)),
        "{html}"
    );
}
