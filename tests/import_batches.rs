//! Imports as batches, through the real binary on a fresh database (an
//! SQLite file in a temp folder, or in the PostgreSQL half, see
//! `support::postgres`, a PostgreSQL database): one import is one batch of
//! one wave; `_id`s are unique within a wave only; an import that adds
//! nothing fails unless told to expect it; batches are listed, replaced
//! and deleted whole, and every change is audited.

mod support;
use support::civicpulse;

use civicpulse::db::Database;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("import_batches");
}

/// Runs a command that must succeed; its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = civicpulse(dir, args);
    assert!(ok, "{args:?} failed: {stderr}");
    stdout
}

/// Runs a command that must fail; its standard error.
fn refused(dir: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = civicpulse(dir, args);
    assert!(!ok, "{args:?} succeeded: {stdout}");
    stderr
}

/// Writes an interview file for the built-in survey: the `reserved`
/// columns, then `safety_night`, then every other required question
/// without skip logic. Each row gives its reserved cells and its
/// `safety_night` answer; the other questions get fixed valid answers.
fn write_csv(dir: &Path, file: &str, reserved: &[&str], rows: &[&[&str]]) {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let others: Vec<_> = survey
        .questions
        .iter()
        .filter(|q| q.required && q.show_if.is_none() && q.id.as_str() != "safety_night")
        .collect();
    let mut header: Vec<&str> = reserved.to_vec();
    header.push("safety_night");
    header.extend(others.iter().map(|q| q.id.as_str()));
    let mut csv = header.join(",") + "\n";
    for (i, cells) in rows.iter().enumerate() {
        assert_eq!(cells.len(), reserved.len() + 1, "reserved cells and safety_night");
        let mut line: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
        for q in &others {
            line.push(match q.id.as_str() {
                "district" => "huancui".into(),
                "resident_type" => "local".into(),
                _ => q.kind.options()[i % 2].value.to_string(),
            });
        }
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join(file), csv).unwrap();
}

/// Every stored response as `export --format json` gives it.
fn exported(dir: &Path) -> Vec<Value> {
    let json: Value = serde_json::from_str(&ok(dir, &["export", "livability", "--format", "json"])).unwrap();
    json.as_array().unwrap().clone()
}

/// (id, wave) of every stored response, sorted.
fn ids_and_waves(dir: &Path) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = exported(dir)
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["wave"].as_i64().unwrap()))
        .collect();
    rows.sort();
    rows
}

/// `export --format csv`: one map of column to cell per response.
fn export_csv(dir: &Path) -> Vec<HashMap<String, String>> {
    let text = ok(dir, &["export", "livability", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// `import list` as rows of cells, header included.
fn batches(dir: &Path) -> Vec<Vec<String>> {
    ok(dir, &["import", "list", "livability"])
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// n and estimate of the unweighted `safety_night` index of a wave.
fn safety_night_index(dir: &Path, wave: &str) -> (u64, f64) {
    let csv = ok(
        dir,
        &[
            "indices",
            "livability",
            "--wave",
            wave,
            "--weights",
            "none",
            "--min-cell",
            "1",
            "--format",
            "csv",
        ],
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (level, id, n, estimate) = (column("level"), column("id"), column("n"), column("estimate"));
    let cells = reader
        .records()
        .map(Result::unwrap)
        .find(|cells| &cells[level] == "item" && &cells[id] == "safety_night")
        .unwrap_or_else(|| panic!("no safety_night row in {csv}"));
    (cells[n].parse().unwrap(), cells[estimate].parse().unwrap())
}

/// Answers and flags left without their response (the foreign keys'
/// cascades must leave none), and how many flags there are in all.
fn orphans(dir: &Path) -> (i64, i64, i64) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        answers: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        flags: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        flagged: i64,
    }
    let mut conn = civicpulse::db::raw_connection(&support::database_url(dir)).unwrap();
    let c: Counts = diesel::sql_query(
        "SELECT (SELECT COUNT(*) FROM answers WHERE response_id NOT IN (SELECT id FROM responses)) AS answers,
                (SELECT COUNT(*) FROM response_flags WHERE response_id NOT IN (SELECT id FROM responses)) AS flags,
                (SELECT COUNT(*) FROM response_flags) AS flagged",
    )
    .get_result(&mut conn)
    .unwrap();
    (c.answers, c.flags, c.flagged)
}

/// (actor, action, detail) of the audit log, oldest first.
fn audit(dir: &Path) -> Vec<(String, String, String)> {
    let db = Database::open(&support::database_url(dir)).unwrap();
    let mut log: Vec<_> = db
        .audit_log(1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action, e.detail))
        .collect();
    log.reverse();
    log
}

#[test]
fn next_years_file_with_the_same_ids_imports_fully_into_its_own_wave() {
    // The original failure: `_id` was unique across waves, so next year's
    // file, numbering its respondents from r1 again, imported 0 rows and
    // reported success. Now each wave has its own respondent numbers, and
    // the same file name names a batch in each wave.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows: &[&[&str]] = &[&["r1", "5"], &["r2", "4"], &["r3", "3"]];
    write_csv(d, "interviews.csv", &["_id"], rows);
    let out = ok(d, &["import", "livability", "interviews.csv", "--wave", "2025"]);
    assert!(
        out.contains("imported 3 responses into livability wave 2025 as batch \"interviews\""),
        "{out}"
    );
    write_csv(
        d,
        "interviews.csv",
        &["_id"],
        &[&["r1", "1"], &["r2", "2"], &["r3", "1"]],
    );
    let out = ok(d, &["import", "livability", "interviews.csv", "--wave", "2026"]);
    assert!(
        out.contains("imported 3 responses into livability wave 2026 as batch \"interviews\""),
        "{out}"
    );
    assert!(!out.contains("skipped"), "{out}");
    let expected: Vec<(String, i64)> = ["r1", "r2", "r3"]
        .iter()
        .flat_map(|id| [(id.to_string(), 2025), (id.to_string(), 2026)])
        .collect();
    assert_eq!(ids_and_waves(d), expected);
    assert_eq!(safety_night_index(d, "2025").0, 3);
    assert_eq!(safety_night_index(d, "2026").0, 3);
}

#[test]
fn an_analysis_takes_one_batch_or_every_batch_and_names_them() {
    // `--source import:NAME` picks batches of the wave; the output lists
    // the batches it used, and an unknown one is refused with the wave's.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "spring.csv", &["_id"], &[&["s1", "5"], &["s2", "4"], &["s3", "5"]]);
    write_csv(d, "autumn.csv", &["_id"], &[&["a1", "1"], &["a2", "2"]]);
    for file in ["spring.csv", "autumn.csv"] {
        ok(d, &["import", "livability", file, "--wave", "2026"]);
    }
    let indices = |source: &[&str]| -> Value {
        let mut args = vec!["indices", "livability", "--weights", "none", "--min-cell", "1"];
        args.extend_from_slice(source);
        serde_json::from_str(&ok(d, &args)).unwrap()
    };
    let names = |report: &Value| -> Vec<String> {
        report["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| format!("{}:{}", b["name"].as_str().unwrap(), b["rows"]))
            .collect()
    };
    let every = indices(&[]);
    assert_eq!(every["rows"][0]["n"], 5);
    assert_eq!(names(&every), ["spring:3", "autumn:2"]);
    let spring = indices(&["--source", "import:spring"]);
    assert_eq!(spring["rows"][0]["n"], 3);
    assert_eq!(names(&spring), ["spring:3"]);
    let both = indices(&["--source", "import:spring,import:autumn"]);
    assert_eq!(both["rows"][0]["n"], 5);
    let err = refused(d, &["indices", "livability", "--source", "import:summer"]);
    assert!(
        err.contains("no import batch \"summer\"") && err.contains("spring (id 1), autumn (id 2)"),
        "{err}"
    );
    let err = refused(d, &["indices", "livability", "--source", "web:spring"]);
    assert!(err.contains("only imports come in batches"), "{err}");
}

#[test]
fn the_wave_column_is_honoured() {
    // `_wave` used to be accepted and ignored: rows went to the year of
    // their submission. It now decides the wave, before `_submitted_at`.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(
        d,
        "w.csv",
        &["_id", "_wave", "_submitted_at"],
        &[&["a", "2024", "2026-03-01", "5"], &["b", "2024", "2026-03-02", "4"]],
    );
    let out = ok(d, &["import", "livability", "w.csv"]);
    assert!(out.contains("into livability wave 2024"), "{out}");
    assert_eq!(ids_and_waves(d), vec![("a".into(), 2024), ("b".into(), 2024)]);
    // Agreeing with --wave is fine.
    write_csv(d, "w2.csv", &["_id", "_wave"], &[&["c", "2024", "5"]]);
    ok(d, &["import", "livability", "w2.csv", "--wave", "2024"]);
    assert_eq!(ids_and_waves(d).len(), 3);
}

#[test]
fn a_wave_column_contradicting_dash_dash_wave_is_refused_with_row_numbers() {
    // Every row that disagrees is named with its row number and column, and
    // nothing of the file is stored.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(
        d,
        "w.csv",
        &["_id", "_wave"],
        &[
            &["a", "2024", "5"],
            &["b", "2025", "4"],
            &["c", "2024", "3"],
            &["d", "2023", "3"],
        ],
    );
    let e = refused(d, &["import", "livability", "w.csv", "--wave", "2024"]);
    assert!(e.contains("w.csv: 2 problems found, nothing was imported"), "{e}");
    assert!(
        e.contains("row 3, column \"_wave\": the row is wave 2025 but --wave 2024 was given"),
        "{e}"
    );
    assert!(
        e.contains("row 5, column \"_wave\": the row is wave 2023 but --wave 2024 was given"),
        "{e}"
    );
    assert!(exported(d).is_empty());
    assert_eq!(batches(d).len(), 1, "no batch either");
}

#[test]
fn rows_of_two_waves_in_one_file_are_refused() {
    // One import is one batch of one wave: a file mixing waves is refused
    // row by row, whether the waves come from `_wave` or from the year of
    // `_submitted_at`; --wave puts a file spanning New Year in one wave.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(
        d,
        "mixed.csv",
        &["_id", "_wave"],
        &[&["a", "2024", "5"], &["b", "2024", "4"], &["c", "2025", "3"]],
    );
    let e = refused(d, &["import", "livability", "mixed.csv"]);
    assert!(e.contains("mixed.csv: 1 problem found, nothing was imported"), "{e}");
    assert!(
        e.contains("row 4, column \"_wave\": this row is wave 2025 but row 2 is wave 2024; an import holds one wave"),
        "{e}"
    );

    write_csv(
        d,
        "newyear.csv",
        &["_id", "_submitted_at"],
        &[&["a", "2025-12-30", "5"], &["b", "2026-01-02", "4"]],
    );
    let e = refused(d, &["import", "livability", "newyear.csv"]);
    assert!(
        e.contains("row 3, column \"_submitted_at\": this row was submitted in 2026 but row 2 in 2025"),
        "{e}"
    );
    assert!(e.contains("give --wave"), "{e}");
    assert!(exported(d).is_empty());

    ok(d, &["import", "livability", "newyear.csv", "--wave", "2025"]);
    assert_eq!(ids_and_waves(d), vec![("a".into(), 2025), ("b".into(), 2025)]);
}

#[test]
fn reimporting_the_same_file_fails_clearly_unless_skip_existing() {
    // A re-run that adds nothing must not pass for an import: it fails and
    // says why and what to do. --skip-existing makes it a success that
    // lists what it skipped. A file with some new rows adds them.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "a.csv", &["_id"], &[&["r1", "5"], &["r2", "4"]]);
    ok(d, &["import", "livability", "a.csv", "--wave", "2026"]);

    let e = refused(d, &["import", "livability", "a.csv", "--wave", "2026"]);
    assert!(
        e.contains(
            "a.csv: nothing was imported: the _id of every row (2 in all) is already stored in wave 2026 of \"livability\" (r1, r2)"
        ),
        "{e}"
    );
    assert!(
        e.contains("--skip-existing") && e.contains("civicpulse import replace livability"),
        "{e}"
    );

    let out = ok(
        d,
        &["import", "livability", "a.csv", "--wave", "2026", "--skip-existing"],
    );
    assert!(
        out.contains(
            "imported 0 responses, skipped 2 already imported (their _id is stored in wave 2026 already): r1, r2"
        ),
        "{out}"
    );
    assert_eq!(exported(d).len(), 2);
    assert_eq!(batches(d).len(), 2, "one batch, no empty one");

    // Partly new: the new rows are added, the others reported as skipped.
    write_csv(d, "b.csv", &["_id"], &[&["r1", "5"], &["r2", "4"], &["r3", "3"]]);
    let out = ok(d, &["import", "livability", "b.csv", "--wave", "2026"]);
    assert!(out.contains("imported 1 responses"), "{out}");
    assert!(out.contains("skipped 2 already imported"), "{out}");
    assert_eq!(exported(d).len(), 3);

    // A name used in the wave already points to `import replace`.
    write_csv(d, "a.csv", &["_id"], &[&["r4", "5"]]);
    let e = refused(d, &["import", "livability", "a.csv", "--wave", "2026"]);
    assert!(
        e.contains("wave 2026 of survey \"livability\" already has an import batch named \"a\"")
            && e.contains("civicpulse import replace livability a FILE.csv"),
        "{e}"
    );
    ok(
        d,
        &["import", "livability", "a.csv", "--wave", "2026", "--name", "a-extra"],
    );
    assert_eq!(exported(d).len(), 4);
}

#[test]
fn import_list_shows_every_batch_with_rows_and_waves() {
    // Oldest first, tab-separated with a header, one line per batch.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "y2025.csv", &["_id"], &[&["r1", "5"], &["r2", "4"], &["r3", "3"]]);
    write_csv(d, "y2026.csv", &["_id"], &[&["r1", "5"], &["r2", "4"]]);
    ok(d, &["import", "livability", "y2025.csv", "--wave", "2025"]);
    ok(
        d,
        &[
            "import",
            "livability",
            "y2026.csv",
            "--wave",
            "2026",
            "--name",
            "spring",
        ],
    );
    let rows = batches(d);
    assert_eq!(
        rows[0],
        [
            "id",
            "name",
            "wave",
            "rows",
            "nested",
            "created_at",
            "created_by",
            "file"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(&rows[1][1..5], ["y2025", "2025", "3", "no"]);
    assert_eq!(&rows[2][1..5], ["spring", "2026", "2", "no"]);
    assert!(rows[1][0].parse::<i64>().unwrap() < rows[2][0].parse::<i64>().unwrap());
    assert_eq!(rows[1][6], "(command line)");
    assert_eq!(rows[2][7], "y2026.csv");
    assert!(
        rows[1][5].starts_with("20") && rows[1][5].ends_with('Z'),
        "{:?}",
        rows[1]
    );

    let only = ok(d, &["import", "list", "livability", "--wave", "2026"]);
    assert_eq!(only.lines().count(), 2, "{only}");
    assert!(refused(d, &["import", "list", "nosuch"]).contains("no survey named \"nosuch\""));
}

#[test]
fn replace_swaps_a_batch_at_once_and_a_bad_file_changes_nothing() {
    // A corrected file takes the place of its batch: the batch's old rows
    // go, the new ones come, other batches of the wave stay, and the
    // figures follow. A replacement file with a bad row leaves everything
    // as it was.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "field.csv", &["_id"], &[&["f1", "5"], &["f2", "5"], &["f3", "5"]]);
    write_csv(d, "phone.csv", &["_id"], &[&["p1", "1"], &["p2", "1"]]);
    ok(d, &["import", "livability", "field.csv", "--wave", "2026"]);
    ok(d, &["import", "livability", "phone.csv", "--wave", "2026"]);
    let field_id = batches(d)[1][0].clone();
    assert_eq!(export_csv(d).len(), 5);
    let (n, before) = safety_night_index(d, "2026");
    assert_eq!(n, 5);

    // The correction: f3 was a duplicate interview, f1's answer was keyed wrong.
    write_csv(d, "field-fixed.csv", &["_id"], &[&["f1", "1"], &["f2", "5"]]);
    let out = ok(d, &["import", "replace", "livability", "field", "field-fixed.csv"]);
    assert!(
        out.contains("replaced batch \"field\"") && out.contains("3 responses before, 2 now"),
        "{out}"
    );
    let rows = export_csv(d);
    assert_eq!(rows.len(), 4);
    assert_eq!(orphans(d).0, 0, "the old rows' answers went with them");
    let answer = |id: &str| rows.iter().find(|r| r["_id"] == id).map(|r| r["safety_night"].clone());
    assert_eq!(answer("f1").as_deref(), Some("1"));
    assert_eq!(answer("f2").as_deref(), Some("5"));
    assert_eq!(answer("f3"), None);
    assert_eq!(answer("p1").as_deref(), Some("1"));
    let (n, after) = safety_night_index(d, "2026");
    assert_eq!(n, 4);
    assert!(after < before, "{after} < {before}");
    let listed = batches(d);
    assert_eq!(listed[1][0], field_id, "same batch");
    assert_eq!(&listed[1][1..4], ["field", "2026", "2"]);
    assert_eq!(listed[1][7], "field-fixed.csv");
    assert_eq!(&listed[2][1..4], ["phone", "2026", "2"]);

    // A bad row anywhere: refused with its row number, nothing changes.
    write_csv(
        d,
        "field-bad.csv",
        &["_id"],
        &[&["f1", "3"], &["f2", "3"], &["f4", "seven"]],
    );
    let e = refused(d, &["import", "replace", "livability", &field_id, "field-bad.csv"]);
    assert!(
        e.contains("field-bad.csv: 1 problem found, batch \"field\" is unchanged"),
        "{e}"
    );
    assert!(e.contains("row 4, column \"safety_night\""), "{e}");
    assert_eq!(export_csv(d), rows);
    assert_eq!(batches(d), listed);

    // Rows of another wave cannot replace a batch of 2026.
    write_csv(d, "field-2025.csv", &["_id", "_wave"], &[&["f1", "2025", "3"]]);
    let e = refused(d, &["import", "replace", "livability", "field", "field-2025.csv"]);
    assert!(
        e.contains("row 2, column \"_wave\": the row is wave 2025 but batch \"field\" is wave 2026"),
        "{e}"
    );
    assert_eq!(export_csv(d), rows);
    // Nor can rows that all belong to other batches empty it.
    write_csv(d, "field-empty.csv", &["_id"], &[&["p1", "3"]]);
    let e = refused(d, &["import", "replace", "livability", "field", "field-empty.csv"]);
    assert!(
        e.contains("batch \"field\" would be left empty; it is unchanged"),
        "{e}"
    );
    assert_eq!(export_csv(d), rows);
    assert!(
        refused(d, &["import", "replace", "livability", "nosuch", "field-fixed.csv"])
            .contains("survey \"livability\" has no import batch \"nosuch\"")
    );
}

#[test]
fn a_name_used_in_two_waves_needs_the_id_or_the_wave() {
    // Names are unique within a wave, so the same name in two waves is
    // ambiguous on its own: the command says so rather than guess.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "interviews.csv", &["_id"], &[&["r1", "5"]]);
    ok(d, &["import", "livability", "interviews.csv", "--wave", "2025"]);
    ok(d, &["import", "livability", "interviews.csv", "--wave", "2026"]);
    let e = refused(d, &["import", "delete", "livability", "interviews"]);
    assert!(e.contains("\"interviews\" names more than one import batch"), "{e}");
    ok(d, &["import", "delete", "livability", "interviews", "--wave", "2025"]);
    assert_eq!(ids_and_waves(d), vec![("r1".into(), 2026)]);
}

#[test]
fn delete_removes_a_batch_and_only_it() {
    // The batch and its responses (with their answers and flags) go in one
    // transaction; the other batches of the wave and other waves stay.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a1 answers "1" to every rating: a straight-liner, flagged.
    write_csv(d, "a.csv", &["_id"], &[&["a1", "1"], &["a2", "4"]]);
    write_csv(d, "b.csv", &["_id"], &[&["b1", "5"]]);
    write_csv(d, "c.csv", &["_id"], &[&["a1", "5"]]);
    ok(d, &["import", "livability", "a.csv", "--wave", "2026"]);
    ok(d, &["import", "livability", "b.csv", "--wave", "2026"]);
    ok(d, &["import", "livability", "c.csv", "--wave", "2025"]);
    let (_, _, flagged) = orphans(d);
    assert!(
        flagged > 0,
        "the test rows are straight-liners, so deleting them deletes flags"
    );
    let out = ok(d, &["import", "delete", "livability", "a"]);
    assert!(
        out.contains("deleted batch \"a\"") && out.contains("2 responses"),
        "{out}"
    );
    assert_eq!(ids_and_waves(d), vec![("a1".into(), 2025), ("b1".into(), 2026)]);
    let (answers, flags, left) = orphans(d);
    assert_eq!((answers, flags), (0, 0), "answers and flags go with their responses");
    assert!(left < flagged);
    let names: Vec<String> = batches(d).iter().skip(1).map(|r| r[1].clone()).collect();
    assert_eq!(names, ["b", "c"]);
    // The freed name and ids can be imported again.
    ok(d, &["import", "livability", "a.csv", "--wave", "2026"]);
    assert_eq!(exported(d).len(), 4);
    assert!(refused(d, &["import", "delete", "livability", "999"]).contains("has no import batch \"999\""));
}

#[test]
fn an_empty_stratum_is_refused() {
    // With a `_stratum` column, an empty cell would make a stratum of its
    // own out of forgotten values.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(
        d,
        "s.csv",
        &["_id", "_stratum"],
        &[&["a", "east", "5"], &["b", "", "4"]],
    );
    let e = refused(d, &["import", "livability", "s.csv", "--wave", "2026"]);
    assert!(
        e.contains("row 3, column \"_stratum\": the stratum is empty; every row needs one, or leave the column out"),
        "{e}"
    );
    assert!(exported(d).is_empty());
    write_csv(
        d,
        "t.csv",
        &["_id", "_stratum"],
        &[&["a", "", "5"], &["b", "east", "4"]],
    );
    let e = refused(d, &["import", "livability", "t.csv", "--wave", "2026"]);
    assert!(
        e.contains("row 3, column \"_stratum\": row 2 has an empty stratum but this one has one"),
        "{e}"
    );
    assert!(exported(d).is_empty());
    // Empty throughout, as an export of an unstratified sample writes the
    // column: no strata.
    write_csv(d, "u.csv", &["_id", "_stratum"], &[&["a", "", "5"], &["b", "", "4"]]);
    ok(d, &["import", "livability", "u.csv", "--wave", "2026"]);
    assert_eq!(exported(d).len(), 2);
}

#[test]
fn a_cluster_label_in_two_strata_is_refused_unless_nested() {
    // Cluster labels are taken as numbered across strata: one label in two
    // strata is refused, within the file and against the wave as stored,
    // naming the label and both strata. --nest says labels are numbered
    // within strata (R's nest=TRUE) and is recorded on the batch.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reserved = ["_id", "_stratum", "_cluster"];
    write_csv(
        d,
        "in-file.csv",
        &reserved,
        &[
            &["a", "east", "c1", "5"],
            &["b", "east", "c1", "4"],
            &["c", "west", "c1", "3"],
            &["d", "west", "c2", "3"],
        ],
    );
    let e = refused(d, &["import", "livability", "in-file.csv", "--wave", "2026"]);
    assert!(
        e.contains(
            "row 4, column \"_cluster\": cluster \"c1\" is in stratum \"west\" here but in stratum \"east\" on row 2"
        ),
        "{e}"
    );
    assert!(e.contains("--nest"), "{e}");
    assert!(exported(d).is_empty());

    let out = ok(d, &["import", "livability", "in-file.csv", "--wave", "2026", "--nest"]);
    assert!(out.contains("imported 4 responses"), "{out}");
    assert_eq!(batches(d)[1][4], "yes");

    // Against what is stored: c2 is in stratum west in wave 2026 already.
    write_csv(d, "later.csv", &reserved, &[&["e", "north", "c2", "4"]]);
    let e = refused(d, &["import", "livability", "later.csv", "--wave", "2026"]);
    assert!(
        e.contains(
            "row 2, column \"_cluster\": cluster \"c2\" is in stratum \"north\" here but in stratum \"west\" in wave 2026 as stored (batch \"in-file\")"
        ),
        "{e}"
    );
    // Another wave is another sample: no conflict there.
    ok(d, &["import", "livability", "later.csv", "--wave", "2027"]);
    ok(d, &["import", "livability", "later.csv", "--wave", "2026", "--nest"]);
    let listed = batches(d);
    assert_eq!(&listed[2][1..5], ["later", "2027", "1", "no"]);
    assert_eq!(&listed[3][1..5], ["later", "2026", "1", "yes"]);
}

#[test]
fn adding_replacing_and_deleting_batches_is_audited() {
    // Each change of state writes its audit entry with the batch, wave and
    // counts, in the same transaction as the change.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(d, "survey.csv", &["_id"], &[&["r1", "5"], &["r2", "4"], &["r3", "3"]]);
    ok(d, &["import", "livability", "survey.csv", "--wave", "2026"]);
    write_csv(d, "survey-fixed.csv", &["_id"], &[&["r1", "5"], &["r2", "4"]]);
    ok(d, &["import", "replace", "livability", "survey", "survey-fixed.csv"]);
    ok(d, &["import", "delete", "livability", "survey"]);
    // A refused import leaves no entry.
    refused(d, &["import", "livability", "missing.csv"]);

    let entries: Vec<(String, String, String)> = audit(d)
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("import."))
        .collect();
    let actor = "(command line)".to_string();
    assert_eq!(
        entries,
        vec![
            (
                actor.clone(),
                "import.add".to_string(),
                "livability wave 2026 batch \"survey\" (id 1) from survey.csv: 3 added".to_string()
            ),
            (
                actor.clone(),
                "import.replace".to_string(),
                "livability wave 2026 batch \"survey\" (id 1) from survey-fixed.csv: 3 rows replaced by 2".to_string()
            ),
            (
                actor,
                "import.delete".to_string(),
                "livability wave 2026 batch \"survey\" (id 1): 2 rows deleted".to_string()
            ),
        ]
    );
}

#[test]
fn imports_from_before_batches_become_one_batch_per_wave() {
    // A database whose imports predate batches (migrations up to
    // fieldwork, with `_id`s unique per survey) gets one `before-batches`
    // batch per wave from the migration, with its rows counted, and that
    // batch can be replaced like any other; the rebuild of the responses
    // keeps their answers and flags.
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

    if support::postgres::server().is_some() {
        eprintln!(
            "skipped on PostgreSQL: its schema begins with batches (migrations/postgres has one \
             migration), so no PostgreSQL database ever held imports from before them"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("civicpulse.db");
    {
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        for _ in 0..4 {
            conn.run_next_migration(MIGRATIONS).unwrap();
        }
        // What a deployment of that time stored: the built-in v1.
        let survey = civicpulse::survey::builtin_earlier_versions().remove(0);
        diesel::sql_query(
            "INSERT INTO survey_versions (id, slug, version, definition, created_at) \
             VALUES (1, 'livability', 1, ?, '2025-01-01T00:00:00Z')",
        )
        .bind::<diesel::sql_types::Text, _>(survey.to_toml())
        .execute(&mut conn)
        .unwrap();
        conn.batch_execute(
            "INSERT INTO responses (id, survey_version_id, survey_slug, wave, lang, submitted_at, source,
                                    form_token, external_id, choice_codes)
             VALUES (1, 1, 'livability', 2024, 'zh', '2024-05-01T00:00:00Z', 'import', NULL, 'old1', x''),
                    (2, 1, 'livability', 2024, 'zh', '2024-05-01T00:00:00Z', 'import', NULL, 'old2', x''),
                    (3, 1, 'livability', 2025, 'zh', '2025-05-01T00:00:00Z', 'import', NULL, 'new1', x''),
                    (4, 1, 'livability', 2025, 'en', '2025-05-02T00:00:00Z', 'web', 'token', NULL, x'');
             INSERT INTO answers VALUES (1, 0, 'safety_night', '5'), (3, 0, 'safety_night', '4');
             INSERT INTO response_flags VALUES (4, 'burst');",
        )
        .unwrap();
    }
    // The database is behind: `import list`, which only reads, refuses it
    // until `civicpulse migrate` brings it up to date.
    assert!(refused(d, &["import", "list", "livability"]).contains("run `civicpulse migrate`"));
    let migrated = ok(d, &["migrate"]);
    // Every migration after the first four.
    let later = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count()
        - 4;
    assert!(
        migrated.contains(&format!("({later} change(s) applied now)")),
        "{migrated}"
    );
    let listed = batches(d);
    {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        let count = |conn: &mut SqliteConnection, table: &str| {
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(conn)
                .unwrap()
                .n
        };
        assert_eq!(count(&mut conn, "answers"), 2, "answers kept");
        assert_eq!(count(&mut conn, "response_flags"), 1, "flags kept");
    }
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(&listed[1][1..5], ["before-batches", "2024", "2", "no"]);
    assert_eq!(&listed[2][1..5], ["before-batches", "2025", "1", "no"]);
    assert_eq!(listed[1][6], "(migration)");
    assert_eq!(listed[1][7], "-");

    write_csv(d, "fixed-2024.csv", &["_id"], &[&["old1", "2"]]);
    let out = ok(
        d,
        &[
            "import",
            "replace",
            "livability",
            "before-batches",
            "fixed-2024.csv",
            "--wave",
            "2024",
        ],
    );
    assert!(out.contains("2 responses before, 1 now"), "{out}");
    assert_eq!(
        ids_and_waves(d),
        vec![("4".into(), 2025), ("new1".into(), 2025), ("old1".into(), 2024)]
    );
}
