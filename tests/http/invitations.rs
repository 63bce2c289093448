//! Invitation waves through the real server: the start page and its code
//! field (filled in from a letter's QR link), one code for one counted
//! response, every refusal in the resident's language with the answers
//! kept, open and invited answers told apart, and the fieldwork figures.

use crate::helpers::*;
use civicpulse::fieldwork::Access;

const FRAME: &[(&str, f64)] = &[("huancui", 620_000.0), ("wendeng", 480_000.0)];

/// One character of a code changed to another valid one: a typing mistake.
fn mistyped(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[1] = if chars[1] == '7' { '8' } else { '7' };
    chars.into_iter().collect()
}

fn post_start(code: &str, csrf: &str, lang: &str) -> Vec<(String, String)> {
    vec![
        ("_csrf".to_string(), csrf.to_string()),
        ("_lang".to_string(), lang.to_string()),
        ("code".to_string(), code.to_string()),
    ]
}

#[tokio::test]
async fn an_invitation_wave_starts_with_the_code_and_counts_each_code_once() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Invitation, FRAME);
    let codes = app.invite("huancui", 3);
    let survey = livability();
    let answers = valid_answers(&survey);

    // The start page asks for the code; the QR link fills it in.
    let start = app.get("/s/livability?lang=en").await;
    assert_eq!(start.status(), 200);
    let html = start.text().await.unwrap();
    assert!(html.contains("id=\"invitation-code-input\""));
    assert!(!html.contains("id=\"survey-form\""), "no form before the code");
    assert!(html.contains("This survey is by invitation"));
    let from_letter = app
        .get(&format!("/s/livability?lang=ko&code={}", codes[0]))
        .await
        .text()
        .await
        .unwrap();
    assert!(from_letter.contains(&format!("value=\"{}\"", codes[0])));
    assert!(from_letter.contains("개인 초대 코드"), "in the resident's language");
    // The language links keep the code.
    assert!(from_letter.contains(&escaped(&format!("?lang=zh&code={}", codes[0]))));
    // Without JavaScript or a code there is no way around it.
    let around = app.get("/s/livability?open=1&lang=en").await.text().await.unwrap();
    assert!(!around.contains("id=\"survey-form\""));

    // A code typed in small letters without dashes is the same code.
    let client = new_client();
    let typed = codes[0].replace('-', "").to_lowercase();
    let page = app.form_with_code(&client, &typed, "en").await;
    assert!(page.html.contains(&format!("name=\"_code\" value=\"{}\"", codes[0])));
    let pairs = with_tokens(&page, "en", &answers);
    let sent = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(sent.status(), 303);
    // A double tap of the same form is thanked again and stored once.
    let again = post(&app, &client, "/s/livability", &pairs).await;
    assert_eq!(again.status(), 303);
    assert!(again.headers()["location"].to_str().unwrap().contains("again=1"));
    let stored = app.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].source, "invited");
    assert!(stored[0].submitted_at.ends_with("T00:00:00Z"), "the day only");

    // The used code: refused on the start page, in the resident's language.
    let other = new_client();
    let start = get(&app, &other, "/s/livability?lang=zh").await.text().await.unwrap();
    let used = post(
        &app,
        &other,
        "/s/livability/start",
        &post_start(&codes[0], &hidden_value(&start, "_csrf"), "zh"),
    )
    .await;
    assert_eq!(used.status(), 409);
    assert!(used.text().await.unwrap().contains("此邀请已被使用"));

    // And on a form: a second code's form, sent back with the used one,
    // is refused with every answer kept and nothing stored.
    let page = app.form_with_code(&other, &codes[1], "en").await;
    let mut reused = with_tokens(&page, "en", &answers);
    for (k, v) in reused.iter_mut() {
        if k == "_code" {
            *v = codes[0].clone();
        }
    }
    let refused = post(&app, &other, "/s/livability", &reused).await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(html.contains("This invitation has already been used"));
    assert!(
        html.contains(&escaped("更多公园 — more parks, 공원을 더")),
        "answers kept"
    );
    assert!(
        html.contains("href=\"#invitation-code\""),
        "the summary leads to the code"
    );
    assert_eq!(app.stored().len(), 1);

    // Without a code, the form is refused the same way.
    let missing: Vec<_> = with_tokens(&page, "en", &answers)
        .into_iter()
        .filter(|(k, _)| k != "_code")
        .collect();
    let refused = post(&app, &other, "/s/livability", &missing).await;
    assert_eq!(refused.status(), 422);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("Enter the personal code from your invitation letter"));
    assert_eq!(app.stored().len(), 1);

    // The second code still works once.
    let sent = post(&app, &other, "/s/livability", &with_tokens(&page, "en", &answers)).await;
    assert_eq!(sent.status(), 303);
    assert_eq!(app.stored().len(), 2);
}

#[tokio::test]
async fn mistyped_unknown_and_old_codes_are_refused_before_the_form() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Invitation, FRAME);
    let codes = app.invite("wendeng", 1);
    let client = new_client();
    let start = first_page(&app, &client, "en").await;
    let csrf = hidden_value(&start, "_csrf");
    let try_code = |code: String| {
        let pairs = post_start(&code, &csrf, "en");
        let (app, client) = (&app, &client);
        async move {
            let r = post(app, client, "/s/livability/start", &pairs).await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = try_code(mistyped(&codes[0])).await;
    assert_eq!(status, 422);
    assert!(html.contains("typing mistake"), "caught by the check symbol");
    assert!(html.contains("aria-invalid=\"true\""));
    let (status, html) = try_code("7K3M-Q9TX".into()).await;
    assert_eq!(status, 422);
    assert!(html.contains("you entered 8"));
    let (status, html) = try_code("7K3M-Q9TX-2HU!".into()).await;
    assert_eq!(status, 422);
    assert!(html.contains("is not used in invitation codes"));
    // A well-formed code that was never issued (made with another key).
    let stranger = civicpulse::fieldwork::InvitationCode::from_nonce(
        &civicpulse::crypto::ServerKey::from_bytes([7; 32]),
        b"someone else's",
    )
    .or_else(|| {
        civicpulse::fieldwork::InvitationCode::from_nonce(&civicpulse::crypto::ServerKey::from_bytes([8; 32]), b"x")
    })
    .expect("a code");
    let (status, html) = try_code(stranger.to_string()).await;
    assert_eq!(status, 422);
    assert!(html.contains("We do not recognize this code"));
    // A code of last year's wave.
    let db = app.db();
    let last_year = civicpulse::fieldwork::WaveSettings::new(this_year() - 1);
    db.set_frame(
        "livability",
        &last_year,
        &[civicpulse::fieldwork::FrameStratum {
            stratum: "wendeng".into(),
            population: 1000.0,
        }],
        "test",
    )
    .unwrap();
    let (_, old) = db
        .create_invitations("livability", this_year() - 1, "wendeng", 1, &app.key(), "test")
        .unwrap();
    let (status, html) = try_code(old[0].code.to_string()).await;
    assert_eq!(status, 422);
    assert!(html.contains(&format!("belongs to the {} survey", this_year() - 1)));
    // The right code goes through.
    let (status, html) = try_code(codes[0].clone()).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"survey-form\""));
    assert!(app.stored().is_empty());
}

#[tokio::test]
async fn a_wave_open_to_both_records_how_each_answer_came_in() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Both, FRAME);
    let codes = app.invite("huancui", 2);
    let survey = livability();
    // The start page offers the open link too.
    let start = app.get("/s/livability?lang=en").await.text().await.unwrap();
    assert!(start.contains(&format!("href=\"{}\"", escaped("/s/livability?open=1&lang=en"))));
    let open = app.get("/s/livability?open=1&lang=en").await.text().await.unwrap();
    let page = FormPage {
        csrf: hidden_value(&open, "_csrf"),
        form_token: hidden_value(&open, "_form"),
        html: open,
    };
    let mut answers = valid_answers(&survey);
    for (k, v) in answers.iter_mut() {
        if k == "district" {
            *v = "wendeng".into();
        }
    }
    let sent = app
        .post_pairs("/s/livability", &with_tokens(&page, "en", &answers))
        .await;
    assert_eq!(sent.status(), 303);
    let client = new_client();
    let page = app.form_with_code(&client, &codes[1], "en").await;
    let sent = post(
        &app,
        &client,
        "/s/livability",
        &with_tokens(&page, "en", &valid_answers(&survey)),
    )
    .await;
    assert_eq!(sent.status(), 303);
    let mut sources: Vec<String> = app.stored().into_iter().map(|r| r.source).collect();
    sources.sort();
    assert_eq!(sources, ["invited", "web"]);

    // Fieldwork: invited, completed and RR1 per stratum; open answers by district.
    let report = civicpulse::analysis::fieldwork(
        &app.db(),
        &civicpulse::registry::SurveyRegistry::new(app.db().stored_surveys().unwrap()),
        "livability",
        None,
        time::OffsetDateTime::now_utc().date(),
    )
    .unwrap();
    assert_eq!(report.access, "both");
    let huancui = report.strata.iter().find(|r| r.stratum == "huancui").unwrap();
    assert_eq!((huancui.invited, huancui.completed), (2, 1));
    assert_eq!(huancui.response_rate, Some(0.5));
    assert_eq!(huancui.design_weight, Some(620_000.0));
    assert!(huancui.median_completion_seconds.is_some());
    let wendeng = report.strata.iter().find(|r| r.stratum == "wendeng").unwrap();
    assert_eq!((wendeng.invited, wendeng.completed, wendeng.open_link), (0, 0, 1));
    assert_eq!(report.total.invited, 2);
    assert_eq!(report.response_rate_definition, "AAPOR RR1 = completed / invited");
    assert_eq!((report.responses.invited, report.responses.web), (1, 1));
}

#[tokio::test]
async fn an_open_wave_takes_no_codes() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Open, FRAME);
    let html = app.get("/s/livability?lang=en").await.text().await.unwrap();
    assert!(html.contains("id=\"survey-form\""));
    assert!(!html.contains("invitation-code"));
    let page = app.get_form("en").await;
    let sent = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(app.stored()[0].source, "web");
}
