//! Survey dates are calendar days in the city's time zone, whatever UTC
//! says; the pages outside a survey's dates name those days in the
//! resident's language; staff pages show times as the city's clock does,
//! with the zone named; the thank-you page tells when results come out.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::clock::CityClock;
use civicpulse::db::Database;
use civicpulse::survey::raw::RawSurvey;
use civicpulse::survey::schedule::DateWindow;
use time::macros::{date, datetime};

/// 05:11 on 2 December in Shanghai, still 1 December in UTC.
const DAWN_IN_WEIHAI: time::OffsetDateTime = datetime!(2026-12-01 21:11 UTC);

fn publish_next(db: &Database, opens: Option<time::Date>, closes: Option<time::Date>) {
    let (_, text) = db.published_definition("livability", None).unwrap().unwrap();
    let raw: RawSurvey = toml::from_str(&text).unwrap();
    let window = DateWindow::new(opens, closes).unwrap();
    // The built-in survey is at version 2; this is the next one.
    assert_eq!(db.import_and_publish(raw, window, "test").unwrap(), 3);
}

/// A server whose clock stands at `now` in `zone`, with livability v2
/// open from `opens` to `closes`.
async fn app_at(
    zone: &str,
    now: time::OffsetDateTime,
    opens: Option<time::Date>,
    closes: Option<time::Date>,
) -> TestApp {
    let clock = CityClock::new(zone).unwrap().pinned_at(now);
    spawn_app_with(|db| publish_next(db, opens, closes), move |config| config.clock = clock).await
}

#[tokio::test]
async fn a_survey_opening_on_2_december_is_open_at_dawn_in_weihai() {
    let app = app_at("Asia/Shanghai", DAWN_IN_WEIHAI, Some(date!(2026 - 12 - 02)), None).await;
    let page = app.get_form("zh").await;
    assert_eq!(hidden_value(&page.html, "_v"), "3");
    let home = app.get("/?lang=en").await.text().await.unwrap();
    assert!(home.contains("/s/livability?lang"), "offered on the start page: {home}");

    // The same instant in a city on UTC is still 1 December there.
    let utc = app_at("UTC", DAWN_IN_WEIHAI, Some(date!(2026 - 12 - 02)), None).await;
    let response = utc.get("/s/livability?lang=en").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("This survey opens on December 2, 2026."), "{html}");
    assert!(!html.contains("name=\"_form\""));
}

#[tokio::test]
async fn a_survey_not_yet_open_names_its_first_day_without_an_error_code() {
    let app = app_at("Asia/Shanghai", DAWN_IN_WEIHAI, Some(date!(2026 - 12 - 03)), None).await;
    for (lang, opens, title) in [
        ("zh", "本调查将于2026年12月3日开始。", "问卷尚未开始"),
        (
            "en",
            "This survey opens on December 3, 2026.",
            "This survey is not open yet",
        ),
        (
            "ko",
            "이 조사는 2026년 12월 3일에 시작합니다.",
            "아직 설문이 시작되지 않았습니다",
        ),
    ] {
        let response = app.get(&format!("/s/livability?lang={lang}")).await;
        assert_eq!(response.status(), 200, "not an error: {lang}");
        let html = response.text().await.unwrap();
        assert!(html.contains(opens), "{lang}: {html}");
        assert!(html.contains(title), "{lang}");
        assert!(
            html.contains("href=\"tel:12345\""),
            "what to do: call the helpline ({lang})"
        );
        for code in ["403", "错误代码", "Error code", "오류 코드"] {
            assert!(!html.contains(code), "{lang}: {code:?} on the page");
        }
        assert!(!html.contains("name=\"_form\""));
    }
    assert!(app
        .get("/s/livability?lang=en")
        .await
        .text()
        .await
        .unwrap()
        .contains("Please come back on or after that day"));
    // Nothing is taken before the first day.
    let mut pairs = vec![
        ("_csrf".to_string(), "a".repeat(32)),
        ("_form".to_string(), "b".repeat(32)),
        ("_lang".to_string(), "en".to_string()),
    ];
    pairs.extend(valid_answers(&livability()));
    let response = app.post_pairs("/s/livability?lang=en", &pairs).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("December 3, 2026"));
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn a_closed_survey_names_its_last_day() {
    // 00:30 on 1 January in Weihai: 31 December was the last day.
    let app = app_at(
        "Asia/Shanghai",
        datetime!(2026-12-31 16:30 UTC),
        None,
        Some(date!(2026 - 12 - 31)),
    )
    .await;
    for (lang, closed) in [
        ("zh", "本调查已于2026年12月31日截止，不再接收答卷。"),
        ("en", "The last day to answer this survey was December 31, 2026."),
        (
            "ko",
            "이 조사는 2026년 12월 31일에 마감되어 더 이상 응답을 받지 않습니다.",
        ),
    ] {
        let response = app.get(&format!("/s/livability?lang={lang}")).await;
        assert_eq!(response.status(), 410, "{lang}");
        let html = response.text().await.unwrap();
        assert!(html.contains(closed), "{lang}: {html}");
        for code in ["410", "错误代码", "Error code", "오류 코드"] {
            assert!(!html.contains(code), "{lang}: {code:?} on the page");
        }
    }
    // In UTC it is still 31 December: open.
    let utc = app_at(
        "UTC",
        datetime!(2026-12-31 16:30 UTC),
        None,
        Some(date!(2026 - 12 - 31)),
    )
    .await;
    assert_eq!(utc.get("/s/livability?lang=en").await.status(), 200);
    assert!(utc.get_form("en").await.html.contains("name=\"_form\""));
}

#[tokio::test]
async fn staff_pages_show_times_on_the_citys_clock_with_the_zone_named() {
    let app = spawn_app_with(|_| {}, |config| config.clock = CityClock::default()).await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let html = get(&app, &admin, "/admin/audit?lang=en").await.text().await.unwrap();
    let entries = app.db().audit_log(10).unwrap();
    let sign_in = entries.first().expect("the sign-in is audited");
    let local = CityClock::default().stored_text(&sign_in.at);
    assert!(local.ends_with(" (Asia/Shanghai)"), "{local}");
    assert_ne!(local, sign_in.at);
    assert!(
        html.contains(&format!("<time datetime=\"{}\">{local}</time>", sign_in.at)),
        "{local} in {html}"
    );

    let survey = get(&app, &admin, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        survey.contains("(Asia/Shanghai)</td>"),
        "created/published times: {survey}"
    );
    let fieldwork = get(&app, &admin, "/admin/surveys/livability/fieldwork?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        fieldwork.contains("Dates are calendar days in Asia/Shanghai"),
        "{fieldwork}"
    );
}

#[tokio::test]
async fn the_thank_you_page_says_received_once_and_when_results_come_out() {
    let app = spawn_app().await;
    let resident = new_client();
    let thank_you = |lang: &'static str| {
        let app = &app;
        let resident = resident.clone();
        async move {
            let html = get(app, &resident, &format!("/s/livability?lang={lang}"))
                .await
                .text()
                .await
                .unwrap();
            let page = FormPage {
                csrf: hidden_value(&html, "_csrf"),
                form_token: hidden_value(&html, "_form"),
                html,
            };
            let sent = post(
                app,
                &resident,
                "/s/livability",
                &with_tokens(&page, lang, &valid_answers(&livability())),
            )
            .await;
            assert_eq!(sent.status(), 303);
            let location = sent.headers()["location"].to_str().unwrap().to_string();
            let html = get(app, &resident, &location).await.text().await.unwrap();
            let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
            main.to_string()
        }
    };

    // No publication day set yet: a sentence that promises none. (The
    // page's <main>; its <title> names the receipt too.)
    let html = thank_you("en").await;
    assert_eq!(html.matches("received").count(), 1, "{html}");
    assert!(html.contains("We have received your answers"));
    assert!(html.contains("What happens next"));
    assert!(html.contains("The results will be published after the survey has closed"));
    assert!(
        !html.contains("Thank you for taking part</h1>"),
        "no second thank-you heading"
    );

    // A statistician sets the day on the fieldwork page.
    let sam = app.signed_in("sam", Role::Statistician).await;
    let page = get(&app, &sam, "/admin/surveys/livability/fieldwork?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"results_published\""));
    let csrf = hidden_value(&page, "_csrf");
    let wave = this_year().to_string();
    let fields = |results: &str| -> Vec<(String, String)> {
        [
            ("_csrf", csrf.as_str()),
            ("wave", wave.as_str()),
            ("access", "open"),
            ("stratum_question", "district"),
            ("helpline", "12345"),
            ("results_published", results),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let refused = post(
        &app,
        &sam,
        "/admin/surveys/livability/fieldwork/wave",
        &fields("March 1"),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("is not a date of the form YYYY-MM-DD"));
    // A helpline is a line: its rule is told in the reader's language.
    let mut long = fields("2027-03-01");
    long.iter_mut().find(|(k, _)| k == "helpline").unwrap().1 = "1".repeat(201);
    let too_long = post(&app, &sam, "/admin/surveys/livability/fieldwork/wave?lang=zh", &long).await;
    assert_eq!(too_long.status(), 422);
    assert!(too_long.text().await.unwrap().contains("helpline 最多 200 个字符。"));
    let saved = post(
        &app,
        &sam,
        "/admin/surveys/livability/fieldwork/wave",
        &fields("2027-03-01"),
    )
    .await;
    assert_eq!(saved.status(), 303);
    let page = get(
        &app,
        &sam,
        &format!("/admin/surveys/livability/fieldwork?wave={wave}&lang=en"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(page.contains("value=\"2027-03-01\""), "the form shows the day");
    assert_eq!(
        app.db()
            .wave("livability", this_year())
            .unwrap()
            .unwrap()
            .results_published,
        Some(date!(2027 - 03 - 01))
    );

    for (lang, received, due) in [
        ("zh", "已收到", "调查结果预计于2027年3月1日公布。"),
        (
            "en",
            "received",
            "The results are due to be published on March 1, 2027.",
        ),
        ("ko", "접수", "조사 결과는 2027년 3월 1일에 공개될 예정입니다."),
    ] {
        let html = thank_you(lang).await;
        assert_eq!(html.matches(received).count(), 1, "{lang}: {html}");
        assert!(html.contains(due), "{lang}: {html}");
    }
    // The same form sent twice: the "already received" variant stays.
    let again = get(&app, &resident, "/s/livability/thanks?lang=en&again=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(again.contains("We had already received these answers"));
    assert!(again.contains("March 1, 2027"));
}

#[tokio::test]
async fn the_api_fieldwork_without_a_wave_takes_the_wave_current_on_the_citys_date() {
    // The 2027 wave begins on 2 December, city time; at dawn in Weihai it
    // is still 1 December in UTC, when the 2026 wave would be current.
    let app = app_at("Asia/Shanghai", DAWN_IN_WEIHAI, None, None).await;
    for (wave, opens) in [(2026, date!(2026 - 03 - 01)), (2027, date!(2026 - 12 - 02))] {
        let settings = civicpulse::fieldwork::WaveSettings {
            access: civicpulse::fieldwork::Access::Open,
            window: DateWindow::new(Some(opens), None).unwrap(),
            ..civicpulse::fieldwork::WaveSettings::new(wave)
        };
        app.db().set_wave("livability", &settings, "test").unwrap();
    }
    let token = app.api_token("city-clock");
    let report: serde_json::Value = app
        .client
        .get(app.url("/api/v1/surveys/livability/fieldwork"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["wave"], 2027, "{report}");
}
