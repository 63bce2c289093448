//! Two instances of the server on one database, as behind a load balancer:
//! residents and staff may reach either on any request. In the PostgreSQL
//! half of the suite this is the deployment the instances are for; on
//! SQLite it is two processes' worth of servers on one file.

use crate::helpers::*;
use civicpulse::account::Role;

/// A second server on `app`'s database and key file.
async fn second_instance(app: &TestApp) -> String {
    restart(app).await
}

async fn form_from(client: &reqwest::Client, base: &str) -> FormPage {
    let html = client
        .get(format!("{base}/s/livability?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    }
}

async fn submit_to(client: &reqwest::Client, base: &str, pairs: &[(String, String)]) -> reqwest::Response {
    client
        .post(format!("{base}/s/livability"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_pairs(pairs))
        .send()
        .await
        .unwrap()
}

fn thanked(response: &reqwest::Response) -> bool {
    response.status() == 303
        && response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/s/livability/thanks"))
}

#[tokio::test]
async fn two_instances_share_residents_sessions_and_publications() {
    let app = spawn_app().await;
    let (a, b) = (app.address.clone(), second_instance(&app).await);
    let answers = valid_answers(&livability());

    // A resident on each instance.
    for base in [&a, &b] {
        let client = new_client();
        let page = form_from(&client, base).await;
        let response = submit_to(&client, base, &with_tokens(&page, "en", &answers)).await;
        assert!(thanked(&response), "{base}: {}", response.status());
    }
    assert_eq!(app.stored().len(), 2);

    // One form sent to both at once (a double tap that the load balancer
    // spread over two instances): two thank-you pages, one response.
    let client = new_client();
    let page = form_from(&client, &a).await;
    let pairs = with_tokens(&page, "en", &answers);
    let (to_a, to_b) = tokio::join!(submit_to(&client, &a, &pairs), submit_to(&client, &b, &pairs));
    assert!(thanked(&to_a) && thanked(&to_b), "{} {}", to_a.status(), to_b.status());
    let stored = app.stored();
    assert_eq!(stored.len(), 3, "the double submission is stored once");

    // Signed in on one, working on the other: the session lives in the
    // database, and cookies do not depend on the port.
    let staff = app.signed_in("dana", Role::Designer).await;
    let on_b = staff.get(format!("{b}/admin/surveys?lang=en")).send().await.unwrap();
    assert_eq!(on_b.status(), 200, "the session of instance A works on B");
    let html = on_b.text().await.unwrap();
    let csrf = hidden_value(&html, "_csrf");

    // A designer publishes a new version on B; residents on A get it
    // within a second or two, without a restart, and their answers to it
    // are stored as answers to it.
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    let mut raw: civicpulse::survey::raw::RawSurvey = toml::from_str(&text).unwrap();
    raw.title.en = Some("Life in our city, published on B".to_string());
    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let definition = toml::to_string_pretty(&raw).unwrap();
    let imported = staff
        .post(format!("{b}/admin/surveys/livability/import"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_pairs(&form(&[("_csrf", &csrf), ("definition", &definition)])))
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 303);
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let published = staff
        .post(format!("{b}/admin/surveys/livability/publish"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_pairs(&form(&[
            ("_csrf", &csrf),
            ("opens", &today),
            ("closes", ""),
        ])))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 303);
    let new_version = location(&published).rsplit('=').next().unwrap().to_string();

    let started = std::time::Instant::now();
    let page = loop {
        let client = new_client();
        let page = form_from(&client, &a).await;
        if hidden_value(&page.html, "_v") == new_version {
            break (client, page);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "instance A still serves the old version after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let noticed = started.elapsed();
    assert!(noticed < std::time::Duration::from_secs(3), "noticed after {noticed:?}");
    let (client, page) = page;
    assert!(page.html.contains("Life in our city, published on B"));
    let response = submit_to(&client, &a, &with_tokens(&page, "en", &answers)).await;
    assert!(thanked(&response));
    let newest = app.stored().into_iter().max_by_key(|r| r.version).unwrap();
    assert_eq!(newest.version.to_string(), new_version);
}

#[tokio::test]
async fn an_analysis_on_one_instance_sees_a_version_published_on_the_other() {
    let app = spawn_app().await;
    let b = second_instance(&app).await;
    // The statistician's API on B, after the command line (another
    // process) published a version and a resident answered it on A.
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("next.toml");
    std::fs::write(&file, text).unwrap();
    let (ok, _, stderr) = app.cli(&["survey", "import", file.to_str().unwrap(), "--publish"]);
    assert!(ok, "{stderr}");
    // Wait until A serves the new version (within its second of checking).
    let started = std::time::Instant::now();
    while hidden_value(&app.get_form("en").await.html, "_v") != "3" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "A never served v3"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for _ in 0..2 {
        let page = app.get_form("en").await;
        let response = app
            .post_pairs(
                "/s/livability",
                &with_tokens(&page, "en", &valid_answers(&livability())),
            )
            .await;
        assert_eq!(response.status(), 303);
    }
    let (ok, token, stderr) = app.cli(&["token", "create", "--name", "stats"]);
    assert!(ok, "{stderr}");
    let indices = reqwest::Client::new()
        .get(format!("{b}/api/v1/surveys/livability/indices"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    let status = indices.status();
    let body = indices.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report["definition"]["versions_answered"],
        serde_json::json!([3]),
        "{body}"
    );
    assert_eq!(report["rows"][0]["n"], 2, "{body}");
}
