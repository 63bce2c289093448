//! Statisticians' path end to end: the reference interview data is imported
//! from CSV into the built-in survey, and the indices computed by the CLI
//! and the HTTP API must equal what R's `survey` package computed
//! independently (`tests/reference/expected.json`).

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const RESPONSES: &str = include_str!("reference/responses.csv");
const EXPECTED: &str = include_str!("reference/expected.json");
const MARGINS: &str = include_str!("reference/margins.csv");

fn civicpulse(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

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
    let (ok, stdout, stderr) = civicpulse(
        dir.path(),
        &["import", "livability", "interviews.csv", "--wave", "2026"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 0 responses, skipped 1197"), "{stdout}");
    let (ok, stdout, stderr) = civicpulse(
        dir.path(),
        &["indices", "livability", "--weights", "design", "--format", "csv"],
    );
    assert!(ok, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert_eq!(
        header,
        "level,id,group,n,n_eff,estimate,se,df,ci_low,ci_high,suppressed,low_precision,top_box_estimate,top_box_ci_low,top_box_ci_high"
    );
    let overall = stdout.lines().nth(1).unwrap();
    assert!(overall.starts_with("overall,overall,,1197,"), "{overall}");
}
