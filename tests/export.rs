//! `civicpulse export` for analysts, through the real binary: the design
//! columns and data-quality flags of the wide CSV, an export that imports
//! back to the same figures, `load.R` reproducing the overall index in R's
//! `survey` package, `load.do` as text (there is no Stata here), the zip
//! the dashboard serves, and an export whose memory does not grow with the
//! number of responses; on SQLite and (the PostgreSQL half, see
//! `support::postgres`) on PostgreSQL.

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use support::civicpulse;

fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let (ok, stdout, stderr) = civicpulse(dir, args);
    assert!(ok, "{args:?} failed: {stderr}");
    (stdout, stderr)
}

#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("export");
}

const STRATA: [&str; 3] = ["east", "west", "north"];

/// An interview file for the built-in survey: `_id`, `_weight`, `_stratum`,
/// `_cluster` (four clusters per stratum, labels unique across strata) and
/// every question but the text ones, 6% "don't know", one straight-liner in
/// every 50 rows; returns the file and each row's (weight, stratum, cluster).
fn designed_sample(rows: usize, seed: u64, id_prefix: &str) -> (String, Vec<(f64, String, String)>) {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let questions: Vec<_> = survey
        .questions
        .iter()
        .filter(|q| q.kind.type_name() != "text")
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut csv = String::from("_id,_weight,_stratum,_cluster");
    for q in &questions {
        csv.push(',');
        csv.push_str(q.id.as_str());
    }
    csv.push('\n');
    let mut design = Vec::new();
    for i in 0..rows {
        let s = i % STRATA.len();
        let stratum = STRATA[s];
        let cluster = format!("{stratum}-{}", rng.random_range(1..=4));
        let weight: f64 = format!("{:.4}", rng.random_range(40.0..160.0) * (s + 1) as f64)
            .parse()
            .unwrap();
        let straight = i % 50 == 7;
        let base: f64 = 55.0 + 6.0 * s as f64;
        csv.push_str(&format!("{id_prefix}{i},{weight},{stratum},{cluster}"));
        let mut foreign = false;
        for q in &questions {
            let options = q.kind.options();
            let value = match (q.id.as_str(), q.kind.type_name()) {
                ("foreign_services", _) if !foreign => String::new(),
                (_, "likert") if straight => "3".to_string(),
                (_, "likert") if rng.random_bool(0.06) => "dk".to_string(),
                (_, "likert") => {
                    let latent = base + rng.random_range(-40.0..40.0);
                    (1 + (latent / 25.0).round().clamp(0.0, 4.0) as usize).to_string()
                }
                _ => options[rng.random_range(0..options.len())].value.to_string(),
            };
            if q.id.as_str() == "resident_type" {
                foreign = value == "foreign";
            }
            csv.push(',');
            csv.push_str(&value);
        }
        csv.push('\n');
        design.push((weight, stratum.to_string(), cluster));
    }
    (csv, design)
}

/// The overall row of `civicpulse indices` (JSON) for a wave.
fn overall(dir: &Path, wave: &str) -> Value {
    let (json, _) = ok(dir, &["indices", "livability", "--wave", wave, "--format", "json"]);
    let report: Value = serde_json::from_str(&json).unwrap();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "overall" && r["group"].is_null())
        .expect("an overall row")
        .clone()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header.iter().cloned().zip(r.iter().map(String::from)).collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn the_export_carries_the_design_imports_back_and_r_reproduces_the_overall_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sample, design) = designed_sample(600, 20260501, "r");
    std::fs::write(d.join("interviews.csv"), &sample).unwrap();
    ok(d, &["import", "livability", "interviews.csv", "--wave", "2026"]);
    // Another wave, which `--wave 2026` leaves out.
    let (earlier, _) = designed_sample(40, 7, "e");
    std::fs::write(d.join("earlier.csv"), &earlier).unwrap();
    ok(d, &["import", "livability", "earlier.csv", "--wave", "2025"]);

    let (_, stderr) = ok(
        d,
        &["export", "livability", "--out", "out", "--wave", "2026", "--lang", "en"],
    );
    assert!(stderr.contains("exported 600 responses"), "{stderr}");
    let out = d.join("out");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "codebook.json",
            "codebook.md",
            "load.R",
            "load.do",
            "responses-labelled.csv",
            "responses.csv"
        ]
    );

    // The design columns after the response's own, then one 0/1 column per flag.
    let (header, rows) = read_csv(&out.join("responses.csv"));
    assert_eq!(header[..12], civicpulse::export::CSV_META_COLUMNS.map(String::from));
    assert_eq!(
        &header[5..12],
        [
            "_weight",
            "_stratum",
            "_cluster",
            "_source",
            "_flag_speeder",
            "_flag_straightliner",
            "_flag_burst"
        ]
    );
    assert_eq!(rows.len(), 600);
    let mut straightliners = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["_id"], format!("r{i}"), "rows in the order they were imported");
        assert_eq!(row["_wave"], "2026");
        let (weight, stratum, cluster) = &design[i];
        assert_eq!(row["_weight"].parse::<f64>().unwrap(), *weight, "row {i}");
        assert_eq!((&row["_stratum"], &row["_cluster"]), (stratum, cluster));
        assert_eq!(row["_source"], "import:interviews");
        assert_eq!(row["_flag_speeder"], "0", "an interview has no completion time");
        assert_eq!(row["_flag_burst"], "0");
        let straight = i % 50 == 7;
        assert_eq!(row["_flag_straightliner"], if straight { "1" } else { "0" }, "row {i}");
        straightliners += usize::from(straight);
    }
    assert_eq!(straightliners, 12);
    // The labelled CSV has the same design columns.
    let (labelled_header, labelled) = read_csv(&out.join("responses-labelled.csv"));
    assert_eq!(labelled_header, header);
    assert_eq!(labelled[3]["_weight"], rows[3]["_weight"]);
    assert_eq!(
        labelled[3]["safety_night"].is_empty(),
        rows[3]["safety_night"].is_empty()
    );

    // The codebook says what each design column means.
    let book: Value = serde_json::from_str(&std::fs::read_to_string(out.join("codebook.json")).unwrap()).unwrap();
    let meaning = |column: &str| {
        book["reserved_columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == column)
            .map(|c| c["meaning"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(meaning("_weight").contains("N_h / r_h"));
    assert!(meaning("_source").contains("import:BATCH"));
    assert!(meaning("_flag_speeder").contains("median"));

    // The export imports back into another database, as the same design:
    // `_source` and the flags are accepted and ignored; the figures agree.
    let ours = overall(d, "2026");
    let again = tempfile::tempdir().unwrap();
    std::fs::copy(out.join("responses.csv"), again.path().join("back.csv")).unwrap();
    let (said, _) = ok(again.path(), &["import", "livability", "back.csv"]);
    assert!(
        said.contains("imported 600 responses into livability wave 2026"),
        "{said}"
    );
    let back = overall(again.path(), "2026");
    for field in ["estimate", "se", "ci_low", "ci_high", "n", "df"] {
        let (a, b) = (ours[field].as_f64().unwrap(), back[field].as_f64().unwrap());
        assert!((a - b).abs() < 1e-12, "{field}: {a} against {b} after the round trip");
    }
    // Only the listed columns are ignored.
    let bogus = std::fs::read_to_string(out.join("responses.csv"))
        .unwrap()
        .replacen("_flag_burst", "_flag_bogus", 1);
    std::fs::write(again.path().join("bogus.csv"), bogus).unwrap();
    let (refused, _, stderr) = civicpulse(again.path(), &["import", "livability", "bogus.csv", "--wave", "2027"]);
    assert!(!refused);
    assert!(
        stderr.contains("column \"_flag_bogus\": not a question of survey \"livability\"")
            && stderr.contains(
                "_version, _source, _flag_speeder, _flag_straightliner, _flag_burst are accepted and ignored"
            ),
        "{stderr}"
    );

    // load.do: Stata is not available here, so its text is checked.
    let stata = std::fs::read_to_string(out.join("load.do")).unwrap();
    assert!(stata.contains("import delimited using \"responses.csv\", varnames(1) case(preserve) encoding(\"utf-8\")"));
    assert!(stata.contains("svyset _psu [pweight = _weight], strata(_str)"));
    assert!(stata.contains("egen long _psu = group(_stratum _cluster), missing"));
    assert!(stata.contains("svy, subpop(_answered): mean _overall"));
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    for q in survey
        .questions
        .iter()
        .filter(|q| matches!(q.kind.type_name(), "single_choice" | "likert" | "rating"))
    {
        let id = q.id.as_str();
        let first = q.kind.options()[0].label.get(civicpulse::lang::Lang::En);
        assert!(
            stata.contains(&format!("label define {id} 1 `\"{first}\"'")),
            "no value labels for {id}"
        );
        assert!(stata.contains(&format!("label values {id} {id}")));
    }

    // load.R in R's survey package: the overall index, its SE and CI as ours.
    let r = std::fs::read_to_string(out.join("load.R")).unwrap();
    assert!(
        r.contains("svydesign(ids = ~`_cluster`, strata = ~`_stratum`, weights = ~`_weight`, nest = TRUE, data = d)")
    );
    assert!(r.contains("wave <- 2026L"));
    if !support::r_available("the_export_carries_the_design_imports_back_and_r_reproduces_the_overall_index") {
        return;
    }
    let printed = support::run_load_r(&out);
    for field in ["estimate", "se", "ci_low", "ci_high", "n", "df"] {
        let (theirs, ours) = (printed[field], ours[field].as_f64().unwrap());
        println!(
            "load.R {field}: R {theirs:.15} civicpulse {ours:.15} difference {:.1e}",
            (theirs - ours).abs()
        );
        assert!((theirs - ours).abs() < 1e-8, "{field}: R {theirs}, civicpulse {ours}");
    }
}

#[test]
fn the_zip_holds_the_files_of_the_folder_export_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sample, _) = designed_sample(120, 3, "z");
    // A text answer that looks like a formula, neutralised in both.
    let sample = sample.replacen("_cluster,", "_cluster,suggestions,", 1);
    let sample: String = sample
        .lines()
        .enumerate()
        .map(|(i, line)| match i {
            0 => line.to_string(),
            1 => {
                let (id, rest) = line.split_once(',').unwrap();
                let (w, rest) = rest.split_once(',').unwrap();
                let (s, rest) = rest.split_once(',').unwrap();
                let (c, rest) = rest.split_once(',').unwrap();
                format!("{id},{w},{s},{c},\"=HYPERLINK(\"\"http://x\"\")\",{rest}")
            }
            _ => {
                let mut cells: Vec<&str> = line.splitn(5, ',').collect();
                cells.insert(4, "");
                cells.join(",")
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(d.join("z.csv"), &sample).unwrap();
    ok(d, &["import", "livability", "z.csv", "--wave", "2026"]);
    ok(
        d,
        &["export", "livability", "--out", "out", "--wave", "2026", "--lang", "ko"],
    );

    let url = support::database_url(d);
    let (db, registry) = civicpulse::registry::open(&url, None).unwrap();
    let mut zipped = std::io::Cursor::new(Vec::new());
    let n = civicpulse::export::export_zip(
        &db,
        &registry,
        "livability",
        Some(2026),
        civicpulse::lang::Lang::Ko,
        &mut zipped,
    )
    .unwrap();
    assert_eq!(n, 120);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.into_inner())).unwrap();
    let names: Vec<String> = archive.file_names().map(String::from).collect();
    assert_eq!(names, civicpulse::export::EXPORT_FILES.map(String::from));
    for name in civicpulse::export::EXPORT_FILES {
        let mut entry = archive.by_name(name).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let on_disk = std::fs::read(d.join("out").join(name)).unwrap();
        assert!(bytes == on_disk, "{name} differs between the zip and export --out");
    }
    let csv = std::fs::read_to_string(d.join("out/responses.csv")).unwrap();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "the formula is neutralised"
    );

    // An unknown wave is a clear error, for the zip as for the command.
    let error = civicpulse::export::export_zip(
        &db,
        &registry,
        "livability",
        Some(1999),
        civicpulse::lang::Lang::Zh,
        &mut std::io::Cursor::new(Vec::new()),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "survey \"livability\" has no responses in wave 1999; its waves with responses: 2026"
    );
    let (refused, _, stderr) = civicpulse(d, &["export", "livability", "--out", "x", "--wave", "1999"]);
    assert!(!refused && stderr.contains("has no responses in wave 1999"), "{stderr}");
}

/// Copies the responses of wave 2026 of the database of `dir` (and their
/// answers) until the wave holds `total`, inside the database: importing a
/// hundred thousand rows through an unoptimised test binary would take
/// minutes, and the export under test reads only what is stored. The SQL
/// is the same on SQLite and PostgreSQL.
fn grow_wave(dir: &Path, total: usize) {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Scalar {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = civicpulse::db::raw_connection(&support::database_url(dir)).unwrap();
    let mut scalar = |query: &str| -> i64 {
        diesel::sql_query(format!("SELECT CAST(({query}) AS BIGINT) AS n"))
            .get_result::<Scalar>(&mut conn)
            .unwrap()
            .n
    };
    let low = scalar("SELECT min(id) FROM responses WHERE wave = 2026");
    let high = scalar("SELECT max(id) FROM responses WHERE wave = 2026");
    let n = scalar("SELECT count(*) FROM responses WHERE wave = 2026");
    assert_eq!(high - low + 1, n, "the seed responses are numbered without gaps");
    let copies = total as i64 / n;
    assert_eq!(copies * n, total as i64);
    conn.batch_execute(&format!(
        "BEGIN;
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {last})
         INSERT INTO responses (id, survey_version_id, survey_slug, wave, lang, submitted_at, source, form_token,
                                external_id, weight, stratum, cluster, choice_codes, duration_seconds, import_batch_id)
         SELECT r.id + k.i * {n}, r.survey_version_id, r.survey_slug, r.wave, r.lang, r.submitted_at, r.source, NULL,
                r.external_id || '-' || CAST(k.i AS TEXT), r.weight, r.stratum, r.cluster, r.choice_codes,
                r.duration_seconds, r.import_batch_id
         FROM responses r, k WHERE r.wave = 2026 AND r.id BETWEEN {low} AND {high} ORDER BY k.i, r.id;
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {last})
         INSERT INTO answers (response_id, position, question_id, value)
         SELECT a.response_id + k.i * {n}, a.position, a.question_id, a.value
         FROM answers a, k WHERE a.response_id BETWEEN {low} AND {high} ORDER BY k.i, a.response_id, a.position;
         COMMIT;",
        last = copies - 1,
    ))
    .unwrap();
}

/// Runs `civicpulse ARGS` in `dir` and returns its peak resident memory in
/// KiB (VmHWM, read from /proc while it runs; it only grows, so the last
/// reading is the peak) and its standard error.
fn peak_kib(dir: &Path, args: &[&str]) -> (u64, String) {
    let mut child = support::command(dir, args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        }) {
            peak = peak.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(child.wait().unwrap().success(), "{args:?}: {stderr}");
    (peak, stderr)
}

#[test]
fn exporting_five_times_the_responses_takes_no_more_memory() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read the peak memory from");
        return;
    }
    let mut peaks = Vec::new();
    for total in [20_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (sample, _) = designed_sample(500, 11, "m");
        std::fs::write(d.join("m.csv"), &sample).unwrap();
        ok(d, &["import", "livability", "m.csv", "--wave", "2026"]);
        grow_wave(d, total);
        let (peak, stderr) = peak_kib(d, &["export", "livability", "--out", "out", "--lang", "en"]);
        assert!(stderr.contains(&format!("exported {total} responses")), "{stderr}");
        let lines = std::fs::read_to_string(d.join("out/responses.csv"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, total + 1);
        println!(
            "export --out of {total} responses: peak resident memory {:.1} MiB",
            peak as f64 / 1024.0
        );
        peaks.push(peak);
    }
    // Holding the responses would add over a hundred MiB for 80,000 more
    // of them (each has some thirty answers); streaming adds nothing but
    // noise, which on a loaded two-core machine (the suite's PostgreSQL
    // half runs beside it) reaches about 10 MiB: the reader thread's
    // allocations land in other malloc arenas depending on timing.
    assert!(
        peaks[1] < peaks[0] + 16 * 1024,
        "peak memory grew from {} KiB to {} KiB with five times the responses",
        peaks[0],
        peaks[1]
    );
}
