//! The original failure of a mixed wave: one open-link answer in a wave of
//! imported interviews made `indices` fail ("stratum '' has only one
//! PSU"), and three were pooled silently into the interviews. Interviews
//! are imported through the real binary, a resident answers through the
//! real server into the same wave, and the wave's indices must be the
//! interviews' alone, saying what they left out and how to include it.

use crate::helpers::*;

fn civicpulse(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    app.cli(args)
}
use serde_json::Value;

fn indices(app: &TestApp, extra: &[&str]) -> Value {
    let wave = this_year().to_string();
    let mut args = vec!["indices", "livability", "--wave", &wave, "--by", "district"];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = civicpulse(app, &args);
    assert!(ok, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test]
async fn a_web_answer_in_an_interview_wave_is_left_out_and_said_so() {
    let app = spawn_app().await;
    let interviews = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/wave2026.csv");
    let wave = this_year().to_string();
    let (ok, _, stderr) = civicpulse(&app, &["import", "livability", interviews, "--wave", &wave]);
    assert!(ok, "{stderr}");
    let before = indices(&app, &[]);

    let page = app.get_form("en").await;
    let response = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(response.status(), 303, "the resident's answer is stored");
    assert_eq!(app.stored().len(), 690);

    let after = indices(&app, &[]);
    assert_eq!(after["sources"], serde_json::json!(["import"]));
    assert_eq!(after["left_out"], serde_json::json!({"web": 1}));
    assert!(
        after["notes"]
            .to_string()
            .contains("1 web response of this wave is left out"),
        "{}",
        after["notes"]
    );
    assert_eq!(
        after["rows"], before["rows"],
        "the interviews' figures, to the last digit"
    );
    assert_eq!(after["rows"][0]["n"], 689);
    assert_eq!(after["rows"][0]["df"], 25);

    // Asked for, the open-link answer is analysed alone (weight 1, no
    // design), where a single answer has no variance, and never pooled
    // with the interviews.
    let (ok, _, stderr) = civicpulse(&app, &["indices", "livability", "--wave", &wave, "--source", "web"]);
    assert!(!ok);
    assert!(
        stderr.contains("respondents without one (open-link answers) has only one"),
        "{stderr}"
    );
    let web = indices(&app, &["--source", "web", "--min-cell", "1", "--lonely-psu", "remove"]);
    assert_eq!(web["rows"][0]["n"], 1);
    let (ok, _, stderr) = civicpulse(
        &app,
        &["indices", "livability", "--wave", &wave, "--source", "import,web"],
    );
    assert!(!ok);
    assert!(stderr.contains("analyse import on its own"), "{stderr}");
}
