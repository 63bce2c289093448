//! Kept results and the bound on computations, through the real server:
//! the same question twice is computed once, new data (an import from
//! another process, a resident's answer) are computed again and show, a
//! comparison reuses each wave's kept indices and equals the CLI's, and a
//! crowd of requests never runs more computations at once than the bound.

use crate::helpers::*;
use serde_json::Value;

fn cli(app: &TestApp, args: &[&str]) -> String {
    let (ok, stdout, stderr) = app.cli(args);
    assert!(ok, "{args:?}: {stderr}");
    stdout
}

const WAVE2025: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/wave2025.csv");
const WAVE2026: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/wave2026.csv");

async fn api(app: &TestApp, token: &str, path_and_query: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/surveys/livability/{path_and_query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.json().await.unwrap()
}

fn computed(app: &TestApp) -> u64 {
    app.state.analysis_stats().cache.computed
}

#[tokio::test]
async fn the_same_question_is_computed_once_until_new_data_arrive() {
    let app = spawn_app().await;
    let (year, last) = (this_year(), this_year() - 1);
    let (year_text, last_text) = (year.to_string(), last.to_string());
    cli(&app, &["import", "livability", WAVE2026, "--wave", &year_text]);
    let token = cli(&app, &["token", "create", "--name", "analyst"]).trim().to_string();
    let query = format!("indices?wave={year}&by=district");

    let first = api(&app, &token, &query).await;
    assert_eq!(first["rows"][0]["n"], 689);
    assert_eq!(computed(&app), 1);
    let again = api(&app, &token, &query).await;
    assert_eq!(again, first);
    assert_eq!(computed(&app), 1, "the second request was served the kept report");
    assert_eq!(app.state.analysis_stats().cache.hits, 1);
    // Another question is another report.
    api(&app, &token, &format!("{query}&level=0.9")).await;
    assert_eq!(computed(&app), 2);

    // A comparison computes only the wave not kept yet, and says what the
    // CLI says, to the last digit.
    cli(&app, &["import", "livability", WAVE2025, "--wave", &last_text]);
    let compared = api(&app, &token, &format!("compare?from={last}&to={year}&by=district")).await;
    assert_eq!(computed(&app), 3, "{year} came from the cache");
    let by_cli: Value = serde_json::from_str(&cli(
        &app,
        &[
            "compare",
            "livability",
            "--from",
            &last_text,
            "--to",
            &year_text,
            "--by",
            "district",
        ],
    ))
    .unwrap();
    assert_eq!(compared, by_cli);
    api(&app, &token, &format!("compare?from={last}&to={year}&by=district")).await;
    assert_eq!(computed(&app), 3);

    // Ten more interviews of this year, imported by another process: the
    // next request computes again and counts them.
    let late = std::fs::read_to_string(WAVE2025).unwrap();
    let late: Vec<&str> = late.lines().take(11).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.csv");
    std::fs::write(&file, late.join("\n") + "\n").unwrap();
    cli(
        &app,
        &["import", "livability", file.to_str().unwrap(), "--wave", &year_text],
    );
    let fresh = api(&app, &token, &query).await;
    assert_eq!(computed(&app), 4);
    assert_eq!(fresh["rows"][0]["n"], 699);

    // A resident's answer through the server: left out of an interview
    // wave's figures, but the figures say so, so they are computed again.
    let page = app.get_form("en").await;
    let response = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(response.status(), 303);
    let with_web = api(&app, &token, &query).await;
    assert_eq!(computed(&app), 5);
    assert_eq!(with_web["left_out"], serde_json::json!({"web": 1}));
    assert_eq!(with_web["rows"], fresh["rows"]);

    // The earlier wave's kept indices are untouched by this year's news.
    api(&app, &token, &format!("compare?from={last}&to={year}&by=district")).await;
    assert_eq!(
        computed(&app),
        5,
        "both waves kept: {last} unchanged, {year} just computed"
    );
}

#[tokio::test]
async fn a_crowd_of_requests_never_runs_more_computations_than_the_bound() {
    let app = spawn_app().await;
    let year = this_year().to_string();
    cli(&app, &["import", "livability", WAVE2026, "--wave", &year]);
    let token = cli(&app, &["token", "create", "--name", "analyst"]).trim().to_string();
    // Twelve different questions, and four asked twice: sixteen at once.
    let levels: Vec<String> = (0..12).map(|i| format!("0.{}", 80 + i)).collect();
    let asked: Vec<&String> = levels.iter().chain(&levels[..4]).collect();
    let requests = asked.iter().map(|level| {
        let url = app.url(&format!(
            "/api/v1/surveys/livability/indices?wave={year}&by=district&level={level}"
        ));
        let request = app.client.get(url).bearer_auth(&token).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    });
    let reports = futures_util::future::join_all(requests).await;
    for (report, level) in reports.iter().zip(&asked) {
        assert_eq!(report["level"].as_f64().unwrap(), level.parse::<f64>().unwrap());
    }
    let stats = app.state.analysis_stats();
    assert!(stats.bound >= 1);
    assert!(
        (1..=stats.bound).contains(&stats.most_at_once),
        "{} computations ran at once, the bound is {}",
        stats.most_at_once,
        stats.bound
    );
    assert_eq!(stats.cache.computed, 12, "each question once");
    assert_eq!(
        stats.cache.hits + stats.cache.shared,
        4,
        "the repeated ones waited or were kept"
    );
}
