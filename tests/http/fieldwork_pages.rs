//! The fieldwork page, as a statistician runs a wave in the browser: set
//! it up, enter the frame, create invitations, download the codes and the
//! letters, and read the figures; what other roles may do; and the
//! data-quality flags with their exclusion from the indices.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::fieldwork::{Access, InvitationCode};
use civicpulse::web::security::{issue_form_token, FormBinding};

const PAGE: &str = "/admin/surveys/livability/fieldwork";

fn form(csrf: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = vec![("_csrf".to_string(), csrf.to_string())];
    pairs.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs
}

#[tokio::test]
async fn a_statistician_runs_a_wave_from_the_fieldwork_page() {
    let app = spawn_app().await;
    let client = app.signed_in("sam", Role::Statistician).await;
    let wave = this_year().to_string();
    let html = get(&app, &client, &format!("{PAGE}?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("This wave is not set up yet"));
    let csrf = hidden_value(&html, "_csrf");
    let today = time::OffsetDateTime::now_utc().date();
    let (opens, closes) = (today.to_string(), (today + time::Duration::days(20)).to_string());

    // Invitations need a frame first, and letters need dates and a helpline.
    let early = post(
        &app,
        &client,
        &format!("{PAGE}/invitations"),
        &form(&csrf, &[("wave", &wave), ("stratum", "huancui"), ("count", "5")]),
    )
    .await;
    assert_eq!(early.status(), 422);
    assert!(early.text().await.unwrap().contains("has no wave"));

    let saved = post(
        &app,
        &client,
        &format!("{PAGE}/wave"),
        &form(
            &csrf,
            &[
                ("wave", &wave),
                ("access", "invitation"),
                ("stratum_question", "district"),
                ("opens", &opens),
                ("closes", &closes),
                ("helpline", "12345 (8:30-17:30)"),
            ],
        ),
    )
    .await;
    assert_eq!(saved.status(), 303);
    let bad_frame = post(
        &app,
        &client,
        &format!("{PAGE}/frame"),
        &form(&csrf, &[("wave", &wave), ("population.huancui", "many")]),
    )
    .await;
    assert_eq!(bad_frame.status(), 422);
    assert!(bad_frame.text().await.unwrap().contains("population must be a number"));
    let frame = post(
        &app,
        &client,
        &format!("{PAGE}/frame"),
        &form(
            &csrf,
            &[
                ("wave", &wave),
                ("population.huancui", "620,000"),
                ("population.wendeng", "480000"),
            ],
        ),
    )
    .await;
    assert_eq!(frame.status(), 303);
    let created = post(
        &app,
        &client,
        &format!("{PAGE}/invitations"),
        &form(&csrf, &[("wave", &wave), ("stratum", "huancui"), ("count", "4")]),
    )
    .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let html = get(&app, &client, &format!("{location}&lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Batch 1 of invitations is ready"));
    assert!(html.contains("/admin/surveys/livability/invitations/1/codes.csv"));

    // The codes, for the mail merge.
    let csv = get(&app, &client, "/admin/surveys/livability/invitations/1/codes.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "code,stratum,url");
    assert_eq!(lines.len(), 5);
    let codes: Vec<String> = lines[1..]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells[1], "huancui");
            assert_eq!(cells[2], format!("{}/s/livability?code={}", app.address, cells[0]));
            InvitationCode::parse(cells[0]).expect("a well-formed code");
            cells[0].to_string()
        })
        .collect();

    // The letters: one printed page each, with code, QR code, dates, helpline.
    let letters = get(&app, &client, "/admin/surveys/livability/invitations/1/letters").await;
    assert_eq!(letters.status(), 200);
    let csp = letters.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("style-src 'sha256-") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = letters.text().await.unwrap();
    assert_eq!(html.matches("<section class=\"letter\"").count(), 4);
    assert_eq!(html.matches("<svg").count(), 4);
    for code in &codes {
        assert!(html.contains(code));
    }
    for text in [
        &opens,
        &closes,
        "12345 (8:30-17:30)",
        "尊敬的居民",
        "Dear resident",
        "주민 여러분께",
        "环翠区",
    ] {
        assert!(html.contains(&escaped(text)), "letters say {text}");
    }
    assert!(!html.contains(" style="), "no inline style attributes");

    // A resident answers with one of them; the page counts it.
    let resident = new_client();
    let page = app.form_with_code(&resident, &codes[2], "en").await;
    let sent = post(
        &app,
        &resident,
        "/s/livability",
        &with_tokens(&page, "en", &valid_answers(&livability())),
    )
    .await;
    assert_eq!(sent.status(), 303);
    let html = get(&app, &client, &format!("{PAGE}?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&escaped("AAPOR RR1 = completed / invited")));
    assert!(html.contains("25.0%"), "1 of 4 invited in huancui answered");
    assert!(
        html.contains("620000.0") || html.contains(">620000<"),
        "its design weight or population"
    );
    assert!(html.contains("Responses in this wave: 1 invited"));
    // The survey page shows the same figures.
    let survey = get(&app, &client, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(survey.contains("25.0%") && survey.contains(&format!("href=\"{PAGE}\"")));

    // Every step is in the audit log with the statistician's name.
    let audit: Vec<(String, String)> = app
        .db()
        .audit_log(50)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action))
        .collect();
    for action in ["wave.set", "frame.set", "invitations.create"] {
        assert!(audit.contains(&("sam".to_string(), action.to_string())), "{action}");
    }
}

#[tokio::test]
async fn designers_see_fieldwork_but_cannot_run_it_or_read_codes() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Invitation, &[("huancui", 1000.0)]);
    app.invite("huancui", 2);
    let designer = app.signed_in("dana", Role::Designer).await;
    let html = get(&app, &designer, &format!("{PAGE}?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Fieldwork figures"));
    assert!(!html.contains("codes.csv"), "no download links");
    assert!(!html.contains("fieldwork/invitations\""), "no batch form");
    let csrf = hidden_value(&html, "_csrf");
    for path in ["codes.csv", "letters"] {
        let r = get(
            &app,
            &designer,
            &format!("/admin/surveys/livability/invitations/1/{path}"),
        )
        .await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = post(
        &app,
        &designer,
        &format!("{PAGE}/invitations"),
        &form(
            &csrf,
            &[
                ("wave", &this_year().to_string()),
                ("stratum", "huancui"),
                ("count", "3"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.db().invitation_batches("livability", None).unwrap().len(), 1);
    // Anonymous visitors are sent to sign in.
    let r = app.get("/admin/surveys/livability/invitations/1/codes.csv").await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn quality_flags_are_kept_and_excluded_only_when_asked() {
    let app = spawn_app().await;
    let survey = livability();
    let key = app.key();
    let is_rating = |id: &str| {
        survey
            .question(id)
            .is_some_and(|q| matches!(q.kind, civicpulse::survey::QuestionKind::Likert { .. }))
    };
    // Five ordinary answers that took ten minutes each.
    let mut answers = valid_answers(&survey);
    for (i, (k, v)) in answers.iter_mut().enumerate() {
        if is_rating(k) {
            *v = ["2", "3", "4"][i % 3].to_string();
        }
    }
    let send = |pairs: Vec<(String, String)>| {
        let app = &app;
        async move { app.post_pairs("/s/livability", &pairs).await.status().as_u16() }
    };
    let with_age = |page: &FormPage, answers: &[(String, String)], age: time::Duration| {
        let token = issue_form_token(
            &key,
            &FormBinding {
                slug: "livability",
                version: 2,
                csrf: &page.csrf,
            },
            time::OffsetDateTime::now_utc() - age,
        );
        let mut pairs = with_tokens(page, "en", answers);
        pairs[1].1 = token;
        pairs
    };
    for i in 0..5 {
        let page = app.get_form("en").await;
        let mut distinct = answers.clone();
        for (k, v) in distinct.iter_mut() {
            if k == "mob_transit" {
                *v = ((i % 5) + 1).to_string();
            }
        }
        assert_eq!(send(with_age(&page, &distinct, time::Duration::minutes(10))).await, 303);
    }
    // One that took 30 seconds: a speeder (under a third of the median).
    let page = app.get_form("en").await;
    assert_eq!(send(with_age(&page, &answers, time::Duration::seconds(30))).await, 303);
    // One with the same answer to every rating question: a straight-liner.
    let mut same = valid_answers(&survey);
    for (k, v) in same.iter_mut() {
        if is_rating(k) {
            *v = "4".into();
        }
    }
    let page = app.get_form("en").await;
    assert_eq!(send(with_age(&page, &same, time::Duration::minutes(9))).await, 303);

    let token = app.api_token("flags");
    let fetch = |query: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let r = app
                .client
                .get(app.url(&format!("/api/v1/surveys/livability/{query}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{query}");
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let fieldwork = fetch(format!("fieldwork?wave={}", this_year())).await;
    assert_eq!(fieldwork["flags"]["speeder"], 1);
    assert_eq!(fieldwork["flags"]["straightliner"], 1);
    assert_eq!(fieldwork["flags"]["burst"], 0);

    let all = fetch(format!("indices?wave={}&weights=none", this_year())).await;
    assert_eq!(all["rows"][0]["n"], 7);
    assert!(all.get("excluded").is_none());
    let some = fetch(format!(
        "indices?wave={}&weights=none&exclude_flagged=speeder,straightliner",
        this_year()
    ))
    .await;
    assert_eq!(some["rows"][0]["n"], 5);
    assert_eq!(some["excluded"]["respondents"], 2);
    assert_eq!(some["excluded"]["by_flag"]["speeder"], 1);
    assert_eq!(some["excluded"]["by_flag"]["straightliner"], 1);
    // Nothing was deleted.
    assert_eq!(app.stored().len(), 7);

    // The speeder's answer and one ordinary answer have the same choices.
    // Two more such answers within minutes are not yet a burst; a third
    // makes five, and all five are flagged.
    for _ in 0..2 {
        let page = app.get_form("en").await;
        assert_eq!(send(with_age(&page, &answers, time::Duration::minutes(8))).await, 303);
    }
    let fieldwork = fetch(format!("fieldwork?wave={}", this_year())).await;
    assert_eq!(fieldwork["flags"]["burst"], 0, "four identical answers are not a burst");
    let page = app.get_form("en").await;
    assert_eq!(send(with_age(&page, &answers, time::Duration::minutes(8))).await, 303);
    let fieldwork = fetch(format!("fieldwork?wave={}", this_year())).await;
    assert_eq!(fieldwork["flags"]["burst"], 5);
    // Each further one in the burst is flagged as it comes.
    for _ in 0..2 {
        let page = app.get_form("en").await;
        assert_eq!(send(with_age(&page, &answers, time::Duration::minutes(8))).await, 303);
    }
    let fieldwork = fetch(format!("fieldwork?wave={}", this_year())).await;
    assert_eq!(fieldwork["flags"]["burst"], 7);
    // No caller goes under the deployment's floor of min_cell.
    let small = app
        .client
        .get(app.url("/api/v1/surveys/livability/indices?min_cell=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 400);
    assert!(small.text().await.unwrap().contains("min_cell must be at least 10"));
    let bad = app
        .client
        .get(app.url("/api/v1/surveys/livability/indices?exclude_flagged=slow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("unknown data-quality flag"));
}
