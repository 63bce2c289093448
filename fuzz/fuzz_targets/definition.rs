//! The survey definition parser and validator (`Survey::from_toml`, what
//! `survey-defs/*.toml`, `--definitions DIR` and the designer's pages load).
//!
//! Invariants: no panic; an error names its source; a definition that
//! passes re-exports (`to_toml`) to a file that parses to an equal survey
//! and exports to the same text again; it is complete in every language;
//! it passes the version rules against itself; answers checked against it
//! keep `validate`'s promises.

#![no_main]

#[path = "common.rs"]
mod common;

use civicpulse::survey::{translations, versioning, AnswerProblem, DefinitionError, QuestionKind, RawAnswers, Survey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let survey = match Survey::from_toml("fuzz.toml", text) {
        Ok(survey) => survey,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzz.toml: "), "{e}");
            if let DefinitionError::Invalid { issues, .. } = &e {
                assert!(!issues.is_empty());
            }
            return;
        }
    };

    let exported = survey.to_toml();
    let again = Survey::from_toml("exported.toml", &exported)
        .unwrap_or_else(|e| panic!("the export of a valid definition is refused: {e}\n{exported}"));
    assert_eq!(again, survey, "the export parses to another survey:\n{exported}");
    assert_eq!(again.to_toml(), exported, "exporting twice differs");

    for c in translations::completeness(&translations::slots(survey.raw())) {
        assert!(
            c.is_complete(),
            "a valid survey misses {:?} texts: {:?}",
            c.lang,
            c.missing
        );
    }
    assert_eq!(versioning::check(&[&survey], survey.raw()), []);
    serde_json::to_string(&survey.view()).expect("the JSON view");

    // No answers: only `Required` problems.
    if let Err(errors) = survey.validate(&RawAnswers::default()) {
        assert!(
            errors.iter().all(|e| e.problem == AnswerProblem::Required),
            "{errors:?}"
        );
    }
    // Every question answered with its first option (or a one-letter text):
    // accepted.
    let mut raw = RawAnswers::default();
    for q in &survey.questions {
        match &q.kind {
            QuestionKind::Text { .. } => raw.push(q.id.as_str(), "x"),
            kind => {
                if let Some(first) = kind.options().first() {
                    raw.push(q.id.as_str(), first.value.as_str());
                }
            }
        }
    }
    match survey.validate(&raw) {
        Ok(answers) => common::check_answers(&survey, &answers),
        Err(errors) => panic!("first options refused: {errors:?}"),
    }
});
