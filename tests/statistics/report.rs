//! A year's report against R: two interview waves (2025, 2026) and a
//! wave with a lonely PSU are imported through the CLI, and every figure a
//! yearly report publishes (indices with design effects and CVs, totals,
//! answer distributions, a two-way table, lonely-PSU rules, both df rules
//! of a comparison, raking) must equal what R's `survey` package computed
//! (`tests/reference/report/expected.json`; how: its README.md and
//! SPEC.md).

use super::civicpulse;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report");

fn reference() -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{REPORT}/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A database with the three waves: 2025, 2026 and the lonely-PSU data as 2024.
fn waves() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, wave) in [
        ("wave2025.csv", "2025"),
        ("wave2026.csv", "2026"),
        ("lonely.csv", "2024"),
    ] {
        let path = format!("{REPORT}/{file}");
        let (ok, stdout, stderr) = civicpulse(dir.path(), &["import", "livability", &path, "--wave", wave]);
        assert!(ok, "{file}: {stderr}");
        assert!(stdout.contains("imported"), "{stdout}");
    }
    dir
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let (ok, stdout, stderr) = civicpulse(dir, args);
    assert!(ok, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// The largest relative difference seen per figure and field, and the
/// number of values compared; printed at the end for the record.
#[derive(Default)]
struct Agreement {
    worst: BTreeMap<String, (f64, usize)>,
    rows: BTreeMap<String, usize>,
}

impl Agreement {
    /// An index row (n, df, estimate, n_eff, se, CI) against R's.
    fn index(&mut self, figure: &str, what: &str, r: &Value, e: &Value) {
        self.exact(figure, what, "n", &r["n"], &e["n"]);
        self.exact(figure, what, "df", &r["df"], &e["df"]);
        for (field, tolerance) in [
            ("estimate", 1e-12),
            ("n_eff", 1e-12),
            ("se", SE),
            ("ci_low", SE),
            ("ci_high", SE),
        ] {
            if !e[field].is_null() || field != "n_eff" {
                self.number(figure, what, field, &r[field], &e[field], tolerance);
            }
        }
        self.row(figure);
    }

    fn row(&mut self, figure: &str) {
        *self.rows.entry(figure.to_string()).or_default() += 1;
    }

    /// Every row of `figure` in R's file was compared.
    fn covered(&self, expected: &[Value], figure: &str) {
        let rows = expected.iter().filter(|e| e["figure"] == figure).count();
        assert_eq!(
            self.rows.get(figure).copied().unwrap_or(0),
            rows,
            "every {figure} row of R's compared"
        );
    }

    /// `actual` must equal `expected` to `tolerance` relative (absolute
    /// near 0); a null in R must be null here.
    fn number(&mut self, figure: &str, what: &str, field: &str, actual: &Value, expected: &Value, tolerance: f64) {
        let entry = self.worst.entry(format!("{figure} {field}")).or_default();
        entry.1 += 1;
        match (actual.as_f64(), expected.as_f64()) {
            (Some(a), Some(e)) => {
                let diff = (a - e).abs() / e.abs().max(1e-300);
                let diff = if e.abs() < 1e-12 { (a - e).abs() } else { diff };
                entry.0 = entry.0.max(diff);
                assert!(diff <= tolerance, "{figure} {what}: {field} {a} vs R {e}");
            }
            (None, None) => {}
            _ => panic!("{figure} {what}: {field} is {actual}, R has {expected}"),
        }
    }

    fn exact(&mut self, figure: &str, what: &str, field: &str, actual: &Value, expected: &Value) {
        assert_eq!(
            actual.as_f64(),
            expected.as_f64(),
            "{figure} {what}: {field} {actual} vs R {expected}"
        );
        self.worst.entry(format!("{figure} {field}")).or_default().1 += 1;
    }

    fn report(&self) {
        for (key, (worst, count)) in &self.worst {
            println!("{key:<40} {count:>6} values, largest relative difference {worst:.1e}");
        }
    }
}

fn rows_of<'a>(report: &'a Value, key: &str) -> &'a [Value] {
    report[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn find<'a>(rows: &'a [Value], e: &Value, id_key: &str, what: &str) -> &'a Value {
    rows.iter()
        .find(|r| {
            r[id_key] == e["id"]
                && r["group"] == e["group"]
                && (id_key != "id" || r["level"] == e["level"])
                && (e["option"].is_null() || r["option"] == e["option"])
        })
        .unwrap_or_else(|| panic!("no row for {what}"))
}

fn what(e: &Value) -> String {
    format!(
        "{} {} {} {} {}",
        e["dataset"], e["level"], e["id"], e["group"], e["option"]
    )
}

const SE: f64 = 1e-10;

/// Indices with design effects and CVs, totals and distributions of both
/// waves, whole sample and by district.
#[test]
fn one_wave_report_matches_r() {
    let dir = waves();
    let expected = reference();
    let mut agree = Agreement::default();
    for (dataset, wave) in [("wave2025", "2025"), ("wave2026", "2026")] {
        let report = json(
            dir.path(),
            &[
                "indices",
                "livability",
                "--wave",
                wave,
                "--by",
                "district",
                "--min-cell",
                "1",
                "--distributions",
            ],
        );
        assert_eq!(report["definition"]["version"], 2);
        let rows = rows_of(&report, "rows");
        for e in expected.iter().filter(|e| e["dataset"] == dataset) {
            let w = what(e);
            match e["figure"].as_str().unwrap() {
                "means" => {
                    let r = find(rows, e, "id", &w);
                    agree.index("means", &w, r, e);
                    if e["level"] == "item" {
                        let (t, te) = (&r["top_box"], &e["top_box"]);
                        agree.number("means", &w, "top_box.estimate", &t["estimate"], &te["estimate"], 1e-12);
                        agree.number("means", &w, "top_box.se", &t["se"], &te["se"], SE);
                        // R's svyciprop fits the logit interval iteratively
                        // and gives none at df = 1.
                        if !te["ci_low"].is_null() {
                            for field in ["ci_low", "ci_high"] {
                                agree.number("means", &w, &format!("top_box.{field}"), &t[field], &te[field], 1e-6);
                            }
                        }
                    }
                }
                "deff" => {
                    let r = find(rows, e, "id", &w);
                    agree.number("deff", &w, "deff", &r["deff"], &e["deff"], 1e-9);
                    agree.number("deff", &w, "cv", &r["cv"], &e["cv"], SE);
                    agree.number("deff", &w, "deff_kish", &r["deff_kish"], &e["deff_kish"], 1e-12);
                    agree.row("deff");
                }
                "total" if e["level"] == "population" => {
                    let r = rows_of(&report, "population")
                        .iter()
                        .find(|r| r["group"] == e["group"])
                        .unwrap_or_else(|| panic!("no population row for {w}"));
                    agree.exact("total", &w, "n", &r["n"], &e["n"]);
                    agree.exact("total", &w, "df", &r["df"], &e["df"]);
                    agree.number("total", &w, "population", &r["estimate"], &e["total"], 1e-12);
                    for field in ["se", "ci_low", "ci_high", "cv"] {
                        agree.number("total", &w, &format!("population.{field}"), &r[field], &e[field], SE);
                    }
                    agree.row("total");
                }
                "total" => {
                    let row = rows
                        .iter()
                        .find(|r| r["level"] == "item" && r["id"] == e["id"] && r["group"] == e["group"])
                        .unwrap_or_else(|| panic!("no row for {w}"));
                    agree.exact("total", &w, "n", &row["n"], &e["n"]);
                    let t = &row["top_box"]["total"];
                    agree.number("total", &w, "top_box.total", &t["estimate"], &e["total"], 1e-12);
                    for field in ["se", "ci_low", "ci_high", "cv"] {
                        agree.number("total", &w, &format!("top_box.total.{field}"), &t[field], &e[field], SE);
                    }
                    agree.number("total", &w, "top_box.total.deff", &t["deff"], &e["deff"], 1e-9);
                    agree.row("total");
                }
                "distribution" => {
                    let r = find(rows_of(&report, "distributions"), e, "question", &w);
                    for field in ["n", "count", "df"] {
                        agree.exact("distribution", &w, field, &r[field], &e[field]);
                    }
                    agree.number("distribution", &w, "share", &r["estimate"], &e["share"], 1e-12);
                    for field in ["se", "ci_low", "ci_high"] {
                        agree.number("distribution", &w, field, &r[field], &e[field], SE);
                    }
                    agree.row("distribution");
                }
                _ => {}
            }
        }
    }
    agree.report();
    for figure in ["means", "deff", "total", "distribution"] {
        agree.covered(&expected, figure);
    }
}

/// District × age group: every cell is one domain of the full design.
#[test]
fn two_way_table_matches_r() {
    let dir = waves();
    let report = json(
        dir.path(),
        &[
            "indices",
            "livability",
            "--wave",
            "2026",
            "--by",
            "district,age_group",
            "--min-cell",
            "1",
        ],
    );
    let rows = rows_of(&report, "rows");
    let mut agree = Agreement::default();
    let expected = reference();
    for e in expected.iter().filter(|e| e["figure"] == "two_way") {
        let w = what(e);
        agree.index("two_way", &w, find(rows, e, "id", &w), e);
    }
    agree.report();
    agree.covered(&expected, "two_way");
}

/// Each lonely-PSU rule gives R's figures; `fail` names the stratum.
#[test]
fn lonely_psu_rules_match_r() {
    let dir = waves();
    let expected = reference();
    let mut agree = Agreement::default();
    let (ok, _, stderr) = civicpulse(
        dir.path(),
        &["indices", "livability", "--wave", "2024", "--lonely-psu", "fail"],
    );
    assert!(!ok);
    assert!(stderr.contains("nanhai") && stderr.contains("--lonely-psu"), "{stderr}");
    for rule in ["remove", "certainty", "adjust", "average"] {
        let report = json(
            dir.path(),
            &[
                "indices",
                "livability",
                "--wave",
                "2024",
                "--by",
                "district",
                "--min-cell",
                "1",
                "--lonely-psu",
                rule,
            ],
        );
        assert_eq!(report["lonely_psu"], rule);
        assert!(report["notes"].to_string().contains("nanhai"));
        let design = format!("lonely.psu={rule}");
        for e in expected
            .iter()
            .filter(|e| e["figure"] == "lonely" && e["design"] == design)
        {
            let w = format!("{rule} {}", what(e));
            let r = if e["level"] == "population" {
                rows_of(&report, "population")
                    .iter()
                    .find(|r| r["group"] == e["group"])
                    .unwrap()
            } else {
                find(rows_of(&report, "rows"), e, "id", &w)
            };
            agree.index("lonely", &w, r, e);
        }
    }
    agree.report();
    let fail = expected.iter().filter(|e| e["design"] == "lonely.psu=fail").count();
    assert_eq!(
        agree.rows["lonely"] + fail,
        expected.iter().filter(|e| e["figure"] == "lonely").count()
    );
}

/// 2026 against 2025 under both df rules, index and satisfied rate.
#[test]
fn comparison_matches_r_under_both_df_rules() {
    let dir = waves();
    let expected = reference();
    let mut agree = Agreement::default();
    for (rule, figure) in [("min", "compare_minrule"), ("stacked", "compare_stacked")] {
        let report = json(
            dir.path(),
            &[
                "compare",
                "livability",
                "--from",
                "2025",
                "--to",
                "2026",
                "--by",
                "district",
                "--min-cell",
                "1",
                "--df",
                rule,
            ],
        );
        assert_eq!(report["df_rule"], rule);
        let rows = rows_of(&report, "rows");
        for e in expected.iter().filter(|e| e["figure"] == figure) {
            let w = format!("{} {}", e["kind"], what(e));
            let row = find(rows, e, "id", &w);
            let r = if e["kind"] == "top_box" { &row["top_box"] } else { row };
            agree.exact(figure, &w, "df", &r["df"], &e["df"]);
            agree.number(figure, &w, "difference", &r["difference"], &e["difference"], 1e-12);
            for field in ["se", "ci_low", "ci_high"] {
                agree.number(figure, &w, field, &r[field], &e[field], SE);
            }
            agree.number(figure, &w, "p", &r["p_value"], &e["p"], 1e-8);
            agree.row(figure);
        }
        agree.covered(&expected, figure);
    }
    agree.report();
}

/// Raking to the 2026 margins, plainly and within bounds on the factors:
/// the weights and every index.
#[test]
fn raked_reports_match_r() {
    let dir = waves();
    let expected = reference();
    let mut agree = Agreement::default();
    let margins = format!("{REPORT}/margins.csv");
    for (figure, bounds) in [("raked", None), ("raked_bounded", Some("0.5,2"))] {
        let mut args = vec![
            "indices",
            "livability",
            "--wave",
            "2026",
            "--by",
            "district",
            "--min-cell",
            "1",
            "--weights",
            "raked",
            "--margins",
            &margins,
        ];
        if let Some(bounds) = bounds {
            args.extend(["--weight-bounds", bounds]);
        }
        let report = json(dir.path(), &args);
        let raking = &report["raking"];
        assert_eq!(raking["method"], if bounds.is_some() { "bounded" } else { "ipf" });
        assert!(raking["max_margin_error"].as_f64().unwrap() < 1e-9);
        for e in expected.iter().filter(|e| e["figure"] == figure) {
            let w = what(e);
            if e["level"] == "weights" {
                for (ours, theirs) in [
                    ("weight_min", "w_min"),
                    ("weight_max", "w_max"),
                    ("factor_min", "g_min"),
                    ("factor_max", "g_max"),
                ] {
                    agree.number(figure, &w, theirs, &raking[ours], &e[theirs], 1e-9);
                }
                if bounds.is_some() {
                    agree.exact(figure, &w, "n_at_lower", &raking["at_lower"], &e["n_at_lower"]);
                    agree.exact(figure, &w, "n_at_upper", &raking["at_upper"], &e["n_at_upper"]);
                }
                agree.row(figure);
                continue;
            }
            agree.index(figure, &w, find(rows_of(&report, "rows"), e, "id", &w), e);
        }
        agree.covered(&expected, figure);
    }
    agree.report();
    // Bounds that no weights can meet are refused, naming the category.
    let (ok, _, stderr) = civicpulse(
        dir.path(),
        &[
            "indices",
            "livability",
            "--wave",
            "2026",
            "--weights",
            "raked",
            "--margins",
            &margins,
            "--weight-bounds",
            "0.6,1.6",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("age_group=18-29") && stderr.contains("[0.6, 1.6]"),
        "{stderr}"
    );
}
