//! Open and close dates: outside them the form is not shown and nothing
//! is stored, in the resident's language.

use crate::helpers::*;
use civicpulse::db::Database;
use civicpulse::survey::raw::RawSurvey;
use civicpulse::survey::schedule::DateWindow;

/// Publish the next livability version (the current text) with these dates, as the CLI would.
fn publish_v2(db: &Database, opens: Option<time::Date>, closes: Option<time::Date>) {
    let (_, text) = db.published_definition("livability", None).unwrap().unwrap();
    let raw: RawSurvey = toml::from_str(&text).unwrap();
    let window = DateWindow::new(opens, closes).unwrap();
    assert_eq!(db.import_and_publish(raw, window, "test").unwrap(), 3);
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

async fn post_answers(app: &TestApp) -> reqwest::Response {
    let mut pairs = vec![
        ("_csrf".to_string(), "a".repeat(32)),
        ("_form".to_string(), "b".repeat(32)),
        ("_lang".to_string(), "en".to_string()),
    ];
    pairs.extend(valid_answers(&livability()));
    app.post_pairs("/s/livability", &pairs).await
}

#[tokio::test]
async fn a_survey_that_opens_tomorrow_is_not_open_yet() {
    let tomorrow = today().next_day().unwrap();
    let app = spawn_app_after(|db| publish_v2(db, Some(tomorrow), None)).await;

    // Not yet open is no error: 200, with the day it opens (more in
    // city_time.rs).
    let response = app.get("/s/livability?lang=ko").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("아직 설문이 시작되지 않았습니다"), "{html}");
    assert!(!html.contains("name=\"_form\""));

    let response = app.get("/s/livability?lang=zh").await;
    assert!(response.text().await.unwrap().contains("问卷尚未开始"));

    assert_eq!(post_answers(&app).await.status(), 200);
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn a_survey_whose_last_day_has_passed_is_closed() {
    let yesterday = today().previous_day().unwrap();
    let app = spawn_app_after(|db| publish_v2(db, None, Some(yesterday))).await;

    let response = app.get("/s/livability?lang=en").await;
    assert_eq!(response.status(), 410);
    assert!(response.text().await.unwrap().contains("This survey has closed"));

    assert_eq!(post_answers(&app).await.status(), 410);
    assert!(app.stored().is_empty());

    // The start page offers only surveys that can be answered today.
    let home = app.get("/?lang=en").await.text().await.unwrap();
    assert!(!home.contains("/s/livability"), "{home}");
}

#[tokio::test]
async fn the_opening_and_closing_days_are_both_open() {
    let app = spawn_app_after(|db| publish_v2(db, Some(today()), Some(today()))).await;
    let page = app.get_form("en").await;
    assert_eq!(hidden_value(&page.html, "_v"), "3");
    let response = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.stored().len(), 1);
}
