//! The survey one section per page: per-page checks, Back, skip logic and
//! numbering across pages, the review page and the final submission, the
//! language switch, bad page addresses, and the weight of each page.

use crate::helpers::*;
use civicpulse::lang::Lang;

fn numbers_on(html: &str) -> Vec<usize> {
    html.match_indices("<span class=\"question__number\">")
        .filter_map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('<')?].trim_end_matches('.').parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn residents_walk_every_page_in_each_language_and_are_stored_once() {
    let app = spawn_app().await;
    let survey = livability();
    for (n, lang) in ["zh", "en", "ko"].into_iter().enumerate() {
        let code: Lang = lang.parse().unwrap();
        let client = new_client();
        let mut html = get(&app, &client, &format!("/s/livability?lang={lang}"))
            .await
            .text()
            .await
            .unwrap();
        let answers = valid_answers(&survey);
        let total = survey.sections.len();
        for index in 0..total {
            let progress = match lang {
                "zh" => format!("第 {} 部分，共 {total} 部分", index + 1),
                "en" => format!("Part {} of {total}", index + 1),
                _ => format!("전체 {total}개 영역 중 {}번째 영역", index + 1),
            };
            assert!(html.contains(&progress), "{lang} page {}: {progress}", index + 1);
            assert!(html.contains(&escaped(survey.sections[index].title.get(code))));
            assert_eq!(
                html.contains("name=\"_go\" value=\"back\""),
                index > 0,
                "Back from page 2 on"
            );
            let mine = section_answers(&survey, index);
            html = continue_page(&app, &client, &html, &mine).await;
        }
        // The review page lists every asked question with its answer.
        assert!(
            html.contains(&escaped(&civicpulse::web::i18n::Messages::load().unwrap().text(
                code,
                "review_title",
                &[]
            )))
        );
        for q in survey.questions.iter().filter(|q| q.show_if.is_none()) {
            assert!(
                html.contains(&escaped(q.text.get(code))),
                "{lang}: {} on the review page",
                q.id
            );
        }
        assert!(html.contains("更多公园 — more parks, 공원을 더"));
        assert_eq!(
            html.matches(&escaped("&return=review")).count(),
            survey.sections.len(),
            "a Change link per part"
        );
        assert!(app.stored().len() == n, "nothing stored before Submit");
        let mut pairs = page_fields(&html);
        pairs.push(("_go".into(), "submit".into()));
        let sent = post(&app, &client, "/s/livability", &pairs).await;
        assert_eq!(sent.status(), 303);
        assert_eq!(location(&sent), format!("/s/livability/thanks?lang={lang}"));
        let stored = app.stored();
        assert_eq!(stored.len(), n + 1);
        let last = stored.last().unwrap();
        assert_eq!(last.lang, lang);
        let mut expected = answers.clone();
        expected.sort();
        let mut got = last.answers.clone();
        got.sort();
        assert_eq!(got, expected, "{lang}: every answer, as given");
        // A double tap of Submit stores nothing more.
        let again = post(&app, &client, "/s/livability", &pairs).await;
        assert_eq!(again.status(), 303);
        assert!(location(&again).contains("again=1"));
        assert_eq!(app.stored().len(), n + 1);
    }
    let counts = partial_counts(&app);
    assert_eq!((counts.started, counts.completed), (3, 3));
    assert!(counts.stopped_at.is_empty());
}

#[tokio::test]
async fn a_page_with_missing_answers_shows_only_its_own_errors_and_keeps_the_rest() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "en").await;
    let html = continue_page(&app, &client, &html, &section_answers(&survey, 0)).await;
    // Page 2 (safety, four required questions): two answered.
    let partial = vec![
        ("safety_night".to_string(), "4".to_string()),
        ("safety_food".to_string(), "dk".to_string()),
    ];
    let refused = send_page(&app, &client, &html, &partial, "next").await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    let summary = &html[html.find("error-summary__list").unwrap()..];
    let summary = &summary[..summary.find("</ul>").unwrap()];
    assert_eq!(
        summary.matches("<li>").count(),
        2,
        "only this page's two missing answers: {summary}"
    );
    assert!(summary.contains("href=\"#q-safety_traffic\"") && summary.contains("href=\"#q-safety_disaster\""));
    // Each in the question's own words (its `required_error`).
    assert!(
        summary.contains("<span class=\"error-summary__message\">Choose how satisfied you are with road safety</span>")
    );
    assert!(
        summary.contains("<span class=\"error-summary__question\">7. "),
        "numbered as shown: {summary}"
    );
    assert!(!summary.contains(" — "), "no joining dash");
    assert!(is_checked(&html, "q-safety_night-4") && is_checked(&html, "q-safety_food-dk"));
    // What was given is saved even so: a reload shows it.
    let reload = get(&app, &client, "/s/livability?page=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&reload, "q-safety_night-4"));
    // Page 1's answers are still there.
    let first = get(&app, &client, "/s/livability?page=1&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&first, "q-resident_type-local"));
    // A rating and a text question say what they want.
    let m = civicpulse::web::i18n::Messages::load().unwrap();
    assert_eq!(
        m.text(Lang::En, "err_choose_number", &[("low", "0"), ("high", "10")]),
        "Choose a number from 0 to 10."
    );
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn back_saves_without_checking_and_reload_shows_what_is_saved() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "ko").await;
    let page2 = continue_page(&app, &client, &html, &section_answers(&survey, 0)).await;
    let back = send_page(&app, &client, &page2, &[("safety_traffic".into(), "2".into())], "back").await;
    assert_eq!(back.status(), 303, "Back checks nothing");
    assert_eq!(location(&back), "/s/livability?page=1&lang=ko");
    let page1 = follow(&app, &client, back).await;
    assert!(is_checked(&page1, "q-district-huancui") || page1.contains(" checked"));
    assert!(page1.contains("name=\"_resume\""), "the resume code is in the page");
    assert!(page1.contains("class=\"resume-box\""));
    let again = get(&app, &client, "/s/livability?page=2&lang=ko")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&again, "q-safety_traffic-2"));
    // A page not reached yet sends the resident to the furthest one.
    let ahead = get(&app, &client, "/s/livability?page=6&lang=ko").await;
    assert_eq!(ahead.status(), 303);
    assert_eq!(location(&ahead), "/s/livability?page=2&lang=ko");
    // Coming back to the survey offers to continue.
    let home = first_page(&app, &client, "ko").await;
    assert!(home.contains("이전에 멈춘 곳부터 계속하기"), "{home}");
    assert!(home.contains(&escaped("/s/livability?page=2&lang=ko")), "{home}");
    assert_eq!(partial_counts(&app).stopped_at, vec![(1, 1)]);
}

#[tokio::test]
async fn skip_logic_across_pages_numbers_only_asked_questions() {
    let app = spawn_app().await;
    let survey = livability();
    let culture = survey.question("foreign_services").unwrap().section;
    for (resident, asked) in [("local", false), ("foreign", true)] {
        let client = new_client();
        let mut answers: Vec<(String, String)> = valid_answers(&survey)
            .into_iter()
            .filter(|(q, _)| q != "resident_type")
            .collect();
        answers.push(("resident_type".into(), resident.into()));
        if asked {
            answers.push(("foreign_services".into(), "4".into()));
        }
        let mut html = first_page(&app, &client, "en").await;
        let mut seen = Vec::new();
        for index in 0..survey.sections.len() {
            seen.extend(numbers_on(&html));
            if index == culture {
                assert_eq!(html.contains("id=\"q-foreign_services\""), asked, "{resident}");
                if asked {
                    let input = tag_with(&html, "id=\"q-foreign_services-1\"").unwrap();
                    assert!(
                        !input.contains("required"),
                        "a conditional question never blocks a browser"
                    );
                    // Without its answer the page is refused.
                    let mine: Vec<_> = answers
                        .iter()
                        .filter(|(q, _)| survey.question(q).unwrap().section == index && q != "foreign_services")
                        .cloned()
                        .collect();
                    let refused = send_page(&app, &client, &html, &mine, "next").await;
                    assert_eq!(refused.status(), 422);
                }
            }
            let mine: Vec<_> = answers
                .iter()
                .filter(|(q, _)| survey.question(q).unwrap().section == index)
                .cloned()
                .collect();
            html = continue_page(&app, &client, &html, &mine).await;
        }
        let total = if asked { 36 } else { 35 };
        assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "{resident}: no gaps");
        assert!(html.contains(&format!("<dt class=\"review-list__question\">{total}. ")));
        let mut pairs = page_fields(&html);
        pairs.push(("_go".into(), "submit".into()));
        assert_eq!(post(&app, &client, "/s/livability", &pairs).await.status(), 303);
        let stored = app.stored();
        assert_eq!(
            stored
                .last()
                .unwrap()
                .answers
                .iter()
                .any(|(q, _)| q == "foreign_services"),
            asked
        );
    }
    // A foreign resident who changes to local: the answer is dropped at the end.
    let client = new_client();
    let mut answers = valid_answers(&survey);
    answers.retain(|(q, _)| q != "resident_type");
    answers.push(("resident_type".into(), "foreign".into()));
    answers.push(("foreign_services".into(), "5".into()));
    let html = first_page(&app, &client, "en").await;
    walk_to_review(&app, &client, html, &survey, &answers).await;
    let page1 = get(&app, &client, "/s/livability?page=1&lang=en&return=review")
        .await
        .text()
        .await
        .unwrap();
    let mut first: Vec<_> = section_answers(&survey, 0);
    first.retain(|(q, _)| q != "resident_type");
    first.push(("resident_type".into(), "local".into()));
    let review = continue_page(&app, &client, &page1, &first).await;
    assert!(!review.contains(&escaped(
        survey.question("foreign_services").unwrap().text.get(Lang::En)
    )));
    let mut pairs = page_fields(&review);
    pairs.push(("_go".into(), "submit".into()));
    assert_eq!(post(&app, &client, "/s/livability", &pairs).await.status(), 303);
    assert!(!app
        .stored()
        .last()
        .unwrap()
        .answers
        .iter()
        .any(|(q, _)| q == "foreign_services"));
}

#[tokio::test]
async fn a_language_switch_keeps_the_unsaved_answers_of_the_page() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "zh").await;
    let page2 = continue_page(&app, &client, &html, &section_answers(&survey, 0)).await;
    let mut pairs = page_fields(&page2);
    pairs.push(("safety_disaster".into(), "1".into()));
    pairs.push(("_switch_lang".into(), "ko".into()));
    let switched = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(location(&switched), "/s/livability?page=2&lang=ko");
    let html = follow(&app, &client, switched).await;
    assert!(html.contains("<html lang=\"ko\""));
    assert!(is_checked(&html, "q-safety_disaster-1"), "the unsaved answer is kept");
    assert!(!html.contains("role=\"alert\""), "nothing is checked on a switch");
    let first = get(&app, &client, "/s/livability?page=1").await.text().await.unwrap();
    assert!(first.contains("<html lang=\"ko\""), "the language sticks");
    assert!(is_checked(&first, "q-resident_type-local"));
}

#[tokio::test]
async fn bad_page_addresses_and_forged_codes_get_clear_errors_and_lose_nothing() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "en").await;
    let page2 = continue_page(&app, &client, &html, &section_answers(&survey, 0)).await;
    let malformed = get(&app, &client, "/s/livability?page=abc&lang=ko").await;
    assert_eq!(malformed.status(), 400);
    assert!(malformed
        .text()
        .await
        .unwrap()
        .contains("페이지 주소가 올바르지 않습니다"));
    let unknown = get(&app, &client, "/s/livability?page=99&lang=zh").await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("本问卷没有这一部分"));
    // A POST naming no real page: its answers are saved all the same.
    let mut pairs: Vec<(String, String)> = page_fields(&page2)
        .into_iter()
        .map(|(k, v)| if k == "_page" { (k, "x7".to_string()) } else { (k, v) })
        .collect();
    pairs.push(("safety_night".into(), "2".into()));
    let bad = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("Your saved answers are safe"));
    let kept = get(&app, &client, "/s/livability?page=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&kept, "q-safety_night-2"));
    // A forged resume code in the page: the page comes back, answers in place.
    let mut pairs: Vec<(String, String)> = page_fields(&kept)
        .into_iter()
        .map(|(k, v)| {
            if k == "_resume" {
                (k, "ABC-DEF-GHJ-KMN-PQR-STV-WXY".into())
            } else {
                (k, v)
            }
        })
        .collect();
    pairs.push(("safety_traffic".into(), "3".into()));
    pairs.push(("_go".into(), "next".into()));
    let forged = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(forged.status(), 422);
    let html = forged.text().await.unwrap();
    assert!(html.contains("No saved answers were found for this resume code"));
    assert!(is_checked(&html, "q-safety_traffic-3"));
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn every_section_page_stays_under_30_kb_over_the_wire() {
    let app = spawn_app().await;
    let survey = livability();
    let gz = |path: String| {
        let app = &app;
        async move {
            let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
            let r = client
                .get(app.url(&path))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap().len()
        }
    };
    let assets = gz("/static/style.css".into()).await + gz("/static/form.js".into()).await;
    for lang in ["zh", "en", "ko"] {
        let client = new_client();
        let mut html = get(&app, &client, &format!("/s/livability?lang={lang}"))
            .await
            .text()
            .await
            .unwrap();
        let mut sizes = Vec::new();
        for index in 0..survey.sections.len() {
            // The same page, compressed as a browser receives it.
            let request = client
                .get(app.url(&format!("/s/livability?page={}&lang={lang}", index + 1)))
                .header("accept-encoding", "gzip");
            let bytes = if index == 0 {
                gz(format!("/s/livability?lang={lang}")).await
            } else {
                request.send().await.unwrap().bytes().await.unwrap().len()
            };
            sizes.push(bytes);
            assert!(
                bytes + assets < 30 * 1024,
                "{lang} page {}: {} bytes",
                index + 1,
                bytes + assets
            );
            html = continue_page(&app, &client, &html, &section_answers(&survey, index)).await;
        }
        eprintln!("page weight {lang}: pages (gzip) {sizes:?} bytes, plus CSS and JS {assets} bytes");
    }
}

#[tokio::test]
async fn the_large_text_button_on_a_page_saves_its_unsaved_answers_and_comes_back_large() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "en").await;
    // On a section page the toggle is a button of the page's form, checked
    // by nothing; elsewhere it is the GET form.
    assert!(html.contains(
        "type=\"submit\" form=\"survey-form\" name=\"_text\" value=\"large\" formnovalidate aria-pressed=\"false\""
    ));
    assert!(!html.contains("name=\"text\" value=\"large\""));
    let page2 = continue_page(&app, &client, &html, &section_answers(&survey, 0)).await;

    // Half of page 2 answered, then "Larger text": nothing is checked, the
    // answer is saved, the cookie set, and page 2 comes back large.
    let mut pairs = page_fields(&page2);
    pairs.push(("safety_disaster".into(), "1".into()));
    pairs.push(("_text".into(), "large".into()));
    let toggled = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(location(&toggled), "/s/livability?page=2&lang=en");
    let cookie = toggled
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("text="))
        .expect("a text cookie");
    assert!(
        cookie.starts_with("text=large;") && cookie.contains("Max-Age=31536000"),
        "{cookie}"
    );
    let large = follow(&app, &client, toggled).await;
    assert!(large.starts_with("<!doctype html>\n<html lang=\"en\" class=\"text-large\">"));
    assert!(is_checked(&large, "q-safety_disaster-1"), "the unsaved answer is kept");
    assert!(!large.contains("role=\"alert\""), "nothing is checked");
    assert!(large.contains("name=\"_text\" value=\"normal\" formnovalidate aria-pressed=\"true\""));
    // Stored on the server, not only shown: a fresh page load has it.
    let again = get(&app, &client, "/s/livability?page=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(is_checked(&again, "q-safety_disaster-1"));
    assert!(again.contains("class=\"text-large\""), "the size sticks");

    // Back to normal from the page opened from the review page: it stays
    // a page that returns to the review.
    let mut pairs = page_fields(&large);
    pairs.push(("safety_disaster".into(), "2".into()));
    pairs.push(("_return".into(), "review".into()));
    pairs.push(("_text".into(), "normal".into()));
    let back = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(location(&back), "/s/livability?page=2&lang=en&return=review");
    let normal = follow(&app, &client, back).await;
    assert!(!normal.contains("text-large"));
    assert!(is_checked(&normal, "q-safety_disaster-2"));

    // A size the server does not know is not a size: the page is checked
    // as a Continue would be.
    let mut pairs = page_fields(&normal);
    pairs.push(("_text".into(), "huge".into()));
    pairs.push(("_go".into(), "next".into()));
    let odd = post(&app, &client, "/s/livability", &pairs).await;
    assert!(odd
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("text=")));
    assert!(app.stored().is_empty(), "nothing is submitted by the toggle");
}

#[tokio::test]
async fn a_submit_from_the_review_page_lists_what_is_missing_with_links_to_each_field() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "en").await;
    walk_to_review(&app, &client, html, &survey, &valid_answers(&survey)).await;
    // From the review page, page 1 is changed: a foreign resident is now
    // asked a required question on a later page, which Continue skips.
    let page1 = get(&app, &client, "/s/livability?page=1&lang=en&return=review")
        .await
        .text()
        .await
        .unwrap();
    let mut first = section_answers(&survey, 0);
    first.retain(|(q, _)| q != "resident_type");
    first.push(("resident_type".into(), "foreign".into()));
    let review = continue_page(&app, &client, &page1, &first).await;
    let mut pairs = page_fields(&review);
    pairs.push(("_go".into(), "submit".into()));
    let refused = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("name=\"_page\" value=\"review\""),
        "the review page again"
    );
    let question = survey.question("foreign_services").unwrap();
    let page = question.section + 1;
    let href = format!("/s/livability?page={page}&lang=en&return=review#q-foreign_services");
    let link = format!("<a class=\"error-summary__link\" href=\"{}\">", escaped(&href));
    assert!(refused.contains(&link), "{refused}");
    assert!(refused.contains(&escaped(
        "Choose how satisfied you are with multilingual signs and services"
    )));
    assert_eq!(
        refused.matches("class=\"error-summary__link\"").count(),
        1,
        "only what is missing"
    );
    assert!(app.stored().is_empty());

    // The link opens the page with the field, which returns to the review.
    let target = get(&app, &client, href.trim_end_matches("#q-foreign_services"))
        .await
        .text()
        .await
        .unwrap();
    assert!(target.contains("id=\"q-foreign_services\""));
    assert!(target.contains("name=\"_return\" value=\"review\""));
    // Its condition is written out with the answer quoted as each language quotes.
    let number = survey.question_index("resident_type").unwrap() + 1;
    assert!(target.contains(&escaped(&format!(
        "Answer this only if you chose “Foreign national” in question {number}."
    ))));
    let korean = get(
        &app,
        &client,
        &href.replace("lang=en", "lang=ko").replace("#q-foreign_services", ""),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(korean.contains(&escaped(&format!("{number}번 문항의 답이 ‘외국인’인 경우에만"))));
    let target = get(&app, &client, href.trim_end_matches("#q-foreign_services"))
        .await
        .text()
        .await
        .unwrap();
    let fixed = vec![("foreign_services".to_string(), "4".to_string())];
    let mut mine = section_answers(&survey, question.section);
    mine.extend(fixed);
    let review = continue_page(&app, &client, &target, &mine).await;
    let mut pairs = page_fields(&review);
    pairs.push(("_go".into(), "submit".into()));
    assert_eq!(post(&app, &client, "/s/livability", &pairs).await.status(), 303);
    assert_eq!(app.stored().len(), 1);
}
