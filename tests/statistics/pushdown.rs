//! On PostgreSQL the indices come from sums the database adds up
//! (docs/statistics.md §4.6). They must be the figures of the row path on
//! the same database, and of SQLite on the same data, for every design
//! the pushdown covers.

use super::{livability_csv, MARGINS};
use crate::support::{civicpulse, civicpulse_on_url, database_url, postgres};
use civicpulse::analysis::{indices_by, parse_margins, parse_weight_bounds, Computation, IndexOptions, Weights};
use civicpulse::db::{raw_connection, DatabaseUrl};
use civicpulse::fieldwork::quality::parse_flags;
use diesel::connection::SimpleConnection;
use serde_json::Value;
use std::path::Path;

/// Largest relative difference allowed between the two computations.
/// The figures are the same functions of the same numbers; only the order
/// in which sums are added differs (PostgreSQL adds up a unit's
/// respondents in its own order, the engine in blocks of 256), and each
/// sum is within a few units of 1e-16 relative either way. SEs are
/// differences of such sums, which can lose up to three digits where a
/// domain's mean is close to a PSU's, hence 1e-12 and not 1e-15.
const TOLERANCE: f64 = 1e-12;

/// Where the figures differ, as `path: a vs b`.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            // Some figures have SE 0 up to rounding: a raked margin's
            // total (§4.2), a frame stratum's population. Both
            // computations give noise there (from differences of sums of
            // squares), so it has to be noise in both, and the figures
            // made from it (bounds, CV, deff) are not compared. An SE below
            // 1e-6 of its estimate is such noise: no real figure is that
            // precise from a sample of this size, or of a million.
            let noise = |o: &serde_json::Map<String, Value>| match (o.get("se"), o.get("estimate")) {
                (Some(Value::Number(se)), Some(Value::Number(v))) => {
                    se.as_f64().unwrap() <= 1e-6 * v.as_f64().unwrap().abs()
                }
                _ => false,
            };
            let skip_noise = noise(x) || noise(y);
            if skip_noise && !(noise(x) && noise(y)) {
                out.push(format!("{path}: se {:?} vs {:?}", x.get("se"), y.get("se")));
            }
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                // The largest remaining margin error after raking is
                // rounding, and so is which category has it.
                if matches!(k.as_str(), "max_margin_error" | "worst_category") {
                    continue;
                }
                if skip_noise
                    && matches!(
                        k.as_str(),
                        "se" | "ci_low" | "ci_high" | "cv" | "deff" | "low_precision"
                    )
                {
                    continue;
                }
                let p = format!("{path}.{k}");
                // A bound is estimate ± t·SE: near 0 (a share's Wald
                // interval) it keeps the absolute precision of the
                // estimate, not its own relative one (as §10 compares them).
                if let (true, Some(Value::Number(u)), Some(Value::Number(v)), Some(Value::Number(e))) = (
                    matches!(k.as_str(), "ci_low" | "ci_high"),
                    x.get(k),
                    y.get(k),
                    x.get("estimate"),
                ) {
                    let (u, v, e) = (u.as_f64().unwrap(), v.as_f64().unwrap(), e.as_f64().unwrap());
                    if (u - v).abs() > TOLERANCE * u.abs().max(v.abs()).max(e.abs()) {
                        out.push(format!("{p}: {u} vs {v} (estimate {e})"));
                    }
                    continue;
                }
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differences(u, v, &p, out),
                    (u, v) => out.push(format!("{p}: {u:?} vs {v:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: {} vs {} entries", x.len(), y.len()));
                return;
            }
            for (k, (u, v)) in x.iter().zip(y).enumerate() {
                differences(u, v, &format!("{path}[{k}]"), out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (u, v) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (u - v).abs() > TOLERANCE * u.abs().max(v.abs()) {
                out.push(format!(
                    "{path}: {u} vs {v} (relative {:.1e})",
                    (u - v).abs() / u.abs().max(v.abs())
                ));
            }
        }
        _ => {
            if a != b {
                out.push(format!("{path}: {a} vs {b}"));
            }
        }
    }
}

/// Runs `civicpulse ARGS` on one database: (success, stdout, stderr).
type Run<'a> = dyn Fn(&[&str]) -> (bool, String, String) + 'a;

/// The same waves in a database: 2026 the imported interviews (strata,
/// clusters, weights); 2027 the same without clusters (each respondent its
/// own PSU); 2028 the same as open-link answers with a sampling frame by
/// district (frame weights, strata from the answers). One in ten
/// respondents is flagged a straightliner.
fn waves(dir: &Path, url: &DatabaseUrl, on: &Run<'_>) {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    for wave in ["2026", "2027", "2028"] {
        let (ok, _, stderr) = on(&["import", "livability", &file("interviews.csv"), "--wave", wave]);
        assert!(ok, "{stderr}");
    }
    let mut conn = raw_connection(url).unwrap();
    conn.batch_execute(
        "UPDATE responses SET cluster = NULL WHERE wave = 2027;
         UPDATE responses SET source = 'web', weight = 1, stratum = NULL, cluster = NULL, import_batch_id = NULL
             WHERE wave = 2028;
         INSERT INTO response_flags (response_id, flag)
             SELECT id, 'straightliner' FROM responses WHERE external_id LIKE '%3';",
    )
    .unwrap();
    drop(conn);
    std::fs::write(
        dir.join("frame.csv"),
        "stratum,population\nhuancui,620000\nwendeng,480000\nrongcheng,560000\nrushan,430000\n\
         gaoqu,190000\njingqu,240000\nlingang,110000\n",
    )
    .unwrap();
    let (ok, _, stderr) = on(&["frame", "set", "livability", &file("frame.csv"), "--wave", "2028"]);
    assert!(ok, "{stderr}");
}

#[test]
fn pushdown_equals_rows() {
    if postgres::server().is_none() {
        eprintln!("pushdown_equals_rows: the PostgreSQL half compares PostgreSQL's sums with the rows");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("interviews.csv"), livability_csv()).unwrap();
    let pg = database_url(path);
    waves(path, &pg, &|args| civicpulse(path, args));
    let sqlite = DatabaseUrl::Sqlite(path.join("copy.db"));
    let key = path.join("civicpulse.key");
    waves(path, &sqlite, &|args| civicpulse_on_url(&sqlite, &key, args));

    let (pg_db, pg_registry) = civicpulse::registry::open_read(&pg).unwrap();
    let (sqlite_db, sqlite_registry) = civicpulse::registry::open_read(&sqlite).unwrap();
    let margins = parse_margins("margins.csv", MARGINS.as_bytes()).unwrap();
    let mut cases = 0;
    for wave in [2026, 2027, 2028] {
        for (weights, bounds) in [
            (Weights::None, None),
            (Weights::Design, None),
            (Weights::Raked, None),
            (Weights::Raked, Some("0.5,2")),
        ] {
            for by in [None, Some("district"), Some("district,sex")] {
                for exclude in ["", "straightliner"] {
                    let options = IndexOptions {
                        wave: Some(wave),
                        by: by.map(str::to_string),
                        weights,
                        margins: (weights == Weights::Raked).then(|| margins.clone()),
                        weight_bounds: bounds.map(|b| parse_weight_bounds(b).unwrap()),
                        exclude_flagged: parse_flags(exclude).unwrap(),
                        min_cell: 5,
                        // Half the cases, to keep the test under a few minutes.
                        distributions: !exclude.is_empty(),
                        ..IndexOptions::default()
                    };
                    let what = format!("wave {wave}, {weights:?} {bounds:?}, by {by:?}, excluding {exclude:?}");
                    let sums = indices_by(&pg_db, &pg_registry, "livability", &options, Computation::Sums)
                        .unwrap_or_else(|e| panic!("{what}: sums: {e}"));
                    let rows = indices_by(&pg_db, &pg_registry, "livability", &options, Computation::Rows)
                        .unwrap_or_else(|e| panic!("{what}: rows: {e}"));
                    let on_sqlite = indices_by(&sqlite_db, &sqlite_registry, "livability", &options, Computation::Auto)
                        .unwrap_or_else(|e| panic!("{what}: SQLite: {e}"));
                    let sums = serde_json::to_value(&sums).unwrap();
                    assert!(sums["rows"].as_array().unwrap().len() > 20, "{what}");
                    for (other, name) in [(rows, "PostgreSQL's rows"), (on_sqlite, "SQLite")] {
                        let mut found = Vec::new();
                        differences(&sums, &serde_json::to_value(&other).unwrap(), "", &mut found);
                        assert!(
                            found.is_empty(),
                            "{what}: the sums differ from {name} in {} places:\n{}",
                            found.len(),
                            found[..found.len().min(20)].join("\n")
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 4 * 3 * 2);
}

/// The bootstrap cannot come from the sums (a replicate resamples PSUs):
/// asking for them is an error, and the default reads the rows.
#[test]
fn the_bootstrap_reads_the_rows() {
    if postgres::server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("interviews.csv"), livability_csv()).unwrap();
    let (ok, _, stderr) = civicpulse(path, &["import", "livability", "interviews.csv", "--wave", "2026"]);
    assert!(ok, "{stderr}");
    let (db, registry) = civicpulse::registry::open_read(&database_url(path)).unwrap();
    let options = IndexOptions {
        variance: civicpulse::analysis::Variance::Bootstrap {
            replicates: 20,
            seed: 7,
        },
        ..IndexOptions::default()
    };
    assert!(indices_by(&db, &registry, "livability", &options, Computation::Sums).is_err());
    let auto = indices_by(&db, &registry, "livability", &options, Computation::Auto).unwrap();
    let rows = indices_by(&db, &registry, "livability", &options, Computation::Rows).unwrap();
    assert_eq!(auto.rows, rows.rows);
}
