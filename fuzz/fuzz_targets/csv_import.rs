//! The CSV importer's reading and checking of a whole file
//! (`import::check_csv`: the same `read_file` as `civicpulse import`, with
//! nothing stored before), against each built-in survey version and a
//! small survey with every question type, with and without `--wave`.
//!
//! Invariants: no panic; no error but the file's problems (no database is
//! involved); a refusal lists 1 to 200 problems and counts them all; an
//! accepted file has rows, all of one wave (the `--wave` given), unique
//! `_id`s, positive finite weights, a stratum in every row or in none,
//! each cluster label in one stratum unless nested, and answers that are
//! options of questions of the survey, text answers as stored.

#![no_main]

#[path = "common.rs"]
mod common;

use civicpulse::import::{check_csv, ImportError};
use civicpulse::survey::QuestionKind;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};

fuzz_target!(|data: &[u8]| {
    for survey in common::surveys() {
        for (wave, nest) in [(None, false), (Some(2026), true)] {
            let file = match check_csv(survey, "fuzz.csv", data, wave, nest) {
                Ok(file) => file,
                Err(ImportError::File(problems)) => {
                    assert!(!problems.problems.is_empty());
                    assert!(problems.problems.len() <= 200);
                    assert!(problems.total >= problems.problems.len());
                    assert!(problems.problems.iter().all(|p| p.row >= 1));
                    assert!(problems.to_string().starts_with("fuzz.csv: "));
                    continue;
                }
                Err(other) => panic!("not a problem of the file: {other}"),
            };
            assert!(!file.rows.is_empty(), "an accepted file without rows");
            if let Some(given) = wave {
                assert_eq!(file.wave, given);
            }
            let mut ids = HashSet::new();
            let mut clusters: HashMap<&str, &Option<String>> = HashMap::new();
            let with_stratum = file.rows[0].stratum.is_some();
            for row in &file.rows {
                assert_eq!(row.wave, file.wave, "two waves in one file");
                assert!(row.weight.is_finite() && row.weight > 0.0, "weight {}", row.weight);
                assert_eq!(row.stratum.is_some(), with_stratum, "strata in some rows only");
                if let Some(id) = &row.external_id {
                    assert!(!id.is_empty() && id.len() <= 128);
                    assert!(ids.insert(id.as_str()), "_id {id:?} twice");
                }
                if let (Some(label), false) = (&row.cluster, nest) {
                    let first = clusters.entry(label.as_str()).or_insert(&row.stratum);
                    assert_eq!(*first, &row.stratum, "cluster {label:?} in two strata");
                }
                assert_eq!(row.choice_codes.len(), survey.questions.len());
                for (question, value) in &row.answers {
                    let q = survey
                        .question(question)
                        .unwrap_or_else(|| panic!("an answer to {question:?}, not a question"));
                    match &q.kind {
                        QuestionKind::Text { max_length } => common::check_text(value, *max_length),
                        _ => assert!(q.option(value).is_some(), "{question}: {value:?} is not an option"),
                    }
                }
            }
        }
    }
});
