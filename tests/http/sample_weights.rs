//! Design weights of an invitation wave agree with R. The 167 residents of
//! `tests/reference/invited/responses.csv` each answer through the real
//! server with an invitation code of their stratum; the statistics API's
//! indices with `weights=design` (N_h / r_h from the frame, strata from the
//! invitations) must equal R's `svydesign(ids = ~1, strata = ~stratum,
//! weights = ~w)` on the same data (`expected.json`, made by `reference.R`).

use crate::helpers::*;
use civicpulse::fieldwork::Access;
use serde_json::Value;
use std::collections::HashMap;

const RESPONSES: &str = include_str!("../reference/invited/responses.csv");
const FRAME: &str = include_str!("../reference/invited/frame.csv");
const EXPECTED: &str = include_str!("../reference/invited/expected.json");

fn close(actual: &Value, expected: &Value, rel: f64) -> bool {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(a), Some(e)) => (a - e).abs() <= rel * e.abs().max(1e-300) || (a - e).abs() < 1e-12,
        _ => actual.is_null() && expected.is_null(),
    }
}

#[tokio::test]
async fn invited_responses_weighted_from_the_frame_match_r() {
    // R's figures go down to cells of 2; this deployment allows min_cell=1.
    let app = spawn_app_with(|_| {}, |config| config.min_cell_floor = 1).await;
    let frame: Vec<(String, f64)> = FRAME
        .lines()
        .skip(1)
        .map(|l| {
            let (s, n) = l.split_once(',').unwrap();
            (s.to_string(), n.parse().unwrap())
        })
        .collect();
    let frame_refs: Vec<(&str, f64)> = frame.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    app.set_up_wave(Access::Invitation, &frame_refs);

    let mut lines = RESPONSES.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut codes: HashMap<&str, Vec<String>> = HashMap::new();
    for (stratum, _) in &frame_refs {
        let count = rows.iter().filter(|r| r[0] == *stratum).count() as u64;
        codes.insert(stratum, app.invite(stratum, count + 1));
    }
    for row in &rows {
        let code = codes.get_mut(row[0]).unwrap().pop().unwrap();
        let client = new_client();
        let page = app.form_with_code(&client, &code, "zh").await;
        let answers: Vec<(String, String)> = header[1..]
            .iter()
            .zip(&row[1..])
            .filter(|(_, v)| !v.is_empty())
            .map(|(q, v)| (q.to_string(), v.to_string()))
            .collect();
        let sent = post(&app, &client, "/s/livability", &with_tokens(&page, "zh", &answers)).await;
        assert_eq!(sent.status(), 303, "{row:?}");
    }
    assert_eq!(app.stored().len(), rows.len());

    let token = app.api_token("r-check");
    let expected: Vec<Value> = serde_json::from_str(EXPECTED).unwrap();
    let mut compared = 0;
    for weights in ["none", "design"] {
        for by in [None, Some("district"), Some("age_group")] {
            let mut url = format!(
                "/api/v1/surveys/livability/indices?wave={}&weights={weights}&min_cell=1",
                this_year()
            );
            if let Some(by) = by {
                url.push_str(&format!("&by={by}"));
            }
            let response = app.client.get(app.url(&url)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let report: Value = response.json().await.unwrap();
            assert_eq!(report["sources"], serde_json::json!(["invited"]));
            let from = if weights == "none" { "none" } else { "frame" };
            assert_eq!(report["design_weights"], from);
            let rows = report["rows"].as_array().unwrap();
            for e in expected
                .iter()
                .filter(|e| e["weights"] == weights && e["by"].as_str() == by)
                .filter(|e| by.is_none() || !e["group"].is_null())
            {
                let a = rows
                    .iter()
                    .find(|a| a["level"] == e["level"] && a["id"] == e["id"] && a["group"] == e["group"])
                    .unwrap_or_else(|| panic!("no row for {e}"));
                let what = format!("{weights} by {by:?}: {} {} {}", e["level"], e["id"], e["group"]);
                assert_eq!(a["n"], e["n"], "{what}");
                assert_eq!(a["df"], e["df"], "{what}");
                for f in ["estimate", "n_eff", "se", "ci_low", "ci_high"] {
                    assert!(close(&a[f], &e[f], 1e-9), "{what} {f}: {} vs R {}", a[f], e[f]);
                }
                if let Some(t) = e.get("top_box").filter(|t| !t.is_null()) {
                    let at = &a["top_box"];
                    for f in ["estimate", "ci_low", "ci_high"] {
                        // R cannot give a logit interval on 1 df (its
                        // confidence level rounds to 1): null there means
                        // "R has none", not "there is none".
                        if t[f].is_null() && e["df"] == 1 {
                            continue;
                        }
                        assert!(
                            close(&at[f], &t[f], 1e-6),
                            "{what} top box {f}: {} vs R {}",
                            at[f],
                            t[f]
                        );
                    }
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, expected.len(), "every R row compared");

    // The export gives every invited response its frame weight N_h / r_h
    // and its invitation's stratum, so the design is rebuilt from the CSV:
    // load.R's overall index is the API's.
    let out = tempfile::tempdir().unwrap();
    let wave = this_year().to_string();
    let out_arg = out.path().display().to_string();
    let (ok, _, stderr) = app.cli(&["export", "livability", "--out", &out_arg, "--wave", &wave]);
    assert!(ok, "{stderr}");
    let mut reader = csv::Reader::from_path(out.path().join("responses.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let exported: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(exported.len(), rows.len());
    for record in &exported {
        let stratum = &record[col("_stratum")];
        let population = frame
            .iter()
            .find(|(s, _)| s == stratum)
            .expect("a stratum of the frame")
            .1;
        let respondents = rows.iter().filter(|r| r[0] == stratum).count() as f64;
        assert_eq!(record[col("_weight")].parse::<f64>().unwrap(), population / respondents);
        assert_eq!((&record[col("_source")], &record[col("_cluster")]), ("invited", ""));
    }
    if !crate::support::r_available("invited_responses_weighted_from_the_frame_match_r") {
        return;
    }
    let printed = crate::support::run_load_r(out.path());
    let (ok, json, stderr) = app.cli(&["indices", "livability", "--wave", &wave, "--format", "json"]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["design_weights"], "frame");
    let ours = &report["rows"][0];
    assert_eq!(ours["id"], "overall");
    for field in ["estimate", "se", "ci_low", "ci_high", "n", "df"] {
        let (theirs, ours) = (printed[field], ours[field].as_f64().unwrap());
        assert!(
            (theirs - ours).abs() < 1e-8,
            "load.R {field}: R {theirs}, civicpulse {ours}"
        );
    }
}
