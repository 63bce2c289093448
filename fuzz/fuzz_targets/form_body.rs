//! The strict decoder of resident form bodies, as the submit handler runs
//! it: `web::form::parse_urlencoded`, then `Submitted::from_pairs` (hidden
//! fields apart from answers), then `Survey::validate` against each
//! built-in survey version and a small survey with every question type.
//!
//! Invariants: no panic; the decoder agrees with an independent strict
//! decoder of the format (`+` is a space, `%` is followed by exactly two
//! hex digits, the result must be UTF-8); accepted answers keep
//! `validate`'s promises; a body with a field that is neither hidden nor a
//! question of the survey is never accepted, nor one with two answers to a
//! shown one-answer question; a refusal names at most one unknown field,
//! cut to 64 characters.

#![no_main]

#[path = "common.rs"]
mod common;

use civicpulse::survey::{AnswerProblem, QuestionKind};
use civicpulse::web::form::{parse_urlencoded, FormDecodeError};
use civicpulse::web::{Submitted, HIDDEN_FIELDS};
use libfuzzer_sys::fuzz_target;

/// The format as specified, written without looking at the decoder.
fn reference_component(input: &[u8]) -> Result<String, FormDecodeError> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => out.push(b' '),
            b'%' => match rest {
                [h, l, tail @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let digit = |c: u8| (c as char).to_digit(16).expect("hex") as u8;
                    out.push(digit(*h) * 16 + digit(*l));
                    rest = tail;
                }
                _ => return Err(FormDecodeError::BadEscape),
            },
            b => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| FormDecodeError::InvalidUtf8)
}

fn reference(body: &[u8]) -> Result<Vec<(String, String)>, FormDecodeError> {
    let mut pairs = Vec::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        pairs.push((reference_component(key)?, reference_component(value)?));
    }
    Ok(pairs)
}

fuzz_target!(|body: &[u8]| {
    let decoded = parse_urlencoded(body);
    assert_eq!(
        decoded,
        reference(body),
        "the decoder and the format disagree on {body:?}"
    );
    let Ok(pairs) = decoded else {
        return;
    };
    let form = Submitted::from_pairs(&pairs);
    for survey in common::surveys() {
        match survey.validate(form.answers()) {
            Ok(answers) => {
                common::check_answers(survey, &answers);
                for (key, _) in &pairs {
                    assert!(
                        HIDDEN_FIELDS.contains(&key.as_str()) || survey.question(key).is_some(),
                        "{}: the unknown field {key:?} was accepted",
                        survey.slug
                    );
                }
                for question in &survey.questions {
                    let one_answer = !matches!(question.kind, QuestionKind::MultiChoice { .. });
                    let given = pairs
                        .iter()
                        .filter(|(k, v)| k == question.id.as_str() && !v.trim().is_empty())
                        .count();
                    assert!(
                        !(one_answer && given > 1 && survey.is_shown(question, &answers)),
                        "{}: {} answers to the one-answer question {} were accepted",
                        survey.slug,
                        given,
                        question.id
                    );
                }
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                let unknown: Vec<_> = errors
                    .iter()
                    .filter(|e| e.problem == AnswerProblem::UnknownQuestion)
                    .collect();
                assert!(unknown.len() <= 1, "{unknown:?}");
                assert!(unknown.iter().all(|e| e.question.chars().count() <= 64));
                for e in &errors {
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
});
