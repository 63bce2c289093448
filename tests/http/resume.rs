//! Saved answers: resuming after a restart with the cookie and on another
//! device with the typed code or the invitation code, clearing them,
//! expiry, the drop-off table, and that a partial response never counts.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::fieldwork::Access;

/// Answer the first `pages` section pages with a fresh client.
async fn started(app: &TestApp, lang: &str, pages: usize) -> (reqwest::Client, String) {
    let survey = livability();
    let client = new_client();
    let mut html = get(app, &client, &format!("/s/livability?lang={lang}"))
        .await
        .text()
        .await
        .unwrap();
    for index in 0..pages {
        html = follow(
            app,
            &client,
            send_page(app, &client, &html, &section_answers(&survey, index), "next").await,
        )
        .await;
    }
    (client, html)
}

#[tokio::test]
async fn answers_come_back_after_a_restart_and_on_another_device() {
    let app = spawn_app().await;
    let (client, page3) = started(&app, "en", 2).await;
    let code = hidden_value(&page3, "_resume");
    assert_eq!(code.len(), 27, "seven groups of three: {code}");
    // The cookie: HttpOnly, Lax, scoped to the survey, living as long as the partial.
    let response = get(&app, &client, "/s/livability?page=3&lang=en").await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cp_resume="))
        .expect("resume cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/s/livability"));
    assert!(cookie.contains(&format!("Max-Age={}", 30 * 86_400)), "{cookie}");
    assert!(
        !cookie.contains(&code),
        "the cookie holds the code without its hyphens only"
    );
    // Nothing in the database file is the code (on PostgreSQL there is no
    // one file to read; tests/http/privacy.rs checks its columns).
    if let civicpulse::db::DatabaseUrl::Sqlite(path) = &app.database {
        let raw = std::fs::read(path).unwrap();
        let canonical = code.replace('-', "");
        assert!(!raw.windows(canonical.len()).any(|w| w == canonical.as_bytes()));
    }

    // The server restarts (same database and key): the cookie finds the answers.
    let second = restart(&app).await;
    let home = client
        .get(format!("{second}/s/livability?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Continue where you left off"), "{home}");
    let page = client
        .get(format!("{second}/s/livability?page=1&lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(is_checked(&page, "q-resident_type-local"));

    // Another device types the code.
    let other = new_client();
    let form = get(&app, &other, "/s/livability/resume?lang=en")
        .await
        .text()
        .await
        .unwrap();
    let mut pairs = vec![
        ("_csrf".to_string(), hidden_value(&form, "_csrf")),
        ("_lang".to_string(), "en".to_string()),
        ("code".to_string(), "abc".to_string()),
    ];
    let wrong = post(&app, &other, "/s/livability/resume", &pairs).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("A resume code has 21 letters and digits, not 3."));
    pairs[2].1 = "ABC-DEF-GHJ-KMN-PQR-STV-WX0".into();
    let unknown = post(&app, &other, "/s/livability/resume", &pairs).await;
    assert!(matches!(unknown.status().as_u16(), 404 | 422), "{}", unknown.status());
    pairs[2].1 = code.to_lowercase().replace('-', " ");
    let found = post(&app, &other, "/s/livability/resume", &pairs).await;
    assert_eq!(location(&found), "/s/livability?page=3&lang=en");
    let page = follow(&app, &other, found).await;
    assert_eq!(hidden_value(&page, "_resume"), code);
    let page2 = get(&app, &other, "/s/livability?page=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(page2.contains(" checked"), "page 2's answers are there");
}

#[tokio::test]
async fn an_invitation_code_resumes_the_same_partial() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Invitation, &[("huancui", 620_000.0)]);
    let code = app.invite("huancui", 1).remove(0);
    let survey = livability();
    let phone = new_client();
    let page1 = app.form_with_code(&phone, &code, "zh").await;
    let page2 = continue_page(&app, &phone, &page1.html, &section_answers(&survey, 0)).await;
    let _ = continue_page(&app, &phone, &page2, &section_answers(&survey, 1)).await;
    // On a computer, the same code from the letter.
    let computer = new_client();
    let start = get(&app, &computer, &format!("/s/livability?lang=zh&code={code}"))
        .await
        .text()
        .await
        .unwrap();
    let pairs = vec![
        ("_csrf".to_string(), hidden_value(&start, "_csrf")),
        ("_lang".to_string(), "zh".to_string()),
        ("code".to_string(), code.clone()),
    ];
    let resumed = post(&app, &computer, "/s/livability/start", &pairs).await;
    assert_eq!(resumed.status(), 303);
    let home = follow(&app, &computer, resumed).await;
    assert!(home.contains("从上次中断的地方继续"), "{home}");
    let page1 = get(&app, &computer, "/s/livability?page=1&lang=zh")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&page1, "q-resident_type-local"));
    assert_eq!(partial_counts(&app).started, 1, "one partial for one code");
    // Finish there: one invited response, the invitation used, the partial completed.
    let page3 = get(&app, &computer, "/s/livability?page=3&lang=zh")
        .await
        .text()
        .await
        .unwrap();
    let answers = valid_answers(&survey);
    let rest: Vec<_> = answers
        .iter()
        .filter(|(q, _)| survey.question(q).unwrap().section >= 2)
        .cloned()
        .collect();
    let mut html = page3;
    for index in 2..survey.sections.len() {
        let mine: Vec<_> = rest
            .iter()
            .filter(|(q, _)| survey.question(q).unwrap().section == index)
            .cloned()
            .collect();
        html = continue_page(&app, &computer, &html, &mine).await;
    }
    let mut pairs = page_fields(&html);
    pairs.push(("_go".into(), "submit".into()));
    assert_eq!(post(&app, &computer, "/s/livability", &pairs).await.status(), 303);
    let stored = app.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].source, "invited");
    assert!(
        stored[0].submitted_at.ends_with("T00:00:00Z"),
        "an invited response keeps the day only"
    );
    let counts = partial_counts(&app);
    assert_eq!((counts.started, counts.completed), (1, 1));
    // The code is used now.
    let start = get(&app, &new_client(), &format!("/s/livability?lang=en&code={code}")).await;
    assert_eq!(start.status(), 200);
}

#[tokio::test]
async fn clearing_deletes_the_saved_answers_and_forgets_the_code() {
    let app = spawn_app().await;
    let (client, _) = started(&app, "en", 2).await;
    assert_eq!(partial_counts(&app).started, 1);
    let review = get(&app, &client, "/s/livability/review?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(review.contains("Check your answers") && review.contains("Not answered"));
    assert!(
        !review.contains("name=\"_go\" value=\"submit\""),
        "no Submit before the last page"
    );
    let confirm = get(&app, &client, "/s/livability/clear?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("Clear your saved answers?"));
    // Without the CSRF token nothing happens.
    let forged = post(
        &app,
        &new_client(),
        "/s/livability/clear",
        &[("_lang".into(), "en".into())],
    )
    .await;
    assert_eq!(forged.status(), 303);
    assert_eq!(partial_counts(&app).started, 1);
    let pairs = vec![
        ("_csrf".to_string(), hidden_value(&confirm, "_csrf")),
        ("_lang".to_string(), "en".to_string()),
    ];
    let cleared = post(&app, &client, "/s/livability/clear", &pairs).await;
    assert_eq!(location(&cleared), "/s/livability?lang=en&cleared=1");
    assert!(cleared
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("cp_resume=;")));
    let page = follow(&app, &client, cleared).await;
    assert!(page.contains("Your saved answers have been cleared") && page.contains("data-cleared"));
    assert!(!page.contains(" checked"));
    assert_eq!(partial_counts(&app).started, 0);
}

#[tokio::test]
async fn an_expired_partial_is_not_offered_and_is_purged() {
    let app = spawn_app_with(|_| {}, |config| config.partial_lifetime = time::Duration::seconds(1)).await;
    let (client, _) = started(&app, "en", 1).await;
    assert_eq!(partial_counts(&app).started, 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let home = get(&app, &client, "/s/livability?lang=en").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(!html.contains("Continue where you left off"));
    assert!(html.contains("name=\"_page\" value=\"1\"") && !html.contains(" checked"));
    // The next save purges it.
    let _ = started(&app, "en", 1).await;
    assert_eq!(partial_counts(&app).started, 1, "only the new one");
}

#[tokio::test]
async fn partials_never_change_the_figures_and_show_as_drop_off() {
    let app = spawn_app_with(|_| {}, |config| config.min_cell_floor = 1).await;
    let survey = livability();
    // Two complete responses.
    for _ in 0..2 {
        let page = app.get_form("en").await;
        let sent = app
            .post_pairs("/s/livability", &with_tokens(&page, "en", &valid_answers(&survey)))
            .await;
        assert_eq!(sent.status(), 303);
    }
    let token = app.api_token("partials");
    let indices = || async {
        let url = format!("/api/v1/surveys/livability/indices?wave={}&min_cell=1", this_year());
        let r = app.client.get(app.url(&url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let before = indices().await;
    // Partial responses stopping on pages 1, 3 and at the review page, and
    // one finished through the pages.
    let _ = started(&app, "zh", 0).await;
    let (c1, p2) = started(&app, "en", 1).await;
    let _ = send_page(&app, &c1, &p2, &[], "back").await;
    let _ = started(&app, "ko", 2).await;
    let _ = started(&app, "en", survey.sections.len()).await;
    let (done, review) = started(&app, "en", survey.sections.len()).await;
    let mut pairs = page_fields(&review);
    pairs.push(("_go".into(), "submit".into()));
    assert_eq!(post(&app, &done, "/s/livability", &pairs).await.status(), 303);
    let counts = partial_counts(&app);
    assert_eq!((counts.started, counts.completed), (4, 1), "{counts:?}");
    let review = survey.sections.len();
    assert_eq!(counts.stopped_at, vec![(1, 1), (2, 1), (review, 1)]);
    // The index counts the three responses, and none of the partials.
    let after = indices().await;
    assert_ne!(before, after, "the third response counts");
    let n = |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["rows"][0]["n"].clone();
    assert_eq!(n(&before), 2);
    assert_eq!(n(&after), 3);
    assert_eq!(app.stored().len(), 3);

    let staff = app.signed_in("ana", Role::Statistician).await;
    let html = get(&app, &staff, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Where residents stop"));
    assert!(html.contains("data-dropoff=\"started\">4<") && html.contains("data-dropoff=\"completed\">1<"));
    assert!(html.contains("data-dropoff-row=\"0\">0<"));
    assert!(html.contains("data-dropoff-row=\"1\">1<"));
    assert!(html.contains("data-dropoff-row=\"2\">1<"));
    assert!(
        html.contains(&format!("data-dropoff-row=\"{review}\">1<")),
        "the review page row"
    );
}
