//! Statisticians' path end to end: the reference interview data is imported
//! from CSV into the built-in survey, and the indices computed by the CLI
//! and the HTTP API must equal what R's `survey` package computed
//! independently (`tests/reference/expected.json`); on SQLite and (the
//! PostgreSQL half, see `support::postgres`) on PostgreSQL.

mod support;
use support::civicpulse;

use serde_json::Value;
use std::path::Path;

#[path = "statistics/report.rs"]
mod report;

#[path = "statistics/pushdown.rs"]
mod pushdown;

#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("statistics");
}

const RESPONSES: &str = include_str!("reference/responses.csv");
const EXPECTED: &str = include_str!("reference/expected.json");
const MARGINS: &str = include_str!("reference/margins.csv");

/// The reference file as a livability import: its 14 items keep their ids;
/// the survey's other required items are answered "don't know" (missing,
/// so every index equals the reference one), plus the two background
/// questions the reference lacks.
fn livability_csv() -> String {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let mut lines = RESPONSES.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let extra: Vec<(String, &str)> = survey
        .questions
        .iter()
        .filter(|q| q.required && q.show_if.is_none() && !header.contains(&q.id.as_str()))
        .map(|q| {
            let value = match q.id.as_str() {
                "years_resident" => "5-10",
                "resident_type" => "local",
                _ => "dk",
            };
            (q.id.to_string(), value)
        })
        .collect();
    let mut out = header.join(",");
    for (id, _) in &extra {
        out.push(',');
        out.push_str(id);
    }
    out.push('\n');
    for line in lines {
        out.push_str(line);
        for (_, value) in &extra {
            out.push(',');
            out.push_str(value);
        }
        out.push('\n');
    }
    out
}

fn close(actual: &Value, expected: &Value, rel: f64) -> bool {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(a), Some(e)) => (a - e).abs() <= rel * e.abs().max(1e-12),
        _ => actual == expected,
    }
}

/// Compare every reference row of weighting `weights` with `rows`.
fn check_against_reference(rows: &[Value], weights: &str) -> usize {
    let expected: Vec<Value> = serde_json::from_str(EXPECTED).unwrap();
    let mut checked = 0;
    for e in expected.iter().filter(|e| e["weights"] == weights) {
        let row = rows
            .iter()
            .find(|r| r["level"] == e["level"] && r["id"] == e["id"] && r["group"] == e["group"])
            .unwrap_or_else(|| panic!("no row for {e}"));
        let what = format!("{weights} {} {} {}", e["level"], e["id"], e["group"]);
        assert_eq!(row["n"], e["n"], "{what}: n");
        assert_eq!(row["df"].as_f64(), e["df"].as_f64(), "{what}: df");
        assert!(
            close(&row["estimate"], &e["estimate"], 1e-9),
            "{what}: estimate {} vs {}",
            row["estimate"],
            e["estimate"]
        );
        assert!(close(&row["n_eff"], &e["n_eff"], 1e-9), "{what}: n_eff");
        for key in ["se", "ci_low", "ci_high"] {
            assert!(
                close(&row[key], &e[key], 1e-6),
                "{what}: {key} {} vs {}",
                row[key],
                e[key]
            );
        }
        if e["level"] == "item" {
            for key in ["estimate", "ci_low", "ci_high"] {
                assert!(
                    close(&row["top_box"][key], &e["top_box"][key], 1e-6),
                    "{what}: top_box {key}"
                );
            }
        }
        checked += 1;
    }
    checked
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("interviews.csv"), livability_csv()).unwrap();
    std::fs::write(dir.path().join("margins.csv"), MARGINS).unwrap();
    let (ok, stdout, stderr) = civicpulse(
        dir.path(),
        &["import", "livability", "interviews.csv", "--wave", "2026"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 1197 responses"), "{stdout}");
    dir
}

#[test]
fn cli_indices_match_r_for_every_weighting() {
    let dir = setup();
    let mut total = 0;
    for weights in ["none", "design", "raked"] {
        let mut args = vec![
            "indices",
            "livability",
            "--wave",
            "2026",
            "--by",
            "district",
            "--weights",
            weights,
            "--min-cell",
            "2",
        ];
        if weights == "raked" {
            args.extend(["--margins", "margins.csv"]);
        }
        let (ok, stdout, stderr) = civicpulse(dir.path(), &args);
        assert!(ok, "{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["survey"], "livability");
        assert_eq!(report["wave"], 2026);
        assert_eq!(report["weights"], weights);
        assert_eq!(report["level"], 0.95);
        let rows = report["rows"].as_array().unwrap();
        // Whole-sample rows first, then one set per district in option order.
        assert_eq!(rows[0]["level"], "overall");
        assert_eq!(rows[0]["group"], Value::Null);
        let first_group = rows.iter().position(|r| !r["group"].is_null()).unwrap();
        assert!(rows[..first_group].iter().all(|r| r["group"].is_null()));
        assert_eq!(rows[first_group]["group"], "huancui");
        total += check_against_reference(rows, weights);
    }
    assert_eq!(total, 480, "every reference row checked");
}

#[test]
fn reimporting_adds_nothing_and_csv_output_has_the_same_columns() {
    let dir = setup();
    // The same file again adds nothing: an error, unless --skip-existing
    // says that is expected (tests/import_batches.rs has the details).
    let args = ["import", "livability", "interviews.csv", "--wave", "2026"];
    let (ok, _, stderr) = civicpulse(dir.path(), &args);
    assert!(!ok && stderr.contains("nothing was imported"), "{stderr}");
    let (ok, stdout, stderr) = civicpulse(dir.path(), &[&args[..], &["--skip-existing"]].concat());
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 0 responses, skipped 1197"), "{stdout}");
    let (ok, stdout, stderr) = civicpulse(
        dir.path(),
        &["indices", "livability", "--weights", "design", "--format", "csv"],
    );
    assert!(ok, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert_eq!(header, civicpulse::analysis::index_csv_header().join(","));
    // The report's own fields on every row, then the figure: a CSV file
    // says everything the JSON does.
    let overall = stdout.lines().nth(1).unwrap();
    assert!(
        overall.starts_with(
            "livability,2026,2,import,interviews,design,stored,linearized,,,,fail,,overall,overall,,,1197,,"
        ),
        "{overall}"
    );
}

fn indices_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["indices", "livability"];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = civicpulse(dir, &args);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn indices_error(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["indices", "livability"];
    args.extend_from_slice(extra);
    let (ok, _, stderr) = civicpulse(dir, &args);
    assert!(!ok, "indices {extra:?} should fail");
    stderr
}

#[tokio::test]
async fn the_api_needs_a_token_and_answers_like_the_cli() {
    let dir = setup();
    let (ok, _, stderr) = civicpulse(
        dir.path(),
        &["margins", "set", "livability", "margins.csv", "--wave", "2026"],
    );
    assert!(ok, "{stderr}");
    let (ok, token, stderr) = civicpulse(dir.path(), &["token", "create", "--name", "analyst"]);
    assert!(ok, "{stderr}");
    let token = token.trim().to_string();
    let (ok, _, stderr) = civicpulse(dir.path(), &["token", "create", "--name", "analyst"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");

    let mut config = civicpulse::config::ServeConfig::new("127.0.0.1:0", support::database_url(dir.path()));
    // The key the commands used (PostgreSQL's default is in the working folder).
    config.key_file = dir.path().join("civicpulse.key");
    config.workers = Some(1);
    // The reference has cells of 2: this deployment lets callers go that low.
    config.min_cell_floor = 2;
    let app = civicpulse::web::Application::build(&config).unwrap();
    let base = format!("http://127.0.0.1:{}/api/v1/surveys/livability", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    let anonymous = client.get(format!("{base}/indices")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let forged = client
        .get(format!("{base}/indices"))
        .bearer_auth("cp_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    let query = "wave=2026&by=district&weights=raked&min_cell=2";
    let api: Value = client
        .get(format!("{base}/indices?{query}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The stored margins are used for raking, so the API equals the CLI run with the file.
    let cli = indices_json(
        dir.path(),
        &[
            "--wave",
            "2026",
            "--by",
            "district",
            "--weights",
            "raked",
            "--margins",
            "margins.csv",
            "--min-cell",
            "2",
        ],
    );
    assert_eq!(api, cli);
    assert_eq!(check_against_reference(api["rows"].as_array().unwrap(), "raked"), 160);

    let csv = client
        .get(format!("{base}/indices?weights=none&format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv
        .text()
        .await
        .unwrap()
        .starts_with("survey,wave,definition_version,sources,import_batches,weights"));

    let bad = client
        .get(format!("{base}/indices?by=favourite_colour"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("favourite_colour"));
    let typo = client
        .get(format!("{base}/indices?weight=raked"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), 400);
    // Bootstrap replicates are bounded: a request for two million is
    // refused before any work (it took 8.5 s and 380 MB).
    let greedy = client
        .get(format!("{base}/indices?variance=bootstrap&replicates=2000000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(greedy.status(), 400);
    let body: Value = greedy.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 5000"),
        "{body}"
    );
    // Each numeric parameter's rule is stated on its input type and told.
    let out_of_range = client
        .get(format!("{base}/indices?level=1.5&min_cell=0&wave=20260"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out_of_range.status(), 400);
    let body: Value = out_of_range.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "level must lie strictly between 0 and 1 (0.95 for 95% intervals); \
         min_cell must be between 1 and 1000000, not 0; wave must be between 1900 and 2999, not 20260"
    );
    let (ok, _, stderr) = civicpulse(
        dir.path(),
        &[
            "indices",
            "livability",
            "--variance",
            "bootstrap",
            "--replicates",
            "5001",
        ],
    );
    assert!(!ok && stderr.contains("between 1 and 5000"), "{stderr}");
    let unknown = client
        .get("http://".to_string() + &base[7..].replace("livability", "nope") + "/indices")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let compare = client
        .get(format!("{base}/compare?from=2026&to=2026&weights=design"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(compare.status(), 422, "the same wave twice is no comparison");
    assert!(compare.text().await.unwrap().contains("not 2026 twice"));
    let missing = client
        .get(format!("{base}/compare?from=2026"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
}

#[test]
fn comparing_two_waves_gives_differences_with_se_ci_and_p() {
    let dir = setup();
    // The same interviews again as wave 2025 (new ids), minus the first 100.
    let csv = livability_csv();
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    let body: Vec<String> = lines
        .split_off(1)
        .into_iter()
        .skip(100)
        .map(|l| format!("b{l}"))
        .collect();
    std::fs::write(
        dir.path().join("earlier.csv"),
        format!("{}\n{}\n", lines[0], body.join("\n")),
    )
    .unwrap();
    let (ok, _, stderr) = civicpulse(dir.path(), &["import", "livability", "earlier.csv", "--wave", "2025"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = civicpulse(
        dir.path(),
        &[
            "compare",
            "livability",
            "--from",
            "2025",
            "--to",
            "2026",
            "--weights",
            "design",
        ],
    );
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let a = indices_json(dir.path(), &["--wave", "2025", "--weights", "design"]);
    let b = indices_json(dir.path(), &["--wave", "2026", "--weights", "design"]);
    for (i, row) in report["rows"].as_array().unwrap().iter().enumerate() {
        let (ea, eb) = (&a["rows"][i], &b["rows"][i]);
        assert_eq!(row["id"], eb["id"]);
        if eb["estimate"].is_null() {
            assert!(row["difference"].is_null() && row["note"].is_string());
            continue;
        }
        let diff = eb["estimate"].as_f64().unwrap() - ea["estimate"].as_f64().unwrap();
        assert!((row["difference"].as_f64().unwrap() - diff).abs() < 1e-9);
        let se = (ea["se"].as_f64().unwrap().powi(2) + eb["se"].as_f64().unwrap().powi(2)).sqrt();
        assert!((row["se"].as_f64().unwrap() - se).abs() < 1e-9);
        assert_eq!(
            row["df"].as_f64().unwrap(),
            ea["df"].as_f64().unwrap().min(eb["df"].as_f64().unwrap())
        );
        let p = row["p_value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert!(row["ci_low"].as_f64().unwrap() < diff && diff < row["ci_high"].as_f64().unwrap());
    }
}

#[test]
fn bootstrap_is_reproducible_and_close_to_linearized() {
    // Every figure of the report gets a bootstrap SE: indices, satisfied
    // rates and their totals, populations, answer shares; the output says
    // how the bootstrap ran.
    let dir = setup();
    std::fs::write(dir.path().join("margins.csv"), MARGINS).unwrap();
    for weights in ["design", "raked"] {
        let mut args = vec!["--weights", weights, "--distributions"];
        if weights == "raked" {
            args.extend(["--margins", "margins.csv"]);
        }
        let linear = indices_json(dir.path(), &args);
        args.extend(["--variance", "bootstrap", "--replicates", "2000", "--seed", "7"]);
        let boot = indices_json(dir.path(), &args);
        assert_eq!(boot["variance"], "bootstrap");
        assert_eq!(boot["bootstrap"]["replicates"], 2000);
        assert_eq!(boot["bootstrap"]["seed"], 7);
        assert_eq!(boot["bootstrap"]["method"], "rao-wu rescaling");
        assert_eq!(boot["bootstrap"]["redrawn"], 0);
        let again = indices_json(dir.path(), &args);
        assert_eq!(boot, again, "same seed, same result");
        let mut compared = 0;
        let mut close = |what: String, l: &Value, b: &Value, tolerance: f64| {
            let (Some(ls), Some(bs)) = (l["se"].as_f64(), b["se"].as_f64()) else {
                return;
            };
            if ls < 1e-12 {
                // A constant (or a raking margin's share): nothing to resample.
                assert!(bs.abs() < 1e-9, "{what}: bootstrap SE {bs} of a constant");
                return;
            }
            assert!(bs != ls, "{what}: the bootstrap SE replaced the linearised one");
            assert!(
                (bs / ls - 1.0).abs() < tolerance,
                "{weights} {what}: bootstrap SE {bs} vs linearised {ls}"
            );
            compared += 1;
        };
        let pairs = |key: &str| {
            linear[key]
                .as_array()
                .unwrap()
                .clone()
                .into_iter()
                .zip(boot[key].as_array().unwrap().clone())
        };
        for (l, b) in pairs("rows") {
            close(format!("{}", l["id"]), &l, &b, 0.10);
            if l["level"] == "item" {
                close(format!("{} top box", l["id"]), &l["top_box"], &b["top_box"], 0.10);
                let (lt, bt) = (&l["top_box"]["total"], &b["top_box"]["total"]);
                close(format!("{} satisfied", l["id"]), lt, bt, 0.10);
            }
            // Same figure by two summation orders (codes vs columns): equal to rounding.
            if let (Some(le), Some(be)) = (l["estimate"].as_f64(), b["estimate"].as_f64()) {
                assert!((le - be).abs() <= 1e-12 * le.abs(), "{le} vs {be}");
            }
        }
        for (l, b) in pairs("population") {
            // After raking the population is a margin: SE 0 both ways.
            if weights == "design" {
                close("population".into(), &l, &b, 0.10);
            }
        }
        for (l, b) in pairs("distributions") {
            if l["estimate"].as_f64().is_some_and(|s| s > 0.05) {
                close(format!("{} = {}", l["question"], l["option"]), &l, &b, 0.15);
            }
        }
        assert!(compared > 100, "{weights}: {compared} SEs compared");
    }
}

/// A small design-weighted import for the error cases.
fn import_rows(dir: &Path, name: &str, rows: &[(&str, &str, &str, &str)]) -> (bool, String, String) {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let mut csv = String::from("_id,_weight,_stratum,_cluster");
    let questions: Vec<_> = survey
        .questions
        .iter()
        .filter(|q| q.required && q.show_if.is_none())
        .collect();
    for q in &questions {
        csv.push(',');
        csv.push_str(q.id.as_str());
    }
    csv.push('\n');
    for (i, (weight, stratum, cluster, district)) in rows.iter().enumerate() {
        csv.push_str(&format!("{name}{i},{weight},{stratum},{cluster}"));
        for q in &questions {
            let v = match q.id.as_str() {
                "district" => district.to_string(),
                "resident_type" => "local".into(),
                _ => q.kind.options()[i % 2].value.to_string(),
            };
            csv.push(',');
            csv.push_str(&v);
        }
        csv.push('\n');
    }
    let file = format!("{name}.csv");
    std::fs::write(dir.join(&file), csv).unwrap();
    civicpulse(dir, &["import", "livability", &file, "--wave", "2030"])
}

#[test]
fn design_and_raking_errors_name_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Stratum "east" has one community only.
    let rows = [
        ("10", "west", "w1", "huancui"),
        ("12", "west", "w1", "huancui"),
        ("11", "west", "w2", "wendeng"),
        ("9", "west", "w2", "wendeng"),
        ("10", "east", "e1", "rushan"),
        ("10", "east", "e1", "rushan"),
    ];
    let (ok, _, stderr) = import_rows(d, "a", &rows);
    assert!(ok, "{stderr}");
    let e = indices_error(d, &["--weights", "design"]);
    assert!(e.contains("stratum 'east' has only one primary sampling unit"), "{e}");

    let (ok, _, stderr) = import_rows(d, "b", &[("10", "east", "e2", "rushan"), ("8", "east", "e2", "rushan")]);
    assert!(ok, "{stderr}");
    assert!(indices_json(d, &["--weights", "design"])["rows"][0]["n"] == 8);

    // The population lacks a district the sample has.
    std::fs::write(
        d.join("m1.csv"),
        "question,value,total\ndistrict,huancui,100\ndistrict,wendeng,100\n",
    )
    .unwrap();
    let e = indices_error(d, &["--weights", "raked", "--margins", "m1.csv"]);
    assert!(e.contains("'rushan'") && e.contains("district"), "{e}");
    // A population category without respondents.
    std::fs::write(
        d.join("m2.csv"),
        "question,value,total\ndistrict,huancui,100\ndistrict,wendeng,100\ndistrict,rushan,100\ndistrict,nanhai,50\n",
    )
    .unwrap();
    let e = indices_error(d, &["--weights", "raked", "--margins", "m2.csv"]);
    assert!(e.contains("'nanhai'"), "{e}");
    // Not a question, not an option, not a number.
    std::fs::write(d.join("m3.csv"), "question,value,total\nplanet,earth,100\n").unwrap();
    assert!(indices_error(d, &["--weights", "raked", "--margins", "m3.csv"]).contains("\"planet\" is not a question"));
    std::fs::write(d.join("m4.csv"), "question,value,total\ndistrict,atlantis,100\n").unwrap();
    assert!(indices_error(d, &["--weights", "raked", "--margins", "m4.csv"]).contains("\"atlantis\" is not an option"));
    std::fs::write(d.join("m5.csv"), "question,value,total\ndistrict,huancui,many\n").unwrap();
    assert!(indices_error(d, &["--weights", "raked", "--margins", "m5.csv"])
        .contains("row 2: total \"many\" is not a number"));
    // Margins whose totals contradict each other cannot all be met.
    std::fs::write(
        d.join("m6.csv"),
        "question,value,total\ndistrict,huancui,100\ndistrict,wendeng,100\ndistrict,rushan,100\nsex,male,500\nsex,female,500\n",
    )
    .unwrap();
    let e = indices_error(d, &["--weights", "raked", "--margins", "m6.csv"]);
    assert!(e.to_lowercase().contains("margin"), "{e}");
    // Raking without margins says how to provide them.
    assert!(indices_error(d, &["--weights", "raked"]).contains("civicpulse margins set livability"));
    // Grouping.
    let e = indices_error(d, &["--by", "favourite_colour"]);
    assert!(e.contains("favourite_colour") && e.contains("district"), "{e}");
    assert!(indices_error(d, &["--by", "suggestions"]).contains("only single-choice"));
    assert!(indices_error(d, &["--wave", "1999"]).contains("no responses in wave 1999"));
    assert!(indices_error(d, &["--level", "1.5"]).contains("level"));
}

#[test]
fn import_reports_every_bad_row_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = [
        ("10", "s", "c1", "huancui"),
        ("-2", "s", "c1", "huancui"),
        ("", "s", "c2", "wendeng"),
        ("abc", "s", "c2", "atlantis"),
    ];
    let (ok, stdout, stderr) = import_rows(d, "x", &rows);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("x.csv: 4 problems found, nothing was imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 3, column \"_weight\": a weight must be positive, not -2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 4, column \"_weight\": the weight is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 5, column \"_weight\": \"abc\" is not a number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 5, column \"district\": \"atlantis\" is not an option"),
        "{stderr}"
    );
    let (ok, stdout, _) = civicpulse(d, &["export", "livability", "--format", "csv"]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 1, "nothing stored");

    std::fs::write(d.join("cols.csv"), "_id,district,colour\n1,huancui,red\n").unwrap();
    let (ok, _, stderr) = civicpulse(d, &["import", "livability", "cols.csv"]);
    assert!(!ok);
    assert!(
        stderr.contains("row 1, column \"colour\": not a question of survey \"livability\""),
        "{stderr}"
    );

    std::fs::write(d.join("dup.csv"), "_id,district\n1,huancui\n1,huancui\n").unwrap();
    let (ok, _, stderr) = civicpulse(d, &["import", "livability", "dup.csv"]);
    assert!(!ok);
    assert!(
        stderr.contains("row 3, column \"_id\": _id \"1\" appears twice"),
        "{stderr}"
    );
    assert!(
        stderr.contains("column \"sex\": question \"sex\" is required"),
        "{stderr}"
    );

    std::fs::write(d.join("ragged.csv"), "_id,district\n1,huancui,extra\n").unwrap();
    let (ok, _, stderr) = civicpulse(d, &["import", "livability", "ragged.csv"]);
    assert!(
        !ok && stderr.contains("row 2: 3 cells, but the header has 2 columns"),
        "{stderr}"
    );
    let (ok, _, stderr) = civicpulse(d, &["import", "livability", "missing.csv"]);
    assert!(!ok && stderr.contains("cannot read missing.csv"), "{stderr}");
}

/// Publishing a new version never changes an earlier wave: the 2025
/// interviews, answered on v1, keep their figures to the last digit after v2
/// changes a dimension weight; the 2026 interviews, answered on v2, use v2's
/// weight; and the comparison says the definitions differ, and how.
#[test]
fn a_later_version_leaves_an_earlier_wave_identical_to_the_last_digit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("interviews.csv"), livability_csv()).unwrap();
    let (ok, _, stderr) = civicpulse(path, &["import", "livability", "interviews.csv", "--wave", "2025"]);
    assert!(ok, "{stderr}");
    let before = indices_json(path, &["--wave", "2025", "--by", "district"]);
    assert_eq!(before["definition"]["version"], 2);
    assert_eq!(before["definition"]["versions_answered"], serde_json::json!([2]));

    // v2: the safety dimension weighs more.
    let (ok, v1, stderr) = civicpulse(path, &["survey", "export", "livability"]);
    assert!(ok, "{stderr}");
    let mut raw: civicpulse::survey::raw::RawSurvey = toml::from_str(&v1).unwrap();
    let safety = raw.dimensions.iter_mut().find(|d| d.id == "safety").unwrap();
    let old_weight = safety.weight;
    safety.weight += 0.15;
    std::fs::write(path.join("v2.toml"), toml::to_string_pretty(&raw).unwrap()).unwrap();
    let (ok, stdout, stderr) = civicpulse(path, &["survey", "import", "v2.toml", "--publish"]);
    assert!(ok && stdout.contains("published livability v3"), "{stdout}{stderr}");

    let after = indices_json(path, &["--wave", "2025", "--by", "district"]);
    assert_eq!(after["rows"], before["rows"], "every figure of 2025, to the last digit");
    assert_eq!(after["definition"]["version"], 2);

    // The same answers in 2026, on v2, weigh safety more.
    let next_year = livability_csv().replace("\nr", "\ny26-r");
    std::fs::write(path.join("interviews-2026.csv"), next_year).unwrap();
    let (ok, _, stderr) = civicpulse(path, &["import", "livability", "interviews-2026.csv", "--wave", "2026"]);
    assert!(ok, "{stderr}");
    let v2 = indices_json(path, &["--wave", "2026"]);
    assert_eq!(v2["definition"]["version"], 3);
    assert_ne!(
        v2["rows"][0]["estimate"], before["rows"][0]["estimate"],
        "the overall index moves"
    );
    let dimension = |report: &Value, id: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["level"] == "dimension" && r["id"] == id && r["group"].is_null())
            .unwrap()["estimate"]
            .clone()
    };
    assert_eq!(
        dimension(&v2, "safety"),
        dimension(&before, "safety"),
        "a dimension's own score does not"
    );

    let (ok, stdout, stderr) = civicpulse(
        path,
        &[
            "compare",
            "livability",
            "--from",
            "2025",
            "--to",
            "2026",
            "--weights",
            "design",
        ],
    );
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["definitions"]["from"]["version"], 2);
    assert_eq!(report["definitions"]["to"]["version"], 3);
    assert_eq!(
        report["definitions"]["differences"],
        serde_json::json!([format!("dimension safety weight {old_weight} → {}", old_weight + 0.15)])
    );
    assert!(report["notes"][0]
        .as_str()
        .unwrap()
        .contains("compute the indices differently"));
    let overall = &report["rows"][0];
    assert_eq!(overall["id"], "overall");
    assert_eq!(overall["n_from"], 1197);
    assert_eq!(overall["n_to"], 1197);
    let safety_row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "safety" && r["group"].is_null())
        .unwrap();
    assert_eq!(safety_row["difference"], 0.0, "same answers, same dimension score");
    assert_eq!(safety_row["significant"], false);
}

/// A server over the reference data whose analyses may run `limit`; its
/// API base URL and state.
fn api_server(dir: &Path, limit: std::time::Duration) -> (String, actix_web::web::Data<civicpulse::web::AppState>) {
    let mut config = civicpulse::config::ServeConfig::new("127.0.0.1:0", support::database_url(dir));
    config.key_file = dir.join("civicpulse.key");
    config.min_cell_floor = 2;
    config.analysis_timeout = limit;
    let app = civicpulse::web::Application::build(&config).unwrap();
    let base = format!("http://127.0.0.1:{}/api/v1/surveys/livability", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    (base, state)
}

#[tokio::test]
async fn an_analysis_stops_at_its_time_limit_and_when_its_client_goes_away() {
    let dir = setup();
    let (ok, token, stderr) = civicpulse(dir.path(), &["token", "create", "--name", "analyst"]);
    assert!(ok, "{stderr}");
    let token = token.trim().to_string();
    let heavy = "wave=2026&by=district&variance=bootstrap&replicates=5000&min_cell=2";

    // Past the limit: stopped, and told so, long before 5,000 replicates.
    let (base, state) = api_server(dir.path(), std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let late = reqwest::Client::new()
        .get(format!("{base}/indices?{heavy}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 503);
    let body: Value = late.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timed_out", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("longer than the server allows"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(state.analysis_stats().timed_out, 1);

    // The client gives up after 300 ms: its computation stops at the next
    // replicate, and its turn is free again.
    let (base, state) = api_server(dir.path(), std::time::Duration::from_secs(600));
    let gone = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap()
        .get(format!("{base}/indices?{heavy}"))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(gone.is_err(), "the client timed out");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while state.analysis_stats().cancelled == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned analysis was not stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state.analysis_stats().timed_out, 0);
    // The same question, asked and waited for, is answered in full.
    let quick = "wave=2026&by=district&variance=bootstrap&replicates=50&min_cell=2";
    let full = reqwest::Client::new()
        .get(format!("{base}/indices?{quick}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
}
